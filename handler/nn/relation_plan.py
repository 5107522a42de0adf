"""Index plan of a fused relational layer: every relation in one gather / scatter.

A fused layer projects each node type once with the weights of all its "slots" side by side
(a slot is one ``[in, width]`` weight: a relation's weight, a self-loop, a query...). The
projections of all node types, viewed as rows of ``width``, are stacked into one tensor:
slot ``k`` of node ``j`` of type ``t`` is row ``row_offset[t] + j * len(slots[t]) + k``. The
plan turns the graph's per-relation edge lists into flat row indices into that stack, output
rows (every node of every type, types in ``sizes`` order) and ``(relation, destination)``
buckets for per-relation normalisations. It depends on the graph and the slot layout only,
so one plan serves every layer of a request (``RelationalGraph.memoized``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np
import torch

from handler.nn.relational_graph import CanonicalEtype, RelationalGraph


class RelationPlan:
    """Flat indices of the edges of ``relations`` (those with edges) in one graph.

    Args:
        graph: the graph.
        sizes: node type -> number of nodes, in output row order.
        slots: node type -> slot keys of its projection, in column order.
        relations: relations to include; those without edges, or between node types not in
            ``sizes``, are left out.

    Attributes:
        node_offset: node type -> its first output row; num_nodes: all output rows.
        projected: node types (with slots and nodes) in stacking order.
        relations: the relations included, in edge order.
        num_edges: edges of the included relations.
        dst_row: ``[E]`` output row of every edge's destination.
        bucket: ``[E]`` id of the edge's ``(relation, destination)`` pair; num_buckets ids.
    """

    def __init__(
        self,
        graph: RelationalGraph,
        sizes: Mapping[str, int],
        slots: Mapping[str, Sequence[Hashable]],
        relations: Sequence[CanonicalEtype],
    ) -> None:
        self.sizes = dict(sizes)
        self.slots = {nt: list(slots.get(nt, ())) for nt in sizes}
        self.node_offset: dict[str, int] = {}
        self.row_offset: dict[str, int] = {}
        self.projected: list[str] = []
        offset = rows = 0
        for ntype, num in self.sizes.items():
            self.node_offset[ntype] = offset
            offset += num
            if self.slots[ntype] and num > 0:
                self.projected.append(ntype)
                self.row_offset[ntype] = rows
                rows += num * len(self.slots[ntype])
        self.num_nodes = offset
        self.relations: list[CanonicalEtype] = []
        # The graph's device, from any relation: a graph with no edges at all (an isolated
        # target) still runs on the model's device.
        first = next(iter(graph.edges.values()), None)
        self.device = first[0].device if first is not None else torch.device("cpu")
        srcs: list[torch.Tensor] = []
        dsts: list[torch.Tensor] = []
        counts: list[int] = []
        for rel in relations:
            edges = graph.edges.get(rel)
            if edges is None or edges[0].shape[0] == 0 or rel[0] not in sizes or rel[2] not in sizes:
                continue
            src, dst = edges
            self.relations.append(rel)
            srcs.append(src)
            dsts.append(dst)
            counts.append(src.shape[0])
        # Index arithmetic runs in numpy: on a few hundred indices its calls cost a fraction
        # of torch's. Per-relation values reach the edges by one ``np.repeat`` over the edge
        # counts (fewer calls than a relation id per edge and a gather).
        self._memo: dict[Hashable, torch.Tensor] = {}
        self.num_edges = sum(counts)
        self._counts = np.array(counts, dtype=np.int64)
        self._src = _to_numpy(srcs)
        self._dst = _to_numpy(dsts)
        table, self.num_buckets = [], 0  # per relation: first bucket, first output row
        for rel in self.relations:
            table.append((self.num_buckets, self.node_offset[rel[2]]))
            self.num_buckets += self.sizes[rel[2]]
        bucket_row = self._per_edge(table, 2) + self._dst
        self._bucket = bucket_row[0]
        self.bucket = self._tensor(bucket_row[0])
        self.dst_row = self._tensor(bucket_row[1])

    def _tensor(self, arr: np.ndarray) -> torch.Tensor:
        """``arr`` as a tensor on the graph's device (shared memory on the CPU)."""
        out = torch.from_numpy(arr)
        return out if self.device.type == "cpu" else out.to(self.device)

    def _per_edge(self, table: list, width: int = 1) -> np.ndarray:
        """``[width, E]``: per-relation values (``table``: one row of ``width`` per relation)
        repeated for every edge of the relation; each row contiguous."""
        values = np.array(table, dtype=np.int64).reshape(-1, width)
        return np.repeat(values.T, self._counts, axis=1)

    def _memoized(self, key: Hashable, compute: Callable[[], np.ndarray]) -> torch.Tensor:
        if key not in self._memo:
            self._memo[key] = self._tensor(compute())
        return self._memo[key]

    def project(self, h: Mapping[str, torch.Tensor], weights: Callable[[str], tuple]) -> torch.Tensor:
        """Stacked projections of every projected node type.

        Args:
            h: node type -> embeddings.
            weights: node type -> ``(weight [in, S * width], bias [S * width] or None)``.

        Shapes:
            -> [sum_t num_nodes[t] * len(slots[t]), width].
        """
        parts = []
        for ntype in self.projected:
            weight, bias = weights(ntype)
            out = h[ntype] @ weight if bias is None else torch.addmm(bias, h[ntype], weight)
            parts.append(out.view(out.shape[0] * len(self.slots[ntype]), -1))
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def edge_rows(self, side: int, key: Callable[[CanonicalEtype], Hashable]) -> torch.Tensor:
        """``[E]`` stacked row of slot ``key(relation)`` of every edge's source (``side`` 0) or
        destination (``side`` 2) node."""
        def compute() -> np.ndarray:
            table = [(self.row_offset[r[side]] + self.slots[r[side]].index(key(r)), len(self.slots[r[side]]))
                     for r in self.relations]
            base, stride = self._per_edge(table, 2)
            return base + (self._src if side == 0 else self._dst) * stride
        return self._memoized(("edge", side, tuple(key(r) for r in self.relations)), compute)

    def slot_rows(self, ntype: str, key: Hashable, index: torch.Tensor) -> torch.Tensor:
        """Stacked rows of slot ``key`` of the nodes ``index`` of ``ntype`` (same shape)."""
        slots = self.slots[ntype]
        return index * len(slots) + (self.row_offset[ntype] + slots.index(key))

    def node_rows(self, key: Hashable) -> torch.Tensor:
        """``[num_nodes]`` stacked row of slot ``key`` of every node (every non-empty node type
        must have the slot)."""
        def compute() -> np.ndarray:
            parts = [np.arange(self.sizes[nt]) * len(self.slots[nt])
                     + (self.row_offset[nt] + self.slots[nt].index(key)) for nt in self.projected]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return self._memoized(("node", key), compute)

    def relation_ids(self, names: Sequence[CanonicalEtype]) -> torch.Tensor:
        """``[E]`` position in ``names`` of every edge's relation."""
        return self._memoized(("rid", tuple(names)), lambda: self._per_edge(
            [list(names).index(r) for r in self.relations])[0])

    def inverse_in_degree(self) -> torch.Tensor:
        """``[E, 1]`` 1 / (in-degree of the edge's destination in the edge's relation)."""
        def compute() -> np.ndarray:
            degree = np.bincount(self._bucket, minlength=self.num_buckets).astype(np.float32)
            return (np.float32(1) / degree[self._bucket]).reshape(-1, 1)
        return self._memoized("inv_deg", compute)


def _to_numpy(parts: list[torch.Tensor]) -> np.ndarray:
    """The concatenation of int64 index tensors as one numpy array (concatenated by numpy on
    the CPU, where each part's ``.numpy()`` is a view; by torch, then copied once, elsewhere)."""
    if not parts:
        return np.zeros(0, dtype=np.int64)
    if len(parts) == 1:
        return parts[0].cpu().numpy()
    if parts[0].device.type == "cpu":
        return np.concatenate([p.numpy() for p in parts])
    return torch.cat(parts).cpu().numpy()
