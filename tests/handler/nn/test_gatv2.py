"""GATv2 encoder: equality with DGL's GATv2Conv under GraphStorm's wrapper, via the recordings in
``tests/fixtures/dgl_reference/gatv2/`` (no fixture trains gatv2)."""

from __future__ import annotations

from tests.handler.nn.homogeneous_checks import assert_refuses_unsupported
from tests.handler.nn.recorded_reference import assert_matches_recording
from tests.handler.nn.reference_cases import ReferenceCase, parametrize_cases


@parametrize_cases("gatv2")
def test_matches_dgl_gatv2conv(case: ReferenceCase) -> None:
    assert_matches_recording(case)


def test_refuses_unsupported() -> None:
    assert_refuses_unsupported("gatv2")
