"""SAGE encoder: parameter names vs model.bin, predictions vs sage_homo_nc's target/, and
equality with DGL's SAGEConv under GraphStorm's wrapper."""

from __future__ import annotations

import pytest
import torch

from handler.nn.sage import build_sage_encoder
from tests.compare import FIXTURES_DIR
from tests.handler.nn.encoder_fixtures import ATOL, max_target_diff, npz_inputs, success_npz_cases
from tests.handler.nn.homogeneous_checks import assert_matches_dgl, assert_refuses_unsupported
from tests.handler.npz_graph import load_config, model_etypes, model_ntypes

VARIANT = "sage_homo_nc"


def test_state_dict_matches_model_bin() -> None:
    gnn = torch.load(FIXTURES_DIR / VARIANT / "artifacts" / "model.bin", weights_only=True)["gnn"]
    ours = build_sage_encoder(load_config(VARIANT), model_ntypes(VARIANT), model_etypes(VARIANT), {})
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in gnn.items()
    }


@pytest.mark.parametrize("case", success_npz_cases(VARIANT))
def test_predictions_match_target(case: str) -> None:
    assert max_target_diff(VARIANT, case, npz_inputs(VARIANT, case)) <= ATOL


@pytest.mark.parametrize(
    "gnn",
    [{}, {"gnn_norm": "layer", "num_ffn_layers_in_gnn": 1, "out_emb_size": 6},
     {"gnn_norm": "batch", "num_layers": 3}],
    ids=["plain", "layernorm_ffn_out", "batchnorm_3layers"],
)
@pytest.mark.parametrize("num_edges", [0, 20])
def test_matches_dgl_sageconv(gnn: dict, num_edges: int) -> None:
    assert_matches_dgl("sage", num_edges, **gnn)


def test_refuses_unsupported() -> None:
    assert_refuses_unsupported("sage")
