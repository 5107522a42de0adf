"""GATv2 encoder: equality with DGL's GATv2Conv under GraphStorm's wrapper (no fixture trains gatv2)."""

from __future__ import annotations

import pytest

from tests.handler.nn.homogeneous_checks import assert_matches_dgl, assert_refuses_unsupported


@pytest.mark.parametrize(
    "gnn",
    [{"num_heads": 2}, {"num_heads": 4, "num_ffn_layers_in_gnn": 1, "out_emb_size": 12},
     {"num_heads": 1, "num_layers": 3}, {"num_heads": 2, "num_layers": 1}],
    ids=["2heads", "4heads_ffn_out", "1head_3layers", "1layer"],
)
@pytest.mark.parametrize("num_edges", [0, 20])
def test_matches_dgl_gatv2conv(gnn: dict, num_edges: int) -> None:
    assert_matches_dgl("gatv2", num_edges, **gnn)


def test_refuses_unsupported() -> None:
    assert_refuses_unsupported("gatv2")
