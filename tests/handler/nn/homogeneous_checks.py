"""Checks shared by the SAGE / GAT / GATv2 tests: DGL reference and refused configs."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from handler.errors import UnsupportedConfigError
from handler.nn.encoder import build_encoder
from handler.nn.relational_graph import RelationalGraph
from tests.handler.nn.dgl_reference import homogeneous_config, randomize, reference_forward

NTYPE = "_N"
RELATION = ("_N", "_E", "_N")
# The GAT / GATv2 options checked against DGL (heads, feed-forward layers, out size, depth).
ATTENTION_CASES = pytest.mark.parametrize(
    "gnn",
    [{"num_heads": 2}, {"num_heads": 4, "num_ffn_layers_in_gnn": 1, "out_emb_size": 12},
     {"num_heads": 1, "num_layers": 3}, {"num_heads": 2, "num_layers": 1}],
    ids=["2heads", "4heads_ffn_out", "1head_3layers", "1layer"],
)


def random_graph(num_nodes: int, num_edges: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random edges; the last node keeps zero in-degree, duplicates and self-loops allowed."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    dst = torch.randint(0, num_nodes - 1, (num_edges,), generator=gen)
    return src, dst


def assert_matches_dgl(encoder: str, num_edges: int, **gnn) -> None:
    """Our encoder equals the DGL-conv reference on a random graph (incl. 0 in-degree)."""
    config = homogeneous_config(encoder, **gnn)
    ours = build_encoder(config, [NTYPE], [RELATION], {}).eval()
    randomize(ours)
    num_nodes = 7
    src, dst = random_graph(num_nodes, num_edges, seed=num_edges)
    h = torch.randn(num_nodes, config.hidden_size, generator=torch.Generator().manual_seed(1))
    graph = RelationalGraph({NTYPE: num_nodes}, {RELATION: (src, dst)})
    with torch.no_grad():
        got = ours(graph, {NTYPE: h}, {})[NTYPE]
    expected = reference_forward(encoder, ours, config, src, dst, h)
    assert got.shape == (num_nodes, config.out_emb_size)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def assert_refuses_unsupported(encoder: str) -> None:
    """Edge features and heterogeneous graphs raise ``UnsupportedConfigError``."""
    config = homogeneous_config(encoder)
    with_efeat = dataclasses.replace(config, edge_feat_names={RELATION: ("w",)})
    with pytest.raises(UnsupportedConfigError, match="edge_feat_name"):
        build_encoder(with_efeat, [NTYPE], [RELATION], {RELATION: 1})
    with pytest.raises(UnsupportedConfigError, match="homogeneous"):
        build_encoder(config, ["a", "b"], [("a", "r", "b")], {})
