"""GNN encoders: the layer stack and the registry ``encoder_type -> builder``.

A builder is ``builder(config, ntypes, canonical_etypes, edge_input_dims) -> nn.Module`` whose
``forward(graph, h, edge_inputs)`` maps node type -> embeddings to node type -> embeddings,
and whose ``state_dict`` keys equal GraphStorm's ``gnn`` keys. Builders are imported on first
use, so a model loads only the encoder it needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence

import torch
from torch import nn

from handler.contract.errors import UnsupportedConfigError
from handler.contract.model_config import ModelConfig
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph

EncoderBuilder = Callable[
    [ModelConfig, Sequence[str], Sequence[CanonicalEtype], Mapping[CanonicalEtype, int]], nn.Module
]

# encoder_type -> "module:function"
_BUILDERS = {
    "rgcn": "handler.nn.rgcn:build_rgcn_encoder",
    "rgat": "handler.nn.rgat:build_rgat_encoder",
    "hgt": "handler.nn.hgt:build_hgt_encoder",
    "sage": "handler.nn.sage:build_sage_encoder",
    "gat": "handler.nn.gat:build_gat_encoder",
    "gatv2": "handler.nn.gatv2:build_gatv2_encoder",
}


def get_encoder_builder(encoder_type: str) -> EncoderBuilder:
    """The builder of ``encoder_type``.

    Raises:
        UnsupportedConfigError: no builder for this encoder type.
    """
    if encoder_type not in _BUILDERS:
        raise UnsupportedConfigError(f"model_encoder_type: {encoder_type!r} is not supported")
    module_name, func = _BUILDERS[encoder_type].split(":")
    return getattr(importlib.import_module(module_name), func)


def build_encoder(
    config: ModelConfig,
    ntypes: Sequence[str],
    canonical_etypes: Sequence[CanonicalEtype],
    edge_input_dims: Mapping[CanonicalEtype, int],
) -> nn.Module:
    """Builds the GNN encoder ``config.encoder_type`` (see the module docstring)."""
    return get_encoder_builder(config.encoder_type)(config, ntypes, canonical_etypes, edge_input_dims)


class GNNLayerStack(nn.Module):
    """Layers applied in turn; GraphStorm's encoders keep them in ``_layers``.

    Every layer sees the same edge embeddings: GraphStorm gathers each block's edge features
    from the same payload graph.
    """

    def __init__(self, layers: Iterable[nn.Module]) -> None:
        super().__init__()
        self._layers = nn.ModuleList(layers)

    def forward(
        self,
        graph: RelationalGraph,
        h: Mapping[str, torch.Tensor],
        edge_inputs: Mapping[CanonicalEtype, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """Runs all layers.

        Shapes:
            h[nt]: [num_nodes[nt], in_dim] -> [num_nodes[nt], out_dim].
        """
        for layer in self._layers:
            h = layer(graph, h, edge_inputs)
        return dict(h)


def make_norms(norm: str | None, ntypes: Iterable[str], dim: int) -> nn.ModuleDict | None:
    """Per-node-type ``BatchNorm1d`` / ``LayerNorm`` (GraphStorm ``gnn_norm``), or ``None``."""
    if norm is None:
        return None
    make = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}[norm]
    return nn.ModuleDict({nt: make(dim) for nt in sorted(ntypes)})


def finish_layer(
    rst: torch.Tensor,
    sizes: Mapping[str, int],
    norm: nn.ModuleDict | None,
    activation: bool,
    ffn: nn.Module | None,
) -> dict[str, torch.Tensor]:
    """Per-type norm, ReLU and feed-forward layers of the rows of every node type, split by type.

    Shapes:
        rst: [sum(sizes), dim] -> {nt: [sizes[nt], dim]}.
    """
    if norm is None:
        if activation:
            rst = torch.relu_(rst)
        if ffn is not None:
            rst = ffn(rst)
        return dict(zip(sizes, rst.split_with_sizes(list(sizes.values())), strict=True))
    out = {}
    for ntype, part in zip(sizes, rst.split_with_sizes(list(sizes.values())), strict=True):
        if part.shape[0] > 0:
            part = norm[ntype](part)
        if activation:
            part = torch.relu(part)
        out[ntype] = part if ffn is None else ffn(part)
    return out
