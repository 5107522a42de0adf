"""SAGE encoder: parameter names vs model.bin, predictions vs sage_homo_nc's target/, and
equality with DGL's SAGEConv under GraphStorm's wrapper (recordings in
``tests/fixtures/dgl_reference/sage/``)."""

from __future__ import annotations

import pytest
import torch

from handler.nn.sage import _PoolSAGEConv, build_sage_encoder
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


def _linear_conv(conv: torch.nn.Module, h: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """The pool SAGEConv through ``nn.functional.linear`` (what the fused calls replace)."""
    f = torch.nn.functional
    pooled = torch.relu(f.linear(h, conv.fc_pool.weight, conv.fc_pool.bias))
    index = dst.unsqueeze(1).expand_as(pooled.index_select(0, src))
    neigh = pooled.new_zeros((h.shape[0], pooled.shape[1])).scatter_reduce_(
        0, index, pooled.index_select(0, src), "amax", include_self=True)
    return f.linear(h, conv.fc_self.weight) + f.linear(neigh, conv.fc_neigh.weight)


def test_conv_equals_linear_calls_bit_for_bit_after_new_weights() -> None:
    """The cached ``weight.t()`` views follow ``load_state_dict``, in-place writes and ``to``."""
    gen = torch.Generator().manual_seed(0)
    conv = _PoolSAGEConv(8, 5)
    h = torch.randn(7, 8, generator=gen)
    src, dst = torch.randint(0, 7, (12,), generator=gen), torch.randint(0, 7, (12,), generator=gen)
    for step in range(3):
        if step == 0:
            conv.load_state_dict({k: torch.randn(v.shape, generator=gen) for k, v in conv.state_dict().items()})
        elif step == 1:
            with torch.no_grad():
                conv.fc_self.weight.mul_(-2.0)
        else:
            conv = conv.double()
            h = h.double()
        with torch.inference_mode():
            assert torch.equal(conv(h, src, dst), _linear_conv(conv, h, src, dst))
