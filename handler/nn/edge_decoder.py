"""Edge classification / regression decoders: GraphStorm's ``DenseBiDecoder`` and ``MLPEdgeDecoder``
(``graphstorm/model/edge_decoder.py``, 0.5.1; ``MLPEFeatEdgeDecoder`` is refused by the config).

Each scores (source, destination) embedding pairs and returns ``predict_proba``: softmax over
classes, sigmoid for multi-label or one-output (focal loss) classifiers, the value for
regression. Parameter names equal GraphStorm's, so ``model.bin``'s ``decoder`` loads strictly.
"""

from __future__ import annotations

import torch
from torch import nn

from handler.contract.edge_task_config import EdgeTaskConfig
from handler.nn.ngnn_mlp import NGNNMLP


def _proba(logits: torch.Tensor, regression: bool, multilabel: bool) -> torch.Tensor:
    """GraphStorm's edge ``predict_proba`` output function (regression heads run before)."""
    if regression:
        return logits
    if multilabel or logits.shape[1] == 1:
        return torch.sigmoid(logits)
    return torch.softmax(logits, 1)


class DenseBiDecoder(nn.Module):
    """GCMC's dense bilinear decoder: ``combine_basis(u^T B_b v for every basis b)``.

    Args:
        in_units: embedding size of both endpoints.
        num_classes: classes (classification; 1 with focal loss).
        multilabel: multi-label classification.
        num_basis: bilinear bases.
        regression: regression (the bases combine to ``in_units`` values, then one output).
        use_bias: bias of ``combine_basis``.
    """

    def __init__(self, in_units: int, num_classes: int, multilabel: bool, num_basis: int = 2,
                 regression: bool = False, use_bias: bool = True) -> None:
        super().__init__()
        self.regression = regression
        self.multilabel = multilabel
        self.basis_para = nn.Parameter(torch.empty(num_basis, in_units, in_units))
        self.combine_basis = nn.Linear(num_basis, in_units if regression else num_classes, bias=use_bias)
        if regression:
            self.regression_head = nn.Linear(in_units, 1, bias=True)

    def forward(self, h_src: torch.Tensor, h_dst: torch.Tensor) -> torch.Tensor:
        """``predict_proba`` of the pairs.

        Args:
            h_src: source embeddings of the pairs.
            h_dst: destination embeddings of the pairs.

        Returns:
            Probabilities or regression values.

        Shapes:
            h_src, h_dst: [k, in_units] -> [k, num_classes] (or [k, 1]).
        """
        out = torch.einsum("ai,bij,aj->ab", h_src, self.basis_para, h_dst)
        out = self.combine_basis(out)
        if self.regression:
            out = self.regression_head(out)
        return _proba(out, self.regression, self.multilabel)


class MLPEdgeDecoder(nn.Module):
    """``[h_src | h_dst] (-> feed-forward layers) @ decoder + bias`` (GraphStorm ``MLPDecoder``).

    Args:
        h_dim: embedding size of both endpoints.
        out_dim: classes (classification; 1 with focal loss).
        multilabel: multi-label classification.
        regression: regression (``h_dim`` hidden outputs, then ``regression_head``).
        num_ffn_layers: feed-forward layers on the concatenation.
        use_bias: decoder bias.
    """

    def __init__(self, h_dim: int, out_dim: int, multilabel: bool, regression: bool = False,
                 num_ffn_layers: int = 0, use_bias: bool = True) -> None:
        super().__init__()
        self.regression = regression
        self.multilabel = multilabel
        out_dim = h_dim if regression else out_dim
        self.ngnn_mlp = NGNNMLP(h_dim * 2, num_ffn_layers)
        self.decoder = nn.Parameter(torch.empty(h_dim * 2, out_dim))
        self.bias = nn.Parameter(torch.empty(out_dim)) if use_bias else None
        if regression:
            self.regression_head = nn.Linear(out_dim, 1, bias=True)

    def forward(self, h_src: torch.Tensor, h_dst: torch.Tensor) -> torch.Tensor:
        """``predict_proba`` of the pairs.

        Shapes:
            h_src, h_dst: [k, h_dim] -> [k, out_dim] (or [k, 1]).
        """
        out = self.ngnn_mlp(torch.cat([h_src, h_dst], dim=1)) @ self.decoder
        if self.bias is not None:
            out = out + self.bias
        if self.regression:
            out = self.regression_head(out)
        return _proba(out, self.regression, self.multilabel)


def build_edge_decoder(edge_task: EdgeTaskConfig, in_dim: int, use_bias: bool) -> nn.Module:
    """GraphStorm's ``create_builtin_edge_decoder`` for inference.

    Args:
        edge_task: the edge-task config (classification or regression).
        in_dim: encoder output size.
        use_bias: ``decoder_bias``.

    Returns:
        The decoder (parameters uninitialised).
    """
    regression = edge_task.is_regression
    out_dim = 1 if regression or edge_task.focal_loss else edge_task.num_classes
    multilabel = edge_task.multilabel and not regression
    if edge_task.decoder_type == "DenseBiDecoder":
        return DenseBiDecoder(in_dim, out_dim, multilabel, edge_task.num_decoder_basis, regression, use_bias)
    return MLPEdgeDecoder(in_dim, out_dim, multilabel, regression, edge_task.num_ffn_layers_in_decoder, use_bias)
