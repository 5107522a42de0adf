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

    Every per-edge index is ``base[relation] + step[relation] * end`` (``end``: the edge's
    source or destination): the plan computes all the ones it is asked for at once, from one
    table of per-relation ``(base, step)`` repeated over the edge counts, so that a request
    pays for a handful of numpy calls rather than a few per index (they dominate on payload
    graphs of tens of edges).

    Args:
        graph: the graph.
        sizes: node type -> number of nodes, in output row order.
        slots: node type -> slot keys of its projection, in column order.
        relations: relations to include; those without edges, or between node types not in
            ``sizes``, are left out.
        edge_slots: ``(side, key)`` pairs whose ``edge_rows(side, key)`` to compute with the
            plan's own indices (others are computed on first use). ``edge_rows`` remembers
            its results by ``key`` itself: give module-level functions, not new lambdas.

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
        edge_slots: Sequence[tuple[int, Callable[[CanonicalEtype], Hashable]]] = (),
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
        # of torch's.
        self._memo: dict[Hashable, torch.Tensor] = {}
        self.num_edges = sum(counts)
        self._counts = counts
        self._ends = _to_numpy(srcs + dsts).reshape(2, -1)  # [2, E]: sources, destinations
        self.num_buckets = 0
        buckets, dst_rows = [], []  # per relation: its first bucket, its destinations' first row
        for rel in self.relations:
            buckets.append(self.num_buckets)
            dst_rows.append(self.node_offset[rel[2]])
            self.num_buckets += self.sizes[rel[2]]
        ones = [1] * len(self.relations)
        columns = [(2, buckets, ones), (2, dst_rows, ones)]
        keys = []
        for side, key in edge_slots:
            keys.append(("edge", side, key))
            columns.append(self._edge_slot_column(side, key))
        self._bucket, dst_row, *edge_rows = self._per_edge(columns)
        self.bucket = self._tensor(self._bucket)
        self.dst_row = self._tensor(dst_row)
        for memo_key, row in zip(keys, edge_rows, strict=True):
            self._memo[memo_key] = self._tensor(row)

    def _tensor(self, arr: np.ndarray) -> torch.Tensor:
        """``arr`` as a tensor on the graph's device (shared memory on the CPU)."""
        out = torch.from_numpy(arr)
        return out if self.device.type == "cpu" else out.to(self.device)

    def _per_edge(self, columns: Sequence[tuple[int, list[int], list[int]]]) -> np.ndarray:
        """``[C, E]``: per column ``(side, base, step)`` (one value per relation),
        ``base[r] + step[r] * end`` for every edge (``r`` its relation, ``end`` its source for
        side 0, its destination for side 2). Each row is contiguous.
        """
        table = np.array([values for _, base, step in columns for values in (base, step)], dtype=np.int64)
        per_edge = np.repeat(table.reshape(2 * len(columns), -1), self._counts, axis=1)
        return per_edge[0::2] + per_edge[1::2] * self._ends[[side // 2 for side, _, _ in columns]]

    def _edge_slot_column(self, side: int, key: Callable[[CanonicalEtype], Hashable]) -> tuple[int, list, list]:
        """The ``_per_edge`` column of ``edge_rows(side, key)``."""
        base, step = [], []
        for rel in self.relations:
            ntype = rel[side]
            base.append(self.row_offset[ntype] + self.slots[ntype].index(key(rel)))
            step.append(len(self.slots[ntype]))
        return side, base, step

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
        destination (``side`` 2) node (computed once per ``(side, key)`` function)."""
        return self._memoized(("edge", side, key), lambda: self._per_edge([self._edge_slot_column(side, key)])[0])

    def slot_rows(self, ntype: str, key: Hashable, index: torch.Tensor) -> torch.Tensor:
        """Stacked rows of slot ``key`` of the nodes ``index`` of ``ntype`` (same shape)."""
        slots = self.slots[ntype]
        return index * len(slots) + (self.row_offset[ntype] + slots.index(key))

    def node_rows(self, key: Hashable) -> torch.Tensor:
        """``[num_nodes]`` stacked row of slot ``key`` of every node (every non-empty node type
        must have the slot)."""
        def compute() -> np.ndarray:
            # Node j of type t has row row_offset[t] + key's slot + j * S_t: one arange per
            # node type (a handful of types; fewer numpy calls than repeating per-type tables).
            parts = []
            for nt in self.projected:
                stride = len(self.slots[nt])
                first = self.row_offset[nt] + self.slots[nt].index(key)
                parts.append(np.arange(first, first + self.sizes[nt] * stride, stride, dtype=np.int64))
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        return self._memoized(("node", key), compute)

    def relation_ids(self, names: Sequence[CanonicalEtype]) -> torch.Tensor:
        """``[E]`` position in ``names`` of every edge's relation."""
        def compute() -> np.ndarray:
            position = {name: i for i, name in enumerate(names)}
            return np.repeat(np.array([position[r] for r in self.relations], dtype=np.int64), self._counts)
        return self._memoized(("rid", tuple(names)), compute)

    def inverse_in_degree(self) -> torch.Tensor:
        """``[E, 1]`` 1 / (in-degree of the edge's destination in the edge's relation)."""
        def compute() -> np.ndarray:
            degree = np.bincount(self._bucket, minlength=self.num_buckets)[self._bucket]
            return np.divide(np.float32(1), degree, dtype=np.float32).reshape(-1, 1)
        return self._memoized("inv_deg", compute)


def _to_numpy(parts: list[torch.Tensor]) -> np.ndarray:
    """The concatenation of int64 index tensors as one numpy array."""
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return (parts[0] if len(parts) == 1 else torch.cat(parts)).cpu().numpy()
