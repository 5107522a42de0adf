"""The model's head: what turns node embeddings into the predictions of a target kind.

``NodeHead``: GraphStorm's node decoder (``GSgnnNodeModel``), one per target node type or one
shared; ``predict_proba`` of the target nodes. ``EdgeHead``: the edge decoder of
``GSgnnEdgeModel`` (``predict_proba`` of the EC / ER decoder) or of
``GSgnnLinkPredictionModel`` (the raw score ``calc_test_scores`` ranks, after
``normalize_node_embs``) over (source, destination) pairs of a target relation.

A head reads the positions ``handler.contract.targets`` defines: ``(nodes,)`` or ``(sources,
destinations)`` index tensors per output key. The decoder's parameters live in the model's
``decoder`` module (``model.bin``'s ``decoder`` state dict); a head holds none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from handler.contract.edge_task_config import EdgeTaskConfig
from handler.contract.model_config import ModelConfig
from handler.contract.names import NODE_REGRESSION, CanonicalEtype
from handler.contract.targets import TargetKey
from handler.nn.decoder import NodeDecoder, decoder_kind
from handler.nn.edge_decoder import build_edge_decoder
from handler.nn.lp_decoder import build_lp_decoder, normalize_embeddings


class NodeHead:
    """Node decoders: the key is a target node type, the position tensors ``(nodes,)``."""

    def score(self, decoder: nn.Module, h: Mapping[str, torch.Tensor], key: TargetKey,
              positions: Sequence[torch.Tensor]) -> torch.Tensor:
        """``predict_proba`` (or the regression value) of the nodes.

        Shapes:
            positions: ([k],) -> [k, out_dim].
        """
        if not isinstance(key, str):
            raise ValueError(f"a node model predicts node types, not {key}")
        if isinstance(decoder, nn.ModuleDict):
            if key not in decoder:
                raise ValueError(f"the model has no decoder for node type {key!r}")
            decoder = decoder[key]
        (nodes,) = positions
        return decoder(h[key].index_select(0, nodes))


class EdgeHead:
    """Edge decoders: the key is a target relation, the position tensors ``(sources, destinations)``.

    Args:
        edge_task: the model's edge-task config (target relations, LP normalisation).
    """

    def __init__(self, edge_task: EdgeTaskConfig) -> None:
        self.edge_task = edge_task

    def score(self, decoder: nn.Module, h: Mapping[str, torch.Tensor], key: TargetKey,
              positions: Sequence[torch.Tensor]) -> torch.Tensor:
        """EC probabilities, ER values or LP raw scores of the pairs.

        Shapes:
            positions: ([k], [k]) -> [k, out_dim] (LP: [k, 1]).
        """
        if key not in self.edge_task.target_etypes or isinstance(key, str):
            raise ValueError(f"the model does not predict edges of type {key}")
        src, dst = positions
        h_src = h[key[0]].index_select(0, src)
        h_dst = h[key[2]].index_select(0, dst)
        if self.edge_task.is_link_prediction:
            # normalize_node_embs is row-wise: normalising the selected rows is the same.
            norm = self.edge_task.lp_embed_normalizer
            return decoder(normalize_embeddings(h_src, norm), normalize_embeddings(h_dst, norm), key).unsqueeze(1)
        return decoder(h_src, h_dst)


Head = NodeHead | EdgeHead


def build_head(config: ModelConfig, canonical_etypes: Sequence[CanonicalEtype]) -> tuple[nn.Module, Head]:
    """The decoder GraphStorm builds for ``config`` (``create_builtin_node_decoder``,
    ``create_builtin_edge_decoder``, ``create_builtin_lp_decoder``) and the head that applies it.

    Args:
        config: the model config.
        canonical_etypes: relations of the graph (LP relation embeddings).

    Returns:
        The decoder (parameters uninitialised) and the head.
    """
    edge_task = config.edge_task
    if edge_task is None:
        return _node_decoder(config), NodeHead()
    if edge_task.is_link_prediction:
        decoder = build_lp_decoder(edge_task, config.out_emb_size, canonical_etypes)
    else:
        decoder = build_edge_decoder(edge_task, config.out_emb_size, config.decoder_bias)
    return decoder, EdgeHead(edge_task)


def _node_decoder(config: ModelConfig) -> nn.Module:
    """GraphStorm's ``create_builtin_node_decoder`` (focal loss: one sigmoid output)."""
    def make(ntype: str) -> NodeDecoder:
        if config.task_type == NODE_REGRESSION:
            return NodeDecoder(config.out_emb_size, 1, "identity", config.decoder_bias)
        classes = 1 if config.focal_loss else config.num_classes[ntype]
        kind = decoder_kind(config.task_type, classes, config.multilabel[ntype])
        return NodeDecoder(config.out_emb_size, classes, kind, config.decoder_bias)

    if config.decoder_per_ntype:
        return nn.ModuleDict({nt: make(nt) for nt in config.target_ntypes})
    return make(config.target_ntypes[0])
