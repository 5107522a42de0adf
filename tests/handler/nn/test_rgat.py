"""``handler.nn.rgat`` against GraphStorm's RGAT steps built from DGL's ``GATConv``; DGL's
outputs are recorded in ``tests/fixtures/dgl_reference/rgat/``."""

from __future__ import annotations

import pytest

from handler.contract.errors import UnsupportedConfigError
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


def test_edge_features_are_refused() -> None:
    config = ReferenceCase("rgat", "efeat", {"edge_feat_name": [f"{','.join(HETERO_EFEAT_REL)}:w"]}).config()
    with pytest.raises(UnsupportedConfigError, match="edge_feat_name"):
        build_rgat_encoder(config, list(HETERO_NUM_NODES), list(HETERO_EDGES), {HETERO_EFEAT_REL: HETERO_HIDDEN})
