"""Reference forward passes of GraphStorm's homogeneous encoders built from DGL's own conv
modules (``dgl.nn.SAGEConv``, ``GATConv``, ``GATv2Conv``) plus GraphStorm's wrapper steps, with
the weights of one of our encoders. GraphStorm itself is not imported.

Needs DGL: imported only by ``record_dgl_references.py``, never by a test."""

from __future__ import annotations

import dgl
import torch
from dgl import nn as dglnn

from handler.contract.model_config import ModelConfig

DGL_CONVS = {
    "sage": lambda i, o, heads: dglnn.SAGEConv(i, o, "pool", bias=False),
    "gat": lambda i, o, heads: dglnn.GATConv(i, o // heads, heads, allow_zero_in_degree=True, bias=True),
    "gatv2": lambda i, o, heads: dglnn.GATv2Conv(i, o // heads, heads, allow_zero_in_degree=True, bias=True),
}


def reference_forward(
    encoder: str, ours: torch.nn.Module, config: ModelConfig, src: torch.Tensor, dst: torch.Tensor, h: torch.Tensor
) -> torch.Tensor:
    """GraphStorm's encoder forward with DGL convs carrying ``ours``' weights.

    Shapes:
        src/dst ``[E]``, h ``[N, hidden]`` -> ``[N, out]``.
    """
    graph = dgl.graph((src, dst), num_nodes=h.shape[0])
    state = ours.state_dict()
    for i, layer in enumerate(ours._layers):
        last = i == len(ours._layers) - 1
        in_dim = h.shape[1]
        out_dim = config.out_emb_size if last else config.hidden_size
        conv = DGL_CONVS[encoder](in_dim, out_dim, config.num_heads)
        prefix = f"_layers.{i}.conv."
        conv.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        conv.eval()
        with torch.no_grad():
            h = conv(graph, h)
            if encoder == "sage":
                if layer.norm is not None:
                    h = layer.norm(h)
                h = torch.relu(h)  # every layer, the last included
            else:
                h = h.reshape(h.shape[0], -1)
                if not last:
                    h = torch.relu(h)
            if layer.num_ffn_layers > 0:
                h = layer.ngnn_mlp(h)
    return h
