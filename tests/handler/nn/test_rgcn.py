"""``handler.nn.rgcn`` against GraphStorm's RGCN steps built from DGL modules, for options the
fixtures do not cover (basis decomposition, norm, feed-forward layers, edge-feature ops)."""

from __future__ import annotations

import pytest
import torch

from handler.nn.rgcn import build_rgcn_encoder
from tests.handler.nn.dgl_reference import randomize
from tests.handler.nn.hetero_reference import (
    EDGES,
    EFEAT_REL,
    HIDDEN,
    NUM_NODES,
    graphs,
    hetero_config,
    rgcn_reference,
)


@pytest.mark.parametrize(
    "gnn",
    [
        {},
        {"num_bases": 2},
        {"gnn_norm": "layer", "num_ffn_layers_in_gnn": 2, "out_emb_size": 5},
        {"gnn_norm": "batch", "use_self_loop": False},
        *({"edge_feat_name": ["a,r1,b:w"], "edge_feat_mp_op": op} for op in ("concat", "add", "sub", "mul", "div")),
    ],
    ids=lambda gnn: ",".join(f"{k}={v}" for k, v in gnn.items()) or "default",
)
def test_matches_dgl_reference(gnn: dict) -> None:
    config = hetero_config("rgcn", **gnn)
    efeat = {EFEAT_REL: HIDDEN} if config.edge_feat_names else {}
    encoder = build_rgcn_encoder(config, list(NUM_NODES), list(EDGES), efeat).eval()
    randomize(encoder)
    graph, dgl_graph = graphs()
    gen = torch.Generator().manual_seed(1)
    h = {nt: torch.randn(n, HIDDEN, generator=gen) for nt, n in NUM_NODES.items()}
    e_h = {EFEAT_REL: torch.rand(len(EDGES[EFEAT_REL][0]), HIDDEN, generator=gen) + 0.5} if efeat else {}
    with torch.no_grad():
        ours = encoder(graph, h, e_h)
        want = rgcn_reference(encoder, dgl_graph, h, e_h)
    for ntype in NUM_NODES:
        torch.testing.assert_close(ours[ntype], want[ntype], atol=1e-5, rtol=0)


def test_relation_weights_follow_sorted_order() -> None:
    """T1: weight[i] is the i-th relation in sorted order, whatever order the caller passes."""
    config = hetero_config("rgcn")
    encoder = build_rgcn_encoder(config, list(NUM_NODES), list(reversed(EDGES)), {})
    assert encoder._layers[0].rel_names == sorted(EDGES)
