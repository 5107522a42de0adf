"""``handler.nn.inference_cache``: derived tensors follow the parameters."""

from __future__ import annotations

import torch
from torch import nn

from handler.nn.inference_cache import InferenceCache


class _Doubled(InferenceCache):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(2))

    def forward(self) -> torch.Tensor:
        self.refresh_derived()
        return self.derived("double", lambda: self.weight * 2)


def test_computed_once_without_autograd() -> None:
    module = _Doubled()
    first = module()
    assert module() is first
    assert not first.requires_grad


def test_load_state_dict_and_in_place_writes_refresh() -> None:
    module = _Doubled()
    module()
    module.load_state_dict({"weight": torch.full((2,), 3.0)})
    torch.testing.assert_close(module(), torch.full((2,), 6.0))
    with torch.no_grad():
        module.weight.fill_(5.0)
    torch.testing.assert_close(module(), torch.full((2,), 10.0))


def test_usable_after_inference_mode() -> None:
    module = _Doubled()
    with torch.inference_mode():
        module()
    assert not module().is_inference()
