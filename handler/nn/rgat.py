"""RGAT: GraphStorm's ``RelationalGATEncoder`` / ``RelationalAttLayer`` on edge lists.

Per relation r = (s, rel, d), DGL ``GATConv`` (no bias, no residual): ``z = h @ fc^T`` split in
heads, ``e_ji = LeakyReLU_0.2(<z_j, attn_l> + <z_i, attn_r>)``, softmax over i's in-edges,
``sum_j a_ji z_j`` (0 for nodes without in-edges). Relation outputs are summed per destination
type and flattened over heads, then ``+ h_i @ loop_weight + h_bias``, optional norm, activation
(hidden layers only) and feed-forward layers. Parameters are keyed by relation name, so the
relation order does not matter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from handler.contract.errors import UnsupportedConfigError
from handler.contract.model_config import ModelConfig
from handler.contract.names import as_etype
from handler.nn.encoder import GNNLayerStack, finish_layer, make_norms
from handler.nn.gnn_common import RelationModules
from handler.nn.inference_cache import InferenceCache
from handler.nn.ngnn_mlp import NGNNMLP
from handler.nn.ops import segment_softmax
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
    """

    def __init__(
        self,
        in_feat: int,
        out_feat: int,
        rel_names: Sequence[CanonicalEtype],
        num_heads: int,
        *,
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
        self.conv = RelationModules(
            {str(rel): GATConv(in_feat, out_feat // num_heads, num_heads) for rel in self.rel_names}
        )
        self.norm = make_norms(norm, {nt for rel in self.rel_names for nt in (rel[0], rel[2])}, out_feat)
        self.h_bias = nn.Parameter(torch.empty(out_feat))
        if self_loop:
            self.loop_weight = nn.Parameter(torch.empty(in_feat, out_feat))
        self.ngnn_mlp = NGNNMLP(out_feat, num_ffn_layers)
        self.num_ffn_layers = num_ffn_layers
        # Identifies the slot layout in the per-graph plan cache (layers alike share one plan).
        self._layout = repr(("rgat", self.rel_names, self_loop))

    def _slots(self, ntype: str) -> list:
        """Slots of ``ntype``'s projection: the ``fc`` of every relation it is an end of, then
        the self-loop."""
        keys = [("fc", rel) for rel in self.rel_names if ntype in (rel[0], rel[2])]
        return [*keys, "loop"] if self.self_loop else keys

    def _fused_weight(self, ntype: str) -> tuple[torch.Tensor, None]:
        """``[in_feat, S * out_feat]``: ``ntype``'s slot weights side by side."""
        return self.derived(("w", ntype), lambda: (torch.cat(
            [self.loop_weight if key == "loop" else self.conv[key[1]].fc.weight.t()
             for key in self._slots(ntype)], dim=1).contiguous(), None))

    def _attention_vectors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``attn_l`` and ``attn_r`` of every relation, each ``[R, heads, out_feat / heads]``."""
        return self.derived("attn", lambda: tuple(
            torch.cat([getattr(self.conv[rel], name) for rel in self.rel_names])
            for name in ("attn_l", "attn_r")))

    def forward(
        self,
        graph: RelationalGraph,
        h: Mapping[str, torch.Tensor],
        edge_embs: Mapping[CanonicalEtype, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """One round of message passing, all relations at once (``edge_embs`` unused: no edge
        features in RGAT here).

        One matmul per node type projects it for every relation (and the self-loop); one
        softmax runs over all edges grouped by (relation, destination); one ``index_add_``
        sums every relation's messages (``handler.nn.relation_plan``).

        Shapes:
            h[nt]: [num_nodes[nt], in_feat] -> [num_nodes[nt], out_feat].
        """
        if not h:
            return {}
        self.refresh_derived()
        sizes = {nt: x.shape[0] for nt, x in h.items()}
        plan = graph.memoized((self._layout, tuple(sizes.items())), lambda: RelationPlan(
            graph, sizes, {nt: self._slots(nt) for nt in sizes}, self.rel_names))
        rst = next(iter(h.values())).new_zeros((plan.num_nodes, self.out_feat))
        if plan.projected:
            proj = plan.project(h, self._fused_weight)
            if plan.num_edges:
                heads = self.conv[plan.relations[0]].num_heads
                z_src = proj.index_select(0, plan.edge_rows(0, lambda rel: ("fc", rel))).view(-1, heads, self.out_feat // heads)
                z_dst = proj.index_select(0, plan.edge_rows(2, lambda rel: ("fc", rel))).view(z_src.shape)
                rel_ids = plan.relation_ids(self.rel_names)
                attn_l, attn_r = (a.index_select(0, rel_ids) for a in self._attention_vectors())
                scores = nn.functional.leaky_relu((z_src * attn_l).sum(-1) + (z_dst * attn_r).sum(-1), 0.2)
                attn = segment_softmax(scores, plan.bucket, plan.num_buckets)
                rst.index_add_(0, plan.dst_row, (z_src * attn.unsqueeze(-1)).view(-1, self.out_feat))
            if self.self_loop:
                rst += proj.index_select(0, plan.node_rows("loop"))
        rst += self.h_bias
        return finish_layer(rst, sizes, self.norm, self.activation, self.ngnn_mlp if self.num_ffn_layers else None)


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
        edge_input_dims: edge embedding sizes; must be empty (edge features unsupported).

    Returns:
        The encoder; parameter names ``_layers.<i>.*`` as GraphStorm's.

    Raises:
        UnsupportedConfigError: the model uses edge features.
    """
    if config.edge_feat_names:
        raise UnsupportedConfigError("edge_feat_name: edge features are not supported with rgat")
    rel_names = [as_etype(et) for et in canonical_etypes]
    h, heads = config.hidden_size, config.num_heads
    layers = [
        RelationalAttLayer(h, h, rel_names, heads, activation=True, self_loop=config.use_self_loop,
                           norm=config.gnn_norm, num_ffn_layers=config.num_ffn_layers_in_gnn)
        for _ in range(config.num_layers - 1)
    ]
    layers.append(RelationalAttLayer(h, config.out_emb_size, rel_names, heads,
                                     self_loop=config.use_self_loop))
    return GNNLayerStack(layers)
