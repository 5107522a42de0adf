"""RGCN: GraphStorm's ``RelationalGCNEncoder`` / ``RelGraphConvLayer`` on edge lists.

Per relation r = (s, rel, d): ``mean_{j -> i} h_j @ W_r`` (DGL ``GraphConv(norm='right')``:
sum of messages times 1 / max(in-degree, 1), so nodes without in-edges get 0). Relations with
edge features use GraphStorm's ``GraphConvwithEdgeFeat`` instead:
``sum_{j -> i} op(h_j, e_ji) @ weights / sqrt(in-degree_i)``. Relation outputs are summed per
destination type, then ``+ h_i @ loop_weight + h_bias``, optional norm, activation (hidden
layers only) and feed-forward layers.

``weight[i]`` / ``basis.w_comp[i]`` belong to the i-th canonical edge type in the order of the
training partition: sorted for GConstruct graphs (fixture DEVIATIONS T1), the transform JSON's
order for GSProcessing graphs (``config.relation_order``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from handler.contract.model_config import ModelConfig
from handler.contract.names import as_etype
from handler.nn.encoder import GNNLayerStack, finish_layer, make_norms
from handler.nn.gnn_common import RelationModules
from handler.nn.inference_cache import InferenceCache
from handler.nn.ngnn_mlp import NGNNMLP
from handler.nn.ops import combine_edge_feat, in_degrees, scatter_sum
from handler.nn.relation_plan import RelationPlan
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph


class EdgeFeatConv(nn.Module):
    """GraphStorm's ``GraphConvwithEdgeFeat`` (bias-free, as RGCN builds it).

    Args:
        in_feat: node (and edge embedding) size.
        out_feat: output size.
        mp_op: ``concat``, ``add``, ``sub``, ``mul`` or ``div``.
    """

    def __init__(self, in_feat: int, out_feat: int, mp_op: str) -> None:
        super().__init__()
        self.mp_op = mp_op
        rows = 2 * in_feat if mp_op == "concat" else in_feat
        self.weights = nn.Parameter(torch.empty(rows, out_feat))

    def forward(
        self,
        h_src: torch.Tensor,
        src: torch.Tensor,
        dst: torch.Tensor,
        num_dst: int,
        e_h: torch.Tensor | None,
    ) -> torch.Tensor:
        """Messages of one relation, summed per destination node.

        Shapes:
            h_src: [num_src, in_feat], src/dst: [E], e_h: [E, in_feat] -> [num_dst, out_feat].
        """
        if src.numel() == 0:
            return h_src.new_zeros((num_dst, self.weights.shape[1]))
        if e_h is None:
            raise ValueError("a relation with edge features got no edge features")
        x = combine_edge_feat(h_src.index_select(0, src), e_h, self.mp_op)
        norm = torch.pow(in_degrees(dst, num_dst), -0.5)
        return scatter_sum((x @ self.weights) * norm.index_select(0, dst).unsqueeze(1), dst, num_dst)


class WeightBasis(nn.Module):
    """DGL's ``WeightBasis``: relation weights as combinations of ``num_bases`` bases."""

    def __init__(self, shape: tuple[int, int], num_bases: int, num_outputs: int) -> None:
        super().__init__()
        self.shape = shape
        self.weight = nn.Parameter(torch.empty(num_bases, *shape))
        self.w_comp = nn.Parameter(torch.empty(num_outputs, num_bases))

    def forward(self) -> torch.Tensor:
        """The composed weights, [num_outputs, *shape]."""
        num_bases = self.weight.shape[0]
        return (self.w_comp @ self.weight.view(num_bases, -1)).view(-1, *self.shape)


class RelGraphConvLayer(InferenceCache):
    """One RGCN layer (GraphStorm ``RelGraphConvLayer``, bias and weights on), fused.

    All relations are computed at once: per source node type, one matmul with the
    horizontally concatenated weights of its relations (and the self-loop weight) projects
    every node for every relation; one gather picks each edge's message, one product applies
    the per-relation ``1 / in-degree``, one ``index_add_`` sums them into a tensor holding
    every node of every type (``handler.nn.relation_plan``). Relations with edge features
    keep their own convolution.

    Args:
        in_feat: input size.
        out_feat: output size.
        rel_names: canonical edge types in weight order (sorted).
        num_bases: number of bases; fewer than relations means basis decomposition.
        edge_feat_rels: relations that use edge features.
        edge_feat_mp_op: how edge embeddings join source embeddings.
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
        num_bases: int,
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
        if edge_feat_rels:
            self.conv = RelationModules(
                {str(rel): EdgeFeatConv(in_feat, out_feat, edge_feat_mp_op) for rel in edge_feat_rels}
            )
        self.edge_feat_rels = set(edge_feat_rels)
        if num_bases < len(self.rel_names):
            self.basis = WeightBasis((in_feat, out_feat), num_bases, len(self.rel_names))
        else:
            self.weight = nn.Parameter(torch.empty(len(self.rel_names), in_feat, out_feat))
        self.norm = make_norms(norm, {nt for rel in self.rel_names for nt in (rel[0], rel[2])}, out_feat)
        self.h_bias = nn.Parameter(torch.empty(out_feat))
        if self_loop:
            self.loop_weight = nn.Parameter(torch.empty(in_feat, out_feat))
        self.ngnn_mlp = NGNNMLP(out_feat, num_ffn_layers)
        self.num_ffn_layers = num_ffn_layers
        self._plain = [rel for rel in self.rel_names if rel not in self.edge_feat_rels]
        ntypes = sorted({nt for rel in self.rel_names for nt in (rel[0], rel[2])})
        self._slot_keys: dict[str, list[CanonicalEtype | str]] = {
            nt: [*(r for r in self._plain if r[0] == nt), *(["loop"] if self_loop else [])] for nt in ntypes
        }
        # Identifies the slot layout in the per-graph plan cache (layers alike share one plan).
        self._layout = repr(("rgcn", self._slot_keys, self_loop))

    def _slots(self, sizes: Mapping[str, int]) -> dict[str, list]:
        """Node type -> its projection's slots: relations it is the source of, then the self-loop."""
        loop = ["loop"] if self.self_loop else []
        return {nt: self._slot_keys.get(nt, loop) for nt in sizes}

    def _fused_weight(self, ntype: str) -> tuple[torch.Tensor, None]:
        """``[in_feat, len(slots) * out_feat]``: the weights of ``ntype``'s slots side by side."""
        def compute() -> tuple[torch.Tensor, None]:
            weights = self.basis() if hasattr(self, "basis") else self.weight
            keys = self._slot_keys.get(ntype, ["loop"] if self.self_loop else [])
            # A slot is a relation or the str "loop".
            cols = [self.loop_weight if isinstance(k, str) else weights[self.rel_names.index(k)] for k in keys]
            return torch.cat(cols, dim=1).contiguous(), None
        return self.derived(("w", ntype), compute)

    def forward(
        self,
        graph: RelationalGraph,
        h: Mapping[str, torch.Tensor],
        edge_embs: Mapping[CanonicalEtype, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """One round of message passing.

        Args:
            graph: the graph.
            h: node type -> embeddings of all its nodes.
            edge_embs: canonical edge type -> edge embeddings (relations with edge features).

        Returns:
            node type -> new embeddings.

        Shapes:
            h[nt]: [num_nodes[nt], in_feat] -> [num_nodes[nt], out_feat].
        """
        if not h:
            return {}
        self.refresh_derived()
        sizes = {nt: x.shape[0] for nt, x in h.items()}
        plan = graph.memoized((self._layout, tuple(sizes.items())),
                              lambda: RelationPlan(graph, sizes, self._slots(sizes), self._plain,
                                                   [(0, _relation_slot)]))
        rst = next(iter(h.values())).new_zeros((plan.num_nodes, self.out_feat))
        for rel in self.edge_feat_rels:
            stype, _, dtype = rel
            if stype in h and dtype in h:
                src, dst = graph.edges[rel]
                start = plan.node_offset[dtype]
                rst[start:start + sizes[dtype]] += self.conv[rel](
                    h[stype], src, dst, sizes[dtype], edge_embs.get(rel))
        if plan.projected:
            proj = plan.project(h, self._fused_weight)
            if plan.num_edges:
                msgs = proj.index_select(0, plan.edge_rows(0, _relation_slot)) * plan.inverse_in_degree()
                rst.index_add_(0, plan.dst_row, msgs)
            if self.self_loop:
                rst += proj.index_select(0, plan.node_rows("loop"))
        rst += self.h_bias
        return finish_layer(rst, sizes, self.norm, self.activation, self.ngnn_mlp if self.num_ffn_layers else None)


def _relation_slot(rel: CanonicalEtype) -> CanonicalEtype:
    """The slot of a relation's weight in its source type's projection (its own name)."""
    return rel


def build_rgcn_encoder(
    config: ModelConfig,
    ntypes: Sequence[str],
    canonical_etypes: Sequence[CanonicalEtype],
    edge_input_dims: Mapping[CanonicalEtype, int],
) -> GNNLayerStack:
    """GraphStorm's ``RelationalGCNEncoder`` for ``config``.

    Args:
        config: model config.
        ntypes: node types of the graph (unused: RGCN's parameters are per relation).
        canonical_etypes: the model's relations, any order (put in training's order here:
            ``config.relation_order`` when given, else sorted).
        edge_input_dims: size of the edge embeddings per relation with edge features.

    Returns:
        The encoder; parameter names ``_layers.<i>.*`` as GraphStorm's.
    """
    rel_names = sorted(as_etype(et) for et in canonical_etypes)
    if config.relation_order:
        if set(config.relation_order) != set(rel_names):
            raise ValueError("config.relation_order does not hold the model's relations")
        rel_names = list(config.relation_order)
    num_bases = config.num_bases
    if num_bases < 0 or num_bases > len(rel_names):
        num_bases = len(rel_names)
    efeat_rels = [rel for rel in rel_names if rel in config.edge_feat_names]
    for rel in efeat_rels:
        if edge_input_dims.get(rel, config.hidden_size) != config.hidden_size:
            raise ValueError(f"edge embeddings of {rel} must have the hidden size {config.hidden_size}")
    h = config.hidden_size
    make_layer = functools.partial(RelGraphConvLayer, edge_feat_rels=efeat_rels,
                                   edge_feat_mp_op=config.edge_feat_mp_op, self_loop=config.use_self_loop)
    layers = [
        make_layer(h, h, rel_names, num_bases, activation=True, norm=config.gnn_norm,
                   num_ffn_layers=config.num_ffn_layers_in_gnn)
        for _ in range(config.num_layers - 1)
    ]
    layers.append(make_layer(h, config.out_emb_size, rel_names, num_bases))
    return GNNLayerStack(layers)
