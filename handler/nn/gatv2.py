"""GraphStorm 0.5.1's GATv2 encoder (``GATv2Encoder``) for homogeneous graphs, inference only.

Each layer is ``dgl.nn.GATv2Conv(hidden, out // heads, heads, allow_zero_in_degree=True,
bias=True)`` without residual: ``zs = fc_src(h)``, ``zd = fc_dst(h)`` (both with bias), score
``a . leaky_relu(zs_u + zd_v)``, softmax over the in-edges of ``v``, ``out_v = sum alpha zs_u``
(0 for a node without in-edges). No self-loops (GraphStorm builds a self-loop graph and
ignores it). Hidden layers: ReLU and FFN layers; the last layer has neither.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from handler.contract.model_config import ModelConfig
from handler.nn.encoder import GNNLayerStack
from handler.nn.gat import NEGATIVE_SLOPE, build_attention_encoder
from handler.nn.ops import scatter_sum, segment_softmax
from handler.nn.relational_graph import CanonicalEtype


class _GATv2Conv(nn.Module):
    """DGL ``GATv2Conv`` (homogeneous input, no residual, unshared weights; DGL's names)."""

    def __init__(self, in_dim: int, head_dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = head_dim
        self.fc_src = nn.Linear(in_dim, head_dim * heads)
        self.fc_dst = nn.Linear(in_dim, head_dim * heads)
        self.attn = nn.Parameter(torch.empty(1, heads, head_dim))

    def forward(self, h: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Shapes: h ``[N, in]``, src/dst ``[E]`` -> ``[N, heads, head_dim]``."""
        zs = self.fc_src(h).view(-1, self.heads, self.head_dim)
        zd = self.fc_dst(h).view(-1, self.heads, self.head_dim)
        e = F.leaky_relu(zs.index_select(0, src) + zd.index_select(0, dst), NEGATIVE_SLOPE)
        score = (e * self.attn).sum(dim=-1).unsqueeze(dim=2)
        attn = segment_softmax(score, dst, h.shape[0])
        return scatter_sum(zs.index_select(0, src) * attn, dst, h.shape[0])


def build_gatv2_encoder(
    config: ModelConfig,
    ntypes: list[str],
    canonical_etypes: list[CanonicalEtype],
    edge_input_dims: dict[CanonicalEtype, int],
) -> GNNLayerStack:
    """Builds GraphStorm's GATv2 encoder (see ``handler.nn.gat.build_attention_encoder``)."""
    del edge_input_dims
    return build_attention_encoder("gatv2", _GATv2Conv, config, ntypes, canonical_etypes)
