"""The graph structure the GNN layers read: per-relation edge index tensors.

DGL's ``HeteroGraphConv`` costs a Python loop and several kernel launches per relation;
the layers here work on plain ``(src, dst)`` index tensors so a forward is a handful of
gathers, matmuls and ``index_add_`` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from handler.contract.names import CanonicalEtype  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class RelationalGraph:
    """A heterogeneous graph as edge lists.

    Attributes:
        num_nodes: number of nodes per node type (every node type of the model, 0 if absent).
        edges: ``(src, dst)`` int64 index tensors per canonical edge type, indices local to the
            source / destination node type. Every relation of the model is present, possibly
            with zero edges, as in training blocks.
        memo: per-graph results derived from the structure alone (index plans, degree
            normalisations), computed once per request and shared by every layer.
    """

    num_nodes: dict[str, int]
    edges: dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]]
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def memoized(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per graph and ``key`` (the graph must not be mutated after)."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def to(self, device: torch.device | str) -> RelationalGraph:
        """Returns a copy with every index tensor on ``device`` (``self`` if already there)."""
        device = torch.device(device)
        if all(s.device == device and d.device == device for s, d in self.edges.values()):
            return self
        return RelationalGraph(
            num_nodes=dict(self.num_nodes),
            edges={cet: (s.to(device), d.to(device)) for cet, (s, d) in self.edges.items()},
        )
