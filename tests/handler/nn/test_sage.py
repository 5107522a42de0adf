"""SAGE encoder: parameter names vs model.bin, predictions vs sage_homo_nc's target/, and
equality with DGL's SAGEConv under GraphStorm's wrapper (recordings in
``tests/fixtures/dgl_reference/sage/``)."""

from __future__ import annotations

import pytest
import torch

from handler.nn.sage import build_sage_encoder
from tests.compare import FIXTURES_DIR
from tests.handler.nn.encoder_fixtures import ATOL, max_target_diff, npz_inputs, success_npz_cases
from tests.handler.nn.homogeneous_checks import assert_refuses_unsupported
from tests.handler.nn.recorded_reference import assert_matches_recording
from tests.handler.nn.reference_cases import ReferenceCase, parametrize_cases
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


@parametrize_cases("sage")
def test_matches_dgl_sageconv(case: ReferenceCase) -> None:
    assert_matches_recording(case)


def test_refuses_unsupported() -> None:
    assert_refuses_unsupported("sage")
