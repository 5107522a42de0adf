"""Pieces shared by the homogeneous GNN encoders (SAGE, GAT, GATv2): checks, norm, layer base."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar, cast

import torch
from torch import nn

from handler.contract.errors import UnsupportedConfigError
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph

ModuleT = TypeVar("ModuleT", bound=nn.Module)


class RelationModules(nn.Module, Generic[ModuleT]):
    """One submodule per relation under ``mods``: DGL ``HeteroGraphConv``'s state-dict layout
    (``conv.mods.<relation>.*``), which ``model.bin`` keeps.

    Args:
        mods: ``str(relation)`` -> its module.
    """

    def __init__(self, mods: Mapping[str, ModuleT]) -> None:
        super().__init__()
        self.mods = nn.ModuleDict(dict(mods))

    def __getitem__(self, relation: CanonicalEtype) -> ModuleT:
        return cast(ModuleT, self.mods[str(relation)])


def build_norm(norm: str | None, dim: int) -> nn.Module | None:
    """GraphStorm's per-layer norm module (inference uses BatchNorm running statistics)."""
    if norm == "batch":
        return nn.BatchNorm1d(dim)
    if norm == "layer":
        return nn.LayerNorm(dim)
    return None


def homogeneous_relation(
    encoder: str, ntypes: list[str], canonical_etypes: list[CanonicalEtype]
) -> CanonicalEtype:
    """The single relation of a homogeneous model (GraphStorm asserts ``check_homo``)."""
    if len(ntypes) != 1 or len(canonical_etypes) != 1:
        raise UnsupportedConfigError(
            f"model_encoder_type={encoder} needs a homogeneous graph (one node type, one edge "
            f"type), got node types {ntypes} and edge types {canonical_etypes}"
        )
    src, _, dst = canonical_etypes[0]
    if src != ntypes[0] or dst != ntypes[0]:
        raise UnsupportedConfigError(
            f"model_encoder_type={encoder}: edge type {canonical_etypes[0]} does not connect {ntypes[0]}"
        )
    return canonical_etypes[0]


def reject_edge_features(encoder: str, edge_feat_names: Mapping[Any, Any] | None) -> None:
    """Homogeneous encoders with edge features are not implemented here."""
    if edge_feat_names:
        raise UnsupportedConfigError(f"edge_feat_name with model_encoder_type={encoder}")


class HomogeneousLayer(nn.Module):
    """A GNN layer on the single relation of a homogeneous model.

    Subclasses implement ``compute(h, src, dst)``; ``forward`` has the encoder-layer signature
    so the layers stack in ``handler.nn.encoder.GNNLayerStack``.
    """

    def __init__(self, ntype: str, relation: CanonicalEtype) -> None:
        super().__init__()
        self.ntype = ntype
        self.relation = relation

    def compute(self, h: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Shapes: h ``[N, in]``, src/dst ``[E]`` -> ``[N, out]``."""
        raise NotImplementedError

    def forward(
        self,
        graph: RelationalGraph,
        h: Mapping[str, torch.Tensor],
        edge_inputs: Mapping[CanonicalEtype, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """Runs the layer on every node (edge features are rejected at build time).

        Shapes:
            h[ntype] ``[N, in]`` -> ``{ntype: [N, out]}``.
        """
        src, dst = graph.edges[self.relation]
        return {self.ntype: self.compute(h[self.ntype], src, dst)}
