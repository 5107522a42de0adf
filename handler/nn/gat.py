"""GraphStorm 0.5.1's GAT encoder (``GATEncoder``) for homogeneous graphs, inference only.

Each layer is ``dgl.nn.GATConv(hidden, out // heads, heads, allow_zero_in_degree=True,
bias=True)`` without residual: ``z = fc(h)``, score ``leaky_relu(a_l . z_u + a_r . z_v)``,
softmax over the in-edges of ``v``, ``out_v = sum alpha z_u + bias`` (just the bias for a node
without in-edges). GraphStorm's wrapper builds a self-loop graph and then ignores it, so there
are no self-loops. Hidden layers: ReLU and FFN layers; the last layer has neither.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from handler.contract.errors import UnsupportedConfigError
from handler.contract.model_config import ModelConfig
from handler.nn.encoder import GNNLayerStack
from handler.nn.gnn_common import HomogeneousLayer, homogeneous_relation, reject_edge_features
from handler.nn.ngnn_mlp import NGNNMLP
from handler.nn.ops import scatter_sum, segment_softmax
from handler.nn.relational_graph import CanonicalEtype

NEGATIVE_SLOPE = 0.2


class _GATConv(nn.Module):
    """DGL ``GATConv`` (homogeneous input, no residual, explicit bias; DGL's parameter names)."""

    def __init__(self, in_dim: int, head_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = head_dim
        self.fc = nn.Linear(in_dim, head_dim * heads, bias=False)
        self.attn_l = nn.Parameter(torch.empty(1, heads, head_dim))
        self.attn_r = nn.Parameter(torch.empty(1, heads, head_dim))
        self.bias = nn.Parameter(torch.empty(heads * head_dim))

    def forward(self, h: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Shapes: h ``[N, in]``, src/dst ``[E]`` -> ``[N, heads, head_dim]``."""
        z = self.fc(h).view(-1, self.heads, self.head_dim)
        el = (z * self.attn_l).sum(dim=-1).unsqueeze(-1)
        er = (z * self.attn_r).sum(dim=-1).unsqueeze(-1)
        score = F.leaky_relu(el.index_select(0, src) + er.index_select(0, dst), NEGATIVE_SLOPE)
        attn = segment_softmax(score, dst, h.shape[0])
        out = scatter_sum(z.index_select(0, src) * attn, dst, h.shape[0])
        return out + self.bias.view(1, self.heads, self.head_dim)


class AttentionLayer(HomogeneousLayer):
    """GraphStorm's ``GATConv`` / ``GATv2Conv`` wrapper: conv, optional ReLU, heads
    concatenated, FFN layers.

    Args:
        ntype: the node type; relation: the single relation.
        conv: the attention conv, ``conv(h, src, dst) -> [N, heads, head_dim]``.
        out_dim: ``heads * head_dim``, the layer's output size.
        activation: ReLU after the conv (hidden layers).
        num_ffn_layers: FFN layers at the end.
    """

    def __init__(
        self, ntype: str, relation: CanonicalEtype, conv: nn.Module, out_dim: int, activation: bool,
        num_ffn_layers: int,
    ) -> None:
        super().__init__(ntype, relation)
        self.conv = conv
        self.activation = activation
        self.num_ffn_layers = num_ffn_layers
        self.ngnn_mlp = NGNNMLP(out_dim, num_ffn_layers)

    def compute(self, h: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Shapes: h ``[N, in]``, src/dst ``[E]`` -> ``[N, heads * head_dim]``."""
        out = self.conv(h, src, dst)
        if self.activation:
            out = torch.relu(out)
        out = out.reshape(out.shape[0], -1)
        if self.num_ffn_layers > 0:
            out = self.ngnn_mlp(out)
        return out


def build_attention_encoder(
    encoder: str,
    make_conv,
    config: ModelConfig,
    ntypes: list[str],
    canonical_etypes: list[CanonicalEtype],
) -> GNNLayerStack:
    """GAT / GATv2 stack: hidden layers with ReLU and FFN layers, a plain last layer.

    Args:
        encoder: encoder name for error messages.
        make_conv: ``make_conv(in_dim, head_dim, heads) -> conv module``.
        config: ``ModelConfig`` (hidden_size, out_emb_size, num_layers, num_heads,
            num_ffn_layers_in_gnn, edge_feat_names).
        ntypes: the model's node types (exactly one).
        canonical_etypes: the model's relations (exactly one, ``ntype -> ntype``).

    Raises:
        UnsupportedConfigError: not a homogeneous model, edge features configured, or heads
            not dividing the layer sizes.
    """
    relation = homogeneous_relation(encoder, ntypes, canonical_etypes)
    reject_edge_features(encoder, config.edge_feat_names)
    hidden, out_dim, heads = config.hidden_size, config.out_emb_size, config.num_heads
    if hidden % heads or out_dim % heads:
        raise UnsupportedConfigError(f"num_heads: {heads} does not divide the {encoder} layer sizes")
    layers = []
    for i in range(config.num_layers):
        last = i == config.num_layers - 1
        layer_dim = out_dim if last else hidden
        conv = make_conv(hidden, layer_dim // heads, heads)
        layers.append(AttentionLayer(
            ntypes[0], relation, conv, layer_dim, activation=not last,
            num_ffn_layers=0 if last else config.num_ffn_layers_in_gnn,
        ))
    return GNNLayerStack(layers)


def build_gat_encoder(
    config: ModelConfig,
    ntypes: list[str],
    canonical_etypes: list[CanonicalEtype],
    edge_input_dims: dict[CanonicalEtype, int],
) -> GNNLayerStack:
    """Builds GraphStorm's GAT encoder (see ``build_attention_encoder``; edge_input_dims unused)."""
    del edge_input_dims
    return build_attention_encoder("gat", _GATConv, config, ntypes, canonical_etypes)
