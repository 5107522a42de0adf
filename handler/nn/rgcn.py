"""RGCN: GraphStorm's ``RelationalGCNEncoder`` / ``RelGraphConvLayer`` on edge lists.

Per relation r = (s, rel, d): ``mean_{j -> i} h_j @ W_r`` (DGL ``GraphConv(norm='right')``:
sum of messages times 1 / max(in-degree, 1), so nodes without in-edges get 0). Relations with
edge features use GraphStorm's ``GraphConvwithEdgeFeat`` instead:
``sum_{j -> i} op(h_j, e_ji) @ weights / sqrt(in-degree_i)``. Relation outputs are summed per
destination type, then ``+ h_i @ loop_weight + h_bias``, optional norm, activation (hidden
layers only) and feed-forward layers.

``weight[i]`` / ``basis.w_comp[i]`` belong to the i-th canonical edge type in sorted order:
the order of the training partition (fixture DEVIATIONS T1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from handler.config import ModelConfig
from handler.nn.encoder import GNNLayerStack, make_norms
from handler.nn.ngnn_mlp import NGNNMLP
from handler.nn.ops import in_degrees, scatter_sum
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
        x = h_src[src]
        if self.mp_op == "concat":
            x = torch.cat([x, e_h], dim=1)
        elif self.mp_op == "add":
            x = x + e_h
        elif self.mp_op == "sub":
            x = x - e_h
        elif self.mp_op == "mul":
            x = x * e_h
        else:
            x = x / e_h
        norm = torch.pow(in_degrees(dst, num_dst), -0.5)
        return scatter_sum((x @ self.weights) * norm[dst].unsqueeze(1), dst, num_dst)


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


class RelGraphConvLayer(nn.Module):
    """One RGCN layer (GraphStorm ``RelGraphConvLayer``, bias and weights on).

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
            self.conv = nn.Module()
            self.conv.mods = nn.ModuleDict(
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
        weights = self.basis() if hasattr(self, "basis") else self.weight
        agg: dict[str, torch.Tensor] = {}
        for i, rel in enumerate(self.rel_names):
            stype, _, dtype = rel
            if stype not in h or dtype not in h:
                continue
            src, dst = graph.edges[rel]
            num_dst = h[dtype].shape[0]
            if rel in self.edge_feat_rels:
                msg = self.conv.mods[str(rel)](h[stype], src, dst, num_dst, edge_embs.get(rel))
            else:
                msg = _mean_conv(h[stype], src, dst, num_dst, weights[i])
            agg[dtype] = agg[dtype] + msg if dtype in agg else msg
        out = {}
        for ntype, h_dst in h.items():
            rst = agg.get(ntype)
            if rst is None:
                rst = h_dst.new_zeros((h_dst.shape[0], self.out_feat))
            if self.self_loop:
                rst = rst + h_dst @ self.loop_weight
            rst = rst + self.h_bias
            if self.norm is not None and rst.shape[0] > 0:
                rst = self.norm[ntype](rst)
            if self.activation:
                rst = torch.relu(rst)
            out[ntype] = self.ngnn_mlp(rst)
        return out


def _mean_conv(
    h_src: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, num_dst: int, weight: torch.Tensor
) -> torch.Tensor:
    """DGL ``GraphConv(norm='right')`` with an external weight (same operation order)."""
    if weight.shape[0] > weight.shape[1]:
        rst = scatter_sum((h_src @ weight)[src], dst, num_dst)
    else:
        rst = scatter_sum(h_src[src], dst, num_dst) @ weight
    return rst * (1.0 / in_degrees(dst, num_dst).clamp(min=1)).unsqueeze(1)


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
        canonical_etypes: the model's relations, any order (sorted here, as in training).
        edge_input_dims: size of the edge embeddings per relation with edge features.

    Returns:
        The encoder; parameter names ``_layers.<i>.*`` as GraphStorm's.
    """
    rel_names = sorted(tuple(et) for et in canonical_etypes)
    num_bases = config.num_bases
    if num_bases < 0 or num_bases > len(rel_names):
        num_bases = len(rel_names)
    efeat_rels = [rel for rel in rel_names if rel in config.edge_feat_names]
    for rel in efeat_rels:
        if edge_input_dims.get(rel, config.hidden_size) != config.hidden_size:
            raise ValueError(f"edge embeddings of {rel} must have the hidden size {config.hidden_size}")
    h = config.hidden_size
    common = dict(edge_feat_rels=efeat_rels, edge_feat_mp_op=config.edge_feat_mp_op,
                  self_loop=config.use_self_loop)
    layers = [
        RelGraphConvLayer(h, h, rel_names, num_bases, activation=True, norm=config.gnn_norm,
                          num_ffn_layers=config.num_ffn_layers_in_gnn, **common)
        for _ in range(config.num_layers - 1)
    ]
    layers.append(RelGraphConvLayer(h, config.out_emb_size, rel_names, num_bases, **common))
    return GNNLayerStack(layers)
