"""GAT encoder: equality with DGL's GATConv under GraphStorm's wrapper (no fixture trains gat)."""

from __future__ import annotations

import pytest

from tests.handler.nn.homogeneous_checks import (
    ATTENTION_CASES,
    assert_matches_dgl,
    assert_refuses_unsupported,
)


@ATTENTION_CASES
@pytest.mark.parametrize("num_edges", [0, 20])
def test_matches_dgl_gatconv(gnn: dict, num_edges: int) -> None:
    assert_matches_dgl("gat", num_edges, **gnn)


def test_refuses_unsupported() -> None:
    assert_refuses_unsupported("gat")
