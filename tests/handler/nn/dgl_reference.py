"""Reference forward passes of GraphStorm's homogeneous encoders built from DGL's own conv
modules (``dgl.nn.SAGEConv``, ``GATConv``, ``GATv2Conv``) plus GraphStorm's wrapper steps, with
the weights of one of our encoders. GraphStorm itself is not imported."""

from __future__ import annotations

import dgl
import torch
from dgl import nn as dglnn

from handler.config import ModelConfig

DGL_CONVS = {
    "sage": lambda i, o, heads: dglnn.SAGEConv(i, o, "pool", bias=False),
    "gat": lambda i, o, heads: dglnn.GATConv(i, o // heads, heads, allow_zero_in_degree=True, bias=True),
    "gatv2": lambda i, o, heads: dglnn.GATv2Conv(i, o // heads, heads, allow_zero_in_degree=True, bias=True),
}


def homogeneous_config(encoder: str, **gnn) -> ModelConfig:
    """A node-classification config for ``encoder`` on the homogeneous ``_N`` graph."""
    return ModelConfig.from_dict({"gsf": {
        "basic": {"model_encoder_type": encoder, "node_feat_name": ["_N:feat"]},
        "gnn": {"hidden_size": 8, "num_layers": 2, **gnn},
        "node_classification": {"target_ntype": "_N", "num_classes": 2},
    }})


def randomize(module: torch.nn.Module, seed: int = 0) -> None:
    """Random values for every parameter (and BatchNorm statistics)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                values = torch.randn(tensor.shape, generator=gen) * 0.5
                tensor.copy_(values.abs() + 0.5 if name.endswith("running_var") else values)


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
