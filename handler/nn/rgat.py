"""RGAT: GraphStorm's ``RelationalGATEncoder`` / ``RelationalAttLayer`` on edge lists.

Per relation r = (s, rel, d), DGL ``GATConv`` (no bias, no residual): ``z = h @ fc^T`` split in
heads, ``e_ji = LeakyReLU_0.2(<z_j, attn_l> + <z_i, attn_r>)``, softmax over i's in-edges,
``sum_j a_ji z_j`` (0 for nodes without in-edges). Relation outputs are summed per destination
type and flattened over heads, then ``+ h_i @ loop_weight + h_bias``, optional norm, activation
(hidden layers only) and feed-forward layers. Parameters are keyed by relation name, so the
relation order does not matter.

Relations with edge features use GraphStorm's ``GATConvwithEdgeFeat`` (no bias) instead:
``m_ji = fc_src(op(h_j, e_ji))`` split in heads, ``a_ji = softmax_i(LeakyReLU_0.2(m_ji +
fc_dst(h_i)))`` element-wise (one weight per head and channel, not per head), ``sum_j a_ji m_ji``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import cast

import torch
from torch import nn

from handler.contract.model_config import ModelConfig
from handler.contract.names import as_etype
from handler.nn.encoder import GNNLayerStack, finish_layer, make_norms
from handler.nn.gnn_common import RelationModules
from handler.nn.inference_cache import InferenceCache
from handler.nn.ngnn_mlp import NGNNMLP
from handler.nn.ops import combine_edge_feat, scatter_sum, segment_softmax
from handler.nn.relation_plan import RelationPlan
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph


class GATConv(nn.Module):
    """DGL's ``GATConv(in_feat, out_feat, num_heads, bias=False)`` parameters (the layer runs
    all relations' convolutions at once).

    Args:
        in_feat: input size.
        out_feat: size per head.
        num_heads: number of heads.
    """

    def __init__(self, in_feat: int, out_feat: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.out_feat = out_feat
        self.fc = nn.Linear(in_feat, out_feat * num_heads, bias=False)
        self.attn_l = nn.Parameter(torch.empty(1, num_heads, out_feat))
        self.attn_r = nn.Parameter(torch.empty(1, num_heads, out_feat))


class EdgeFeatGATConv(nn.Module):
    """GraphStorm's ``GATConvwithEdgeFeat(in_feat, out_feat, num_heads, edge_feat_mp_op, bias=False)``.

    Args:
        in_feat: node (and edge embedding) size.
        out_feat: size per head.
        num_heads: number of heads.
        mp_op: ``concat``, ``add``, ``sub``, ``mul`` or ``div``.
    """

    def __init__(self, in_feat: int, out_feat: int, num_heads: int, mp_op: str) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.out_feat = out_feat
        self.mp_op = mp_op
        self.fc_src = nn.Linear(2 * in_feat if mp_op == "concat" else in_feat, out_feat * num_heads, bias=False)
        self.fc_dst = nn.Linear(in_feat, out_feat * num_heads, bias=False)

    def forward(self, h_src: torch.Tensor, h_dst: torch.Tensor, src: torch.Tensor, dst: torch.Tensor,
                e_h: torch.Tensor | None) -> torch.Tensor:
        """Attention-weighted messages of one relation, summed per destination node.

        Shapes:
            h_src: [num_src, in_feat], h_dst: [num_dst, in_feat], src/dst: [E],
            e_h: [E, in_feat] -> [num_dst, num_heads * out_feat].
        """
        num_dst = h_dst.shape[0]
        if src.numel() == 0:
            return h_dst.new_zeros((num_dst, self.num_heads * self.out_feat))
        if e_h is None:
            raise ValueError("a relation with edge features got no edge features")
        shape = (-1, self.num_heads, self.out_feat)
        msg = self.fc_src(combine_edge_feat(h_src.index_select(0, src), e_h, self.mp_op)).view(shape)
        dst_proj = self.fc_dst(h_dst.index_select(0, dst)).view(shape)
        attn = segment_softmax(nn.functional.leaky_relu(msg + dst_proj, 0.2), dst, num_dst)
        return scatter_sum((msg * attn).view(msg.shape[0], -1), dst, num_dst)


class RelationalAttLayer(InferenceCache):
    """One RGAT layer (GraphStorm ``RelationalAttLayer``, bias on).

    Args:
        in_feat: input size.
        out_feat: output size (``num_heads`` heads of ``out_feat // num_heads``).
        rel_names: canonical edge types.
        num_heads: attention heads.
        activation: apply ReLU (hidden layers).
        self_loop: add ``h_dst @ loop_weight``.
        norm: ``None``, ``"batch"`` or ``"layer"``.
        num_ffn_layers: feed-forward layers at the end.
        edge_feat_rels: relations that use edge features (``EdgeFeatGATConv``).
        edge_feat_mp_op: how edge embeddings join source embeddings.
    """

    def __init__(
        self,
        in_feat: int,
        out_feat: int,
        rel_names: Sequence[CanonicalEtype],
        num_heads: int,
        *,
        edge_feat_rels: Sequence[CanonicalEtype] = (),
        edge_feat_mp_op: str = "concat",
        activation: bool = False,
        self_loop: bool = True,
        norm: str | None = None,
        num_ffn_layers: int = 0,
    ) -> None:
        super().__init__()
        self.out_feat = out_feat
        self.rel_names = list(rel_names)
        self.activation = activation
        self.self_loop = self_loop
        self.edge_feat_rels = [rel for rel in self.rel_names if rel in set(edge_feat_rels)]
        # Relations without edge features: fused into one projection per node type.
        self._plain = [rel for rel in self.rel_names if rel not in self.edge_feat_rels]
        self.conv: RelationModules[nn.Module] = RelationModules(
            {str(rel): EdgeFeatGATConv(in_feat, out_feat // num_heads, num_heads, edge_feat_mp_op)
             if rel in self.edge_feat_rels else GATConv(in_feat, out_feat // num_heads, num_heads)
             for rel in self.rel_names}
        )
        self.num_heads = num_heads
        self.norm = make_norms(norm, {nt for rel in self.rel_names for nt in (rel[0], rel[2])}, out_feat)
        self.h_bias = nn.Parameter(torch.empty(out_feat))
        if self_loop:
            self.loop_weight = nn.Parameter(torch.empty(in_feat, out_feat))
        self.ngnn_mlp = NGNNMLP(out_feat, num_ffn_layers)
        self.num_ffn_layers = num_ffn_layers
        # Identifies the slot layout in the per-graph plan cache (layers alike share one plan).
        self._layout = repr(("rgat", self._plain, self_loop))

    def _slots(self, ntype: str) -> list:
        """Slots of ``ntype``'s projection: the ``fc`` of every relation it is an end of, then
        the self-loop."""
        keys = [("fc", rel) for rel in self._plain if ntype in (rel[0], rel[2])]
        return [*keys, "loop"] if self.self_loop else keys

    def _fused_weight(self, ntype: str) -> tuple[torch.Tensor, None]:
        """``[in_feat, S * out_feat]``: ``ntype``'s slot weights side by side."""
        return self.derived(("w", ntype), lambda: (torch.cat(
            [self.loop_weight if key == "loop" else cast(GATConv, self.conv[key[1]]).fc.weight.t()
             for key in self._slots(ntype)], dim=1).contiguous(), None))

    def _attention_vectors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``attn_l`` and ``attn_r`` of every relation, each ``[R, heads, out_feat / heads]``."""
        return self.derived("attn", lambda: tuple(
            torch.cat([getattr(self.conv[rel], name) for rel in self._plain])
            for name in ("attn_l", "attn_r")))

    def forward(
        self,
        graph: RelationalGraph,
        h: Mapping[str, torch.Tensor],
        edge_embs: Mapping[CanonicalEtype, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """One round of message passing, all relations without edge features at once.

        One matmul per node type projects it for every such relation (and the self-loop); one
        softmax runs over all edges grouped by (relation, destination); one ``index_add_``
        sums every relation's messages (``handler.nn.relation_plan``). Relations with edge
        features (``edge_embs``) run their own convolution.

        Shapes:
            h[nt]: [num_nodes[nt], in_feat] -> [num_nodes[nt], out_feat].
        """
        if not h:
            return {}
        self.refresh_derived()
        sizes = {nt: x.shape[0] for nt, x in h.items()}
        plan = graph.memoized((self._layout, tuple(sizes.items())), lambda: RelationPlan(
            graph, sizes, {nt: self._slots(nt) for nt in sizes}, self._plain,
            [(0, _fc_slot), (2, _fc_slot)]))
        rst = next(iter(h.values())).new_zeros((plan.num_nodes, self.out_feat))
        for rel in self.edge_feat_rels:
            stype, _, dtype = rel
            if stype in h and dtype in h:
                src, dst = graph.edges[rel]
                start = plan.node_offset[dtype]
                rst[start:start + sizes[dtype]] += self.conv[rel](h[stype], h[dtype], src, dst, edge_embs.get(rel))
        if plan.projected:
            proj = plan.project(h, self._fused_weight)
            if plan.num_edges:
                heads = self.num_heads
                z_src = proj.index_select(0, plan.edge_rows(0, _fc_slot)).view(-1, heads, self.out_feat // heads)
                z_dst = proj.index_select(0, plan.edge_rows(2, _fc_slot)).view(z_src.shape)
                rel_ids = plan.relation_ids(self._plain)
                attn_l, attn_r = (a.index_select(0, rel_ids) for a in self._attention_vectors())
                scores = nn.functional.leaky_relu((z_src * attn_l).sum(-1) + (z_dst * attn_r).sum(-1), 0.2)
                attn = segment_softmax(scores, plan.bucket, plan.num_buckets)
                rst.index_add_(0, plan.dst_row, (z_src * attn.unsqueeze(-1)).view(-1, self.out_feat))
            if self.self_loop:
                rst += proj.index_select(0, plan.node_rows("loop"))
        rst += self.h_bias
        return finish_layer(rst, sizes, self.norm, self.activation, self.ngnn_mlp if self.num_ffn_layers else None)


def _fc_slot(rel: CanonicalEtype) -> tuple[str, CanonicalEtype]:
    """The slot of a relation's ``fc`` in the projections of its end types."""
    return ("fc", rel)


def build_rgat_encoder(
    config: ModelConfig,
    ntypes: Sequence[str],
    canonical_etypes: Sequence[CanonicalEtype],
    edge_input_dims: Mapping[CanonicalEtype, int],
) -> GNNLayerStack:
    """GraphStorm's ``RelationalGATEncoder`` for ``config``.

    Args:
        config: model config.
        ntypes: node types of the graph (unused).
        canonical_etypes: the model's relations.
        edge_input_dims: size of the edge embeddings per relation with edge features.

    Returns:
        The encoder; parameter names ``_layers.<i>.*`` as GraphStorm's.
    """
    rel_names = [as_etype(et) for et in canonical_etypes]
    efeat_rels = [rel for rel in rel_names if rel in config.edge_feat_names]
    for rel in efeat_rels:
        if edge_input_dims.get(rel, config.hidden_size) != config.hidden_size:
            raise ValueError(f"edge embeddings of {rel} must have the hidden size {config.hidden_size}")
    h, heads = config.hidden_size, config.num_heads
    make_layer = functools.partial(RelationalAttLayer, edge_feat_rels=efeat_rels,
                                   edge_feat_mp_op=config.edge_feat_mp_op, self_loop=config.use_self_loop)
    layers = [
        make_layer(h, h, rel_names, heads, activation=True, norm=config.gnn_norm,
                   num_ffn_layers=config.num_ffn_layers_in_gnn)
        for _ in range(config.num_layers - 1)
    ]
    layers.append(make_layer(h, config.out_emb_size, rel_names, heads))
    return GNNLayerStack(layers)
