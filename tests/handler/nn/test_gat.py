"""GAT encoder: equality with DGL's GATConv under GraphStorm's wrapper, via the recordings in
``tests/fixtures/dgl_reference/gat/`` (no fixture trains gat)."""

from __future__ import annotations

from tests.handler.nn.homogeneous_checks import assert_refuses_unsupported
from tests.handler.nn.recorded_reference import assert_matches_recording
from tests.handler.nn.reference_cases import ReferenceCase, parametrize_cases


@parametrize_cases("gat")
def test_matches_dgl_gatconv(case: ReferenceCase) -> None:
    assert_matches_recording(case)


def test_refuses_unsupported() -> None:
    assert_refuses_unsupported("gat")
