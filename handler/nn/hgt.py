"""GraphStorm 0.5.1's HGT encoder (``HGTLayer`` / ``HGTLayerwithEdgeFeat``) for inference.

Per relation ``r = (s, e, d)``: keys and values of the source type, queries of the destination
type, per-head relation matrices, attention = edge softmax over the in-edges of each
destination, messages summed per destination. The per-relation results are averaged over ALL
relation types of the model that point into ``d`` (DGL ``multi_update_all(cross_reducer=
'mean')`` on training blocks, which always hold every relation type; a relation without edges
contributes zeros). A node type that is the destination of no model relation takes GraphStorm's
"pseudo self-loop" branch. Parameter names equal GraphStorm's, so ``model.bin``'s ``gnn`` state
dict loads strictly.
"""

from __future__ import annotations

import functools
import math
from typing import cast

import numpy as np
import torch
from torch import nn

from handler.contract.errors import UnsupportedConfigError
from handler.contract.model_config import ModelConfig
from handler.nn.encoder import GNNLayerStack, make_norms
from handler.nn.inference_cache import InferenceCache
from handler.nn.ngnn_mlp import NGNNMLP
from handler.nn.ops import segment_softmax
from handler.nn.relation_plan import RelationPlan
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph

EDGE_FEAT_MP_OPS = ("concat", "add", "sub", "mul", "div")


def _relation_key(cet: CanonicalEtype) -> str:
    return "_".join(cet)


class HGTLayer(InferenceCache):
    """One HGT layer; with ``edge_feat_etypes`` it is GraphStorm's ``HGTLayerwithEdgeFeat``.

    Args:
        in_dim: input size of every node type.
        out_dim: output size (divisible by ``heads``).
        ntypes: node types of the model.
        canonical_etypes: relation types of the model.
        heads: number of attention heads.
        norm: None, ``batch`` or ``layer``.
        num_ffn_layers: FFN layers after the activation.
        edge_feat_etypes: relations with edge features, or None for the plain HGT layer.
        edge_feat_mp_op: how edge embeddings join source embeddings.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        ntypes: list[str],
        canonical_etypes: list[CanonicalEtype],
        heads: int,
        norm: str | None,
        num_ffn_layers: int,
        edge_feat_etypes: set[CanonicalEtype] | None = None,
        edge_feat_mp_op: str = "concat",
    ) -> None:
        super().__init__()
        if out_dim % heads != 0:
            raise UnsupportedConfigError(f"num_heads={heads} does not divide the HGT output size {out_dim}")
        self.heads = heads
        self.out_dim = out_dim
        self.d_k = out_dim // heads
        self.sqrt_dk = math.sqrt(self.d_k)
        self.canonical_etypes = list(canonical_etypes)
        self.k_linears = nn.ModuleDict({nt: nn.Linear(in_dim, out_dim) for nt in ntypes})
        self.q_linears = nn.ModuleDict({nt: nn.Linear(in_dim, out_dim) for nt in ntypes})
        self.v_linears = nn.ModuleDict({nt: nn.Linear(in_dim, out_dim) for nt in ntypes})
        self.a_linears = nn.ModuleDict({nt: nn.Linear(in_dim, out_dim) for nt in ntypes})
        self.norms = make_norms(norm, ntypes, out_dim)
        self.skip = nn.ParameterDict({nt: nn.Parameter(torch.ones(1)) for nt in ntypes})
        keys = [_relation_key(cet) for cet in canonical_etypes]
        self.relation_pri = nn.ParameterDict({k: nn.Parameter(torch.ones(heads)) for k in keys})
        self.relation_att = nn.ParameterDict(
            {k: nn.Parameter(torch.empty(heads, self.d_k, self.d_k)) for k in keys}
        )
        self.relation_msg = nn.ParameterDict(
            {k: nn.Parameter(torch.empty(heads, self.d_k, self.d_k)) for k in keys}
        )
        self.num_ffn_layers = num_ffn_layers
        self.ngnn_mlp = NGNNMLP(out_dim, num_ffn_layers)
        self.edge_feat_etypes = edge_feat_etypes
        self.edge_feat_mp_op = edge_feat_mp_op
        if edge_feat_etypes is not None and edge_feat_mp_op == "concat":
            self.ef_linears = nn.ModuleDict(
                {_relation_key(cet): nn.Linear(in_dim, out_dim)
                 for cet in canonical_etypes if cet in edge_feat_etypes}
            )
        # Relations into each node type; types with none take the pseudo self-loop.
        self._num_in = {nt: sum(cet[2] == nt for cet in canonical_etypes) for nt in ntypes}
        self._plain = [cet for cet in canonical_etypes if not edge_feat_etypes or cet not in edge_feat_etypes]
        self._with_edge_feats = [cet for cet in canonical_etypes if cet not in self._plain]
        self._slot_keys: dict[str, list[tuple[str, CanonicalEtype] | str]] = {
            nt: [*(("k", c) for c in self._plain if c[0] == nt), *(("v", c) for c in self._plain if c[0] == nt),
                 "q", "a"]
            for nt in ntypes
        }
        # Identifies the slot layout in the per-graph plan cache (layers alike share one plan).
        self._layout = repr(("hgt", self._slot_keys, self._num_in))

    def _fused_weight(self, ntype: str) -> tuple[torch.Tensor, torch.Tensor]:
        """``ntype``'s slot weights side by side, ``[in, S * out]`` and bias ``[S * out]``.

        Keys and values of a plain relation fold in its per-head relation matrix (keys also
        ``relation_pri / sqrt(d_k)``): ``(h W + b) M = h (W M) + b M``.
        """
        def compute() -> tuple[torch.Tensor, torch.Tensor]:
            cols: list[torch.Tensor] = []
            biases: list[torch.Tensor] = []
            for key in self._slot_keys[ntype]:
                if isinstance(key, str):  # "q" or "a"; the other slots are (kind, relation)
                    lin = cast(nn.Linear, (self.q_linears if key == "q" else self.a_linears)[ntype])
                    cols.append(lin.weight.t())
                    biases.append(lin.bias)
                    continue
                kind, cet = key
                rkey = _relation_key(cet)
                lin = cast(nn.Linear, (self.k_linears if kind == "k" else self.v_linears)[ntype])
                mat = self.relation_att[rkey] if kind == "k" else self.relation_msg[rkey]
                if kind == "k":
                    mat = mat * (self.relation_pri[rkey] / self.sqrt_dk).view(-1, 1, 1)
                weight = lin.weight.t().reshape(-1, self.heads, self.d_k)
                cols.append(torch.einsum("ihj,hjk->ihk", weight, mat).reshape(weight.shape[0], -1))
                biases.append(torch.einsum("hj,hjk->hk", lin.bias.view(self.heads, self.d_k), mat).reshape(-1))
            return torch.cat(cols, dim=1).contiguous(), torch.cat(biases)
        return self.derived(("w", ntype), compute)

    def _edge_key_value(
        self, cet: CanonicalEtype, h_src: torch.Tensor, src: torch.Tensor, edge_h: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-edge keys and values of a relation with edge features, after the relation matrices.

        Shapes:
            h_src ``[N_s, in]``, src ``[E]``, edge_h ``[E, in]`` -> two ``[E, heads, d_k]``.
        """
        s = cet[0]
        k_lin, v_lin = self.k_linears[s], self.v_linears[s]
        rkey = _relation_key(cet)
        op = self.edge_feat_mp_op
        if op == "concat":
            edge_val = self.ef_linears[rkey](edge_h)
            k = k_lin(h_src).index_select(0, src) + edge_val
            v = v_lin(h_src).index_select(0, src) + edge_val
        else:
            src_h = h_src.index_select(0, src)
            if op == "add":
                new_h = src_h + edge_h
            elif op == "sub":
                new_h = src_h - edge_h
            elif op == "mul":
                new_h = src_h * edge_h
            else:
                new_h = src_h / edge_h
            k, v = k_lin(new_h), v_lin(new_h)
        k = torch.einsum("bij,ijk->bik", k.view(-1, self.heads, self.d_k), self.relation_att[rkey])
        v = torch.einsum("bij,ijk->bik", v.view(-1, self.heads, self.d_k), self.relation_msg[rkey])
        return k, v

    def _edge_input(
        self, cet: CanonicalEtype, num_edges: int, edge_inputs: dict[CanonicalEtype, torch.Tensor]
    ) -> torch.Tensor | None:
        if self.edge_feat_etypes is None or cet not in self.edge_feat_etypes:
            return None
        edge_h = edge_inputs.get(cet)
        if edge_h is None and num_edges > 0:
            raise ValueError(f"HGT: no edge inputs for {num_edges} edges of {cet}")
        return edge_h

    def forward(
        self,
        graph: RelationalGraph,
        h: dict[str, torch.Tensor],
        edge_inputs: dict[CanonicalEtype, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """Runs the layer on every node of ``h``, all relations at once.

        One matmul per node type gives every relation's keys and values plus queries and the
        skip projection; one softmax runs over all edges grouped by (relation, destination);
        one ``index_add_`` sums the messages of all relations (``handler.nn.relation_plan``).

        Args:
            graph: the edge lists; relations of the model missing from it count as empty.
            h: node embeddings per node type (every node type of the model).
            edge_inputs: projected edge embeddings per relation with edge features.

        Returns:
            New embeddings per node type of ``h``.

        Shapes:
            h[nt] ``[N_nt, in_dim]`` -> ``[N_nt, out_dim]``; edge_inputs[r] ``[E_r, in_dim]``.
        """
        self.refresh_derived()
        sizes = {nt: x.shape[0] for nt, x in h.items()}
        plan = graph.memoized((self._layout, tuple(sizes.items())), lambda: RelationPlan(
            graph, sizes, {nt: self._slot_keys[nt] for nt in sizes}, self._plain,
            [(0, _key_slot), (2, _query_slot), (0, _value_slot)]))
        if not plan.projected:
            return {nt: x.new_zeros((0, self.out_dim)) for nt, x in h.items()}
        proj = plan.project(h, self._fused_weight)
        scores, values, buckets, rows = [], [], [], []
        if plan.num_edges:
            k = proj.index_select(0, plan.edge_rows(0, _key_slot)).view(-1, self.heads, self.d_k)
            q = proj.index_select(0, plan.edge_rows(2, _query_slot)).view(-1, self.heads, self.d_k)
            scores.append((q * k).sum(-1))
            values.append(proj.index_select(0, plan.edge_rows(0, _value_slot)))
            buckets.append(plan.bucket)
            rows.append(plan.dst_row)
        num_buckets = plan.num_buckets
        for cet in self._with_edge_feats:
            s, _, d = cet
            src, dst = graph.edges.get(cet, (None, None))
            if d not in h or src is None or src.numel() == 0:
                continue
            edge_h = self._edge_input(cet, src.numel(), edge_inputs)
            # Not None: cet has edge features (it is not plain) and edges, so _edge_input raised or found them.
            assert edge_h is not None
            k, v = self._edge_key_value(cet, h[s], src, edge_h)
            q = proj.index_select(0, plan.slot_rows(d, "q", dst)).view(-1, self.heads, self.d_k)
            scores.append((q * k).sum(-1) * self.relation_pri[_relation_key(cet)] / self.sqrt_dk)
            values.append(v.reshape(-1, self.out_dim))
            buckets.append(dst + num_buckets)
            rows.append(dst + plan.node_offset[d])
            num_buckets += sizes[d]
        t = proj.new_zeros((plan.num_nodes, self.out_dim))
        if scores:
            one = len(scores) == 1
            attn = segment_softmax(scores[0] if one else torch.cat(scores),
                                   buckets[0] if one else torch.cat(buckets), num_buckets)
            value = (values[0] if one else torch.cat(values)).view(-1, self.heads, self.d_k)
            t.index_add_(0, rows[0] if one else torch.cat(rows), (value * attn.unsqueeze(-1)).view(-1, self.out_dim))
        skip = proj.index_select(0, plan.node_rows("a"))
        num_in, is_dst, type_rows = graph.memoized(
            (self._layout, "nodes", tuple(sizes.items())), lambda: _node_rows(sizes, self._num_in, proj.device))
        alpha = self.derived(("alpha", tuple(sizes)), lambda: torch.sigmoid(
            torch.cat([self.skip[nt] for nt in sizes]))).index_select(0, type_rows).unsqueeze(1)
        # The mean over relation types; GraphStorm's "pseudo self-loop" for types no relation
        # points to (none such: is_dst is None, and the where would select every row of t / num_in).
        t = t / num_in if is_dst is None else torch.where(is_dst, t / num_in, skip)
        out = t * alpha + skip * (1 - alpha)
        if self.norms is None:  # ReLU is elementwise: one call over every node type's rows
            out = torch.relu(out)
        new_h = {}
        for nt, part in zip(sizes, out.split_with_sizes(list(sizes.values())), strict=True):
            if self.norms is not None:
                if part.shape[0] > 0:
                    part = self.norms[nt](part)
                part = torch.relu(part)
            new_h[nt] = self.ngnn_mlp(part) if self.num_ffn_layers > 0 else part
        return new_h


def _key_slot(cet: CanonicalEtype) -> tuple[str, CanonicalEtype]:
    """The slot of a relation's keys in its source type's projection."""
    return ("k", cet)


def _value_slot(cet: CanonicalEtype) -> tuple[str, CanonicalEtype]:
    """The slot of a relation's values in its source type's projection."""
    return ("v", cet)


def _query_slot(cet: CanonicalEtype) -> str:
    """The slot of the queries in a destination type's projection (one for all relations)."""
    return "q"


def _node_rows(
    sizes: dict[str, int], num_in: dict[str, int], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Per output row: relation types into its node type (at least 1) ``[N, 1]``, whether there
    is any ``[N, 1]`` (None: every row's type has one), and the position of its node type in
    ``sizes`` ``[N]``."""
    positions, per_type_in, per_type_dst = _per_type(tuple(sizes), tuple(num_in.get(nt, 0) for nt in sizes))
    counts = list(sizes.values())

    def on_device(arr: np.ndarray) -> torch.Tensor:
        out = torch.from_numpy(arr)
        return out if device.type == "cpu" else out.to(device)
    is_dst = None if per_type_dst is None else on_device(np.repeat(per_type_dst, counts).reshape(-1, 1))
    return (on_device(np.repeat(per_type_in, counts).reshape(-1, 1)), is_dst,
            on_device(np.repeat(positions, counts)))


@functools.lru_cache(maxsize=64)
def _per_type(ntypes: tuple[str, ...], num_in: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``_node_rows``' per node type values (a model's few node type orders): positions,
    relation types in (at least 1, float32), whether any (None: all have)."""
    per_type = np.array(num_in, dtype=np.int64)
    has_in = per_type > 0
    return (np.arange(len(ntypes)), np.maximum(per_type, 1).astype(np.float32),
            None if has_in.all() else has_in)


def build_hgt_encoder(
    config: ModelConfig,
    ntypes: list[str],
    canonical_etypes: list[CanonicalEtype],
    edge_input_dims: dict[CanonicalEtype, int],
) -> GNNLayerStack:
    """Builds GraphStorm's HGT encoder from the training config.

    Args:
        config: ``ModelConfig`` (hidden_size, out_emb_size, num_layers, num_heads, gnn_norm,
            num_ffn_layers_in_gnn, edge_feat_names, edge_feat_mp_op).
        ntypes: node types of the model.
        canonical_etypes: relation types of the model.
        edge_input_dims: edge feature input sizes (unused: edge embeddings arrive projected
            to ``hidden_size`` by the edge input layer).

    Returns:
        The encoder, parameters uninitialised (load ``model.bin``'s ``gnn`` state dict).
    """
    del edge_input_dims
    hidden, out_dim, ffn = config.hidden_size, config.out_emb_size, config.num_ffn_layers_in_gnn
    edge_feat_etypes = set(config.edge_feat_names) if config.edge_feat_names else None
    mp_op = config.edge_feat_mp_op
    if mp_op not in EDGE_FEAT_MP_OPS:
        raise UnsupportedConfigError(f"edge_feat_mp_op={mp_op!r}")
    layers = []
    for i in range(config.num_layers):
        last = i == config.num_layers - 1
        layers.append(HGTLayer(
            hidden, out_dim if last else hidden, ntypes, canonical_etypes, config.num_heads,
            config.gnn_norm,
            # GraphStorm's last plain HGT layer is built without FFN layers; with edge
            # features every layer gets them.
            0 if last and edge_feat_etypes is None else ffn,
            edge_feat_etypes, mp_op,
        ))
    return GNNLayerStack(layers)
