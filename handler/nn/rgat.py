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

from handler.config import ModelConfig
from handler.errors import UnsupportedConfigError
from handler.nn.encoder import GNNLayerStack, make_norms
from handler.nn.ngnn_mlp import NGNNMLP
from handler.nn.ops import scatter_sum, segment_softmax
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph


class GATConv(nn.Module):
    """DGL's ``GATConv(in_feat, out_feat, num_heads, bias=False)`` parameters and forward.

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

    def forward(
        self, h_src: torch.Tensor, h_dst: torch.Tensor, src: torch.Tensor, dst: torch.Tensor
    ) -> torch.Tensor:
        """Attention-weighted messages of one relation, summed per destination node.

        Shapes:
            h_src: [num_src, in_feat], h_dst: [num_dst, in_feat], src/dst: [E]
            -> [num_dst, num_heads, out_feat].
        """
        num_dst = h_dst.shape[0]
        if src.numel() == 0:
            return h_dst.new_zeros((num_dst, self.num_heads, self.out_feat))
        z_src = self.fc(h_src).view(-1, self.num_heads, self.out_feat)
        z_dst = self.fc(h_dst).view(-1, self.num_heads, self.out_feat)
        el = (z_src * self.attn_l).sum(dim=-1)
        er = (z_dst * self.attn_r).sum(dim=-1)
        scores = nn.functional.leaky_relu(el[src] + er[dst], negative_slope=0.2)
        attn = segment_softmax(scores, dst, num_dst)
        return scatter_sum(z_src[src] * attn.unsqueeze(-1), dst, num_dst)


class RelationalAttLayer(nn.Module):
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
        self.conv = nn.Module()
        self.conv.mods = nn.ModuleDict(
            {str(rel): GATConv(in_feat, out_feat // num_heads, num_heads) for rel in self.rel_names}
        )
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
        """One round of message passing (``edge_embs`` unused: no edge features in RGAT here).

        Shapes:
            h[nt]: [num_nodes[nt], in_feat] -> [num_nodes[nt], out_feat].
        """
        agg: dict[str, torch.Tensor] = {}
        for rel in self.rel_names:
            stype, _, dtype = rel
            if stype not in h or dtype not in h:
                continue
            src, dst = graph.edges[rel]
            msg = self.conv.mods[str(rel)](h[stype], h[dtype], src, dst)
            agg[dtype] = agg[dtype] + msg if dtype in agg else msg
        out = {}
        for ntype, h_dst in h.items():
            rst = agg.get(ntype)
            rst = h_dst.new_zeros((h_dst.shape[0], self.out_feat)) if rst is None else rst.flatten(1)
            if rst.shape[0] == 0:
                out[ntype] = rst
                continue
            if self.self_loop:
                rst = rst + h_dst @ self.loop_weight
            rst = rst + self.h_bias
            if self.norm is not None:
                rst = self.norm[ntype](rst)
            if self.activation:
                rst = torch.relu(rst)
            out[ntype] = self.ngnn_mlp(rst)
        return out


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
    rel_names = [tuple(et) for et in canonical_etypes]
    h, heads = config.hidden_size, config.num_heads
    layers = [
        RelationalAttLayer(h, h, rel_names, heads, activation=True, self_loop=config.use_self_loop,
                           norm=config.gnn_norm, num_ffn_layers=config.num_ffn_layers_in_gnn)
        for _ in range(config.num_layers - 1)
    ]
    layers.append(RelationalAttLayer(h, config.out_emb_size, rel_names, heads,
                                     self_loop=config.use_self_loop))
    return GNNLayerStack(layers)
