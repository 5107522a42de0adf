"""``handler.nn.rgcn`` against GraphStorm's RGCN steps built from DGL modules, for options the
fixtures do not cover (basis decomposition, norm, feed-forward layers, edge-feature ops); DGL's
outputs are recorded in ``tests/fixtures/dgl_reference/rgcn/``."""

from __future__ import annotations

from handler.nn.rgcn import build_rgcn_encoder
from tests.handler.nn.recorded_reference import assert_matches_recording
from tests.handler.nn.reference_cases import HETERO_EDGES, HETERO_NUM_NODES, ReferenceCase, parametrize_cases


@parametrize_cases("rgcn")
def test_matches_dgl_reference(case: ReferenceCase) -> None:
    assert_matches_recording(case)


def test_relation_weights_follow_sorted_order() -> None:
    """T1: weight[i] is the i-th relation in sorted order, whatever order the caller passes."""
    config = ReferenceCase("rgcn", "default", {}).config()
    encoder = build_rgcn_encoder(config, list(HETERO_NUM_NODES), list(reversed(HETERO_EDGES)), {})
    assert encoder._layers[0].rel_names == sorted(HETERO_EDGES)
