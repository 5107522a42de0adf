"""``handler.nn.rgat`` against GraphStorm's RGAT steps built from DGL's ``GATConv``; DGL's
outputs are recorded in ``tests/fixtures/dgl_reference/rgat/``. Edge features: the
``rgat_nc_efeat`` fixture (GraphStorm's own model and answers)."""

from __future__ import annotations

import pytest
import torch

from handler.nn.rgat import build_rgat_encoder
from tests.handler.nn.recorded_reference import assert_matches_recording
from tests.handler.nn.reference_cases import (
    HETERO_EDGES,
    HETERO_EFEAT_REL,
    HETERO_HIDDEN,
    HETERO_NUM_NODES,
    ReferenceCase,
    parametrize_cases,
)


@parametrize_cases("rgat")
def test_matches_dgl_reference(case: ReferenceCase) -> None:
    assert_matches_recording(case)


@pytest.mark.parametrize("mp_op", ["concat", "add", "sub", "mul", "div"])
def test_edge_feature_relations_use_gat_conv_with_edge_feat(mp_op: str) -> None:
    """GraphStorm's ``GATConvwithEdgeFeat`` parameters on the relation with edge features (its
    numerics are checked against GraphStorm by the ``rgat_nc_efeat`` fixture); the others keep
    ``GATConv``'s; a relation with edge features but no edges sends nothing."""
    gnn = {"edge_feat_name": [f"{','.join(HETERO_EFEAT_REL)}:w"], "edge_feat_mp_op": mp_op}
    config = ReferenceCase("rgat", "efeat", gnn).config()
    encoder = build_rgat_encoder(config, list(HETERO_NUM_NODES), list(HETERO_EDGES), {HETERO_EFEAT_REL: HETERO_HIDDEN})
    state = encoder.state_dict()
    prefix = f"_layers.0.conv.mods.{HETERO_EFEAT_REL}."
    rows = 2 * HETERO_HIDDEN if mp_op == "concat" else HETERO_HIDDEN
    assert state[prefix + "fc_src.weight"].shape == (HETERO_HIDDEN, rows)
    assert state[prefix + "fc_dst.weight"].shape == (HETERO_HIDDEN, HETERO_HIDDEN)
    assert not any(k.startswith(prefix + "attn") for k in state)
    other = next(rel for rel in HETERO_EDGES if rel != HETERO_EFEAT_REL)
    assert f"_layers.0.conv.mods.{other}.attn_l" in state
    conv = encoder._layers[0].conv[HETERO_EFEAT_REL]
    empty = torch.zeros(0, dtype=torch.int64)
    out = conv(torch.ones(3, HETERO_HIDDEN), torch.ones(2, HETERO_HIDDEN), empty, empty, None)
    assert out.shape == (2, HETERO_HIDDEN) and not out.any()
