"""``handler.nn.rgat`` against GraphStorm's RGAT steps built from DGL's ``GATConv``."""

from __future__ import annotations

import pytest
import torch

from handler.errors import UnsupportedConfigError
from handler.nn.rgat import build_rgat_encoder
from tests.handler.nn.dgl_reference import randomize
from tests.handler.nn.hetero_reference import (
    EDGES,
    EFEAT_REL,
    HIDDEN,
    NUM_NODES,
    graphs,
    hetero_config,
    rgat_reference,
)


@pytest.mark.parametrize(
    "gnn",
    [{}, {"num_heads": 2, "gnn_norm": "layer", "num_ffn_layers_in_gnn": 1}, {"use_self_loop": False}],
    ids=["default", "heads2-norm-ffn", "no-self-loop"],
)
def test_matches_dgl_reference(gnn: dict) -> None:
    config = hetero_config("rgat", **gnn)
    encoder = build_rgat_encoder(config, list(NUM_NODES), list(EDGES), {}).eval()
    randomize(encoder)
    graph, dgl_graph = graphs()
    gen = torch.Generator().manual_seed(1)
    h = {nt: torch.randn(n, HIDDEN, generator=gen) for nt, n in NUM_NODES.items()}
    with torch.no_grad():
        ours = encoder(graph, h, {})
        want = rgat_reference(encoder, dgl_graph, h)
    for ntype in NUM_NODES:
        torch.testing.assert_close(ours[ntype], want[ntype], atol=1e-5, rtol=0)


def test_edge_features_are_refused() -> None:
    config = hetero_config("rgat", edge_feat_name=[f"{','.join(EFEAT_REL)}:w"])
    with pytest.raises(UnsupportedConfigError, match="edge_feat_name"):
        build_rgat_encoder(config, list(NUM_NODES), list(EDGES), {EFEAT_REL: HIDDEN})
