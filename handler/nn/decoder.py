"""Node decoders: GraphStorm's ``EntityClassifier`` and ``EntityRegression``.

Both are ``inputs @ decoder (+ bias)``; the real-time path returns ``predict_proba``:
softmax over classes, sigmoid for multi-label or single-output (focal loss) classifiers, and
the raw value for regression.
"""

from __future__ import annotations

import torch
from torch import nn

from handler.contract.names import NODE_REGRESSION


class NodeDecoder(nn.Module):
    """A linear node decoder with GraphStorm's parameter names (``decoder``, ``bias``).

    Args:
        in_dim: embedding size.
        out_dim: number of classes, or regression output size.
        kind: ``"softmax"`` (single-label classification), ``"sigmoid"`` (multi-label or
            one-output classification) or ``"identity"`` (regression).
        use_bias: whether the decoder has a bias.
    """

    def __init__(self, in_dim: int, out_dim: int, kind: str, use_bias: bool = True) -> None:
        super().__init__()
        if kind not in ("softmax", "sigmoid", "identity"):
            raise ValueError(f"unknown decoder kind {kind!r}")
        self.kind = kind
        self.decoder = nn.Parameter(torch.empty(in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(out_dim)) if use_bias else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Prediction scores as GraphStorm's ``predict_proba``.

        Args:
            h: node embeddings.

        Returns:
            Probabilities (classification) or values (regression).

        Shapes:
            h: [n, in_dim] -> [n, out_dim].
        """
        logits = h @ self.decoder
        if self.bias is not None:
            logits = logits + self.bias
        if self.kind == "softmax":
            return torch.softmax(logits, dim=1)
        if self.kind == "sigmoid":
            return torch.sigmoid(logits)
        return logits


def decoder_kind(task_type: str, num_classes: int, multilabel: bool) -> str:
    """The output function GraphStorm's decoder applies in ``predict_proba``."""
    if task_type == NODE_REGRESSION:
        return "identity"
    return "sigmoid" if multilabel or num_classes == 1 else "softmax"
