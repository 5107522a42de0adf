"""The graph structure the GNN layers read: per-relation edge index tensors.

DGL's ``HeteroGraphConv`` costs a Python loop and several kernel launches per relation;
the layers here work on plain ``(src, dst)`` index tensors so a forward is a handful of
gathers, matmuls and ``index_add_`` calls. ``RelationalGraph.from_dgl`` is the bridge from
the ``DGLGraph`` the graph builder produces.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

CanonicalEtype = tuple[str, str, str]


@dataclass(frozen=True)
class RelationalGraph:
    """A heterogeneous graph as edge lists.

    Attributes:
        num_nodes: number of nodes per node type (every node type of the model, 0 if absent).
        edges: ``(src, dst)`` int64 index tensors per canonical edge type, indices local to the
            source / destination node type. Every relation of the model is present, possibly
            with zero edges, as in training blocks.
    """

    num_nodes: dict[str, int]
    edges: dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]]

    @classmethod
    def from_dgl(cls, graph) -> RelationalGraph:
        """Builds the edge lists of a ``dgl.DGLGraph`` (one call per relation, no copies)."""
        num_nodes = {ntype: graph.num_nodes(ntype) for ntype in graph.ntypes}
        edges = {
            cet: graph.edges(etype=cet, order="eid") for cet in graph.canonical_etypes
        }
        return cls(num_nodes=num_nodes, edges=edges)

    def to(self, device: torch.device | str) -> RelationalGraph:
        """Returns a copy with every index tensor on ``device``."""
        return RelationalGraph(
            num_nodes=dict(self.num_nodes),
            edges={cet: (s.to(device), d.to(device)) for cet, (s, d) in self.edges.items()},
        )
