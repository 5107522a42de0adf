"""Link-prediction score functions: GraphStorm's LP decoders' positive scores (0.5.1).

The real-time prediction for a candidate edge is the score GraphStorm's LP evaluation ranks:
``decoder.calc_test_scores(emb, ...)``'s positive scores (``graphstorm/eval/utils.py``
``calc_*_pos_score``), a raw score, not a probability. The contrastive and edge-weighted
variants of each decoder score the same way (they differ in training only).

Per-relation parameters (``_w_relation``, one row per relation) follow rule T1 like the
encoders': GraphStorm indexes them by the training graph's canonical edge types, which are in
sorted order, so row i belongs to ``sorted(canonical_etypes)[i]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from handler.contract.edge_task_config import EdgeTaskConfig
from handler.contract.names import CanonicalEtype


class DotProductScore(nn.Module):
    """``sum(h_src * h_dst)`` (``LinkPredictDotDecoder`` and its contrastive / weighted kinds).

    No parameters: GraphStorm saves no ``decoder`` state for it.
    """

    def forward(self, h_src: torch.Tensor, h_dst: torch.Tensor, etype: CanonicalEtype) -> torch.Tensor:
        """Scores of the pairs.

        Shapes:
            h_src, h_dst: [k, d] -> [k].
        """
        return torch.sum(h_src * h_dst, dim=-1)


class _RelationScore(nn.Module):
    """A score with one learnable embedding per relation (``_w_relation``, rows in T1 order).

    Args:
        canonical_etypes: every relation of the graph (any order; sorted here, T1).
        rel_dim: relation embedding size.
        gamma: the score margin (unused by DistMult).
    """

    def __init__(self, canonical_etypes: Sequence[CanonicalEtype], rel_dim: int, gamma: float) -> None:
        super().__init__()
        self.etype2rid = {tuple(et): i for i, et in enumerate(sorted(tuple(e) for e in canonical_etypes))}
        self.gamma = gamma
        self._w_relation = nn.Embedding(len(self.etype2rid), rel_dim)

    def relation(self, etype: CanonicalEtype) -> torch.Tensor:
        """The embedding of ``etype``.

        Raises:
            ValueError: ``etype`` is not a relation of the model.
        """
        if etype not in self.etype2rid:
            raise ValueError(f"{etype} is not a relation of the link-prediction decoder")
        return self._w_relation.weight[self.etype2rid[etype]]


class DistMultScore(_RelationScore):
    """``sum(h_src * r * h_dst)`` (``LinkPredictDistMultDecoder``)."""

    def forward(self, h_src: torch.Tensor, h_dst: torch.Tensor, etype: CanonicalEtype) -> torch.Tensor:
        """Scores of the pairs. Shapes: h_src, h_dst: [k, d] -> [k]."""
        return torch.sum(h_src * self.relation(etype) * h_dst, dim=-1)


class RotatEScore(_RelationScore):
    """``gamma - sum |h_src o r - h_dst|`` in complex halves (``LinkPredictRotatEDecoder``)."""

    def __init__(self, canonical_etypes: Sequence[CanonicalEtype], h_dim: int, gamma: float) -> None:
        super().__init__(canonical_etypes, h_dim // 2, gamma)
        self.emb_init = gamma / (h_dim // 2)

    def forward(self, h_src: torch.Tensor, h_dst: torch.Tensor, etype: CanonicalEtype) -> torch.Tensor:
        """Scores of the pairs (``calc_rotate_pos_score``). Shapes: h_src, h_dst: [k, d] -> [k]."""
        real_head, imag_head = torch.chunk(h_src, 2, dim=-1)
        real_tail, imag_tail = torch.chunk(h_dst, 2, dim=-1)
        phase = self.relation(etype) / (self.emb_init / torch.tensor(math.pi))
        real_rel, imag_rel = torch.cos(phase), torch.sin(phase)
        real = real_head * real_rel - imag_head * imag_rel - real_tail
        imag = real_head * imag_rel + imag_head * real_rel - imag_tail
        return self.gamma - torch.stack([real, imag], dim=0).norm(dim=0).sum(-1)


class TransEScore(_RelationScore):
    """``gamma - ||h_src + r - h_dst||_p`` (``LinkPredictTransEDecoder``, p = 1 or 2)."""

    def __init__(self, canonical_etypes: Sequence[CanonicalEtype], h_dim: int, gamma: float, p: int) -> None:
        super().__init__(canonical_etypes, h_dim, gamma)
        self.p = p

    def forward(self, h_src: torch.Tensor, h_dst: torch.Tensor, etype: CanonicalEtype) -> torch.Tensor:
        """Scores of the pairs (``calc_transe_pos_score``). Shapes: h_src, h_dst: [k, d] -> [k]."""
        return self.gamma - torch.norm(h_src + self.relation(etype) - h_dst, p=self.p, dim=-1)


def build_lp_decoder(edge_task: EdgeTaskConfig, in_dim: int,
                     canonical_etypes: Sequence[CanonicalEtype]) -> nn.Module:
    """GraphStorm's ``create_builtin_lp_decoder`` for scoring.

    Args:
        edge_task: the link-prediction config.
        in_dim: encoder output size.
        canonical_etypes: every relation of the graph (relation embeddings).

    Returns:
        The score module (parameters uninitialised).
    """
    kind = edge_task.lp_decoder_type
    if kind == "dot_product":
        return DotProductScore()
    if kind == "distmult":
        return DistMultScore(canonical_etypes, in_dim, edge_task.gamma)
    if kind == "rotate":
        return RotatEScore(canonical_etypes, in_dim, edge_task.gamma)
    return TransEScore(canonical_etypes, in_dim, edge_task.gamma, 1 if kind == "transe_l1" else 2)


def normalize_embeddings(h: torch.Tensor, normalizer: str | None) -> torch.Tensor:
    """GraphStorm's ``normalize_node_embs``: ``F.normalize`` (L2, eps 1e-12) or nothing.

    Shapes:
        h: [n, d] -> [n, d].
    """
    if normalizer is None:
        return h
    return nn.functional.normalize(h)
