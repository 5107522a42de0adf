"""Request-independent tensors derived from a module's parameters, computed once.

Fused layers concatenate or stack their per-relation weights so that one matmul serves every
relation; those tensors depend only on the parameters, so they are built on first use and
reused. The cache is dropped whenever the parameters may have changed: ``load_state_dict``,
``to`` / ``cuda`` / ``float`` (all go through ``nn.Module._apply``) and any in-place write
to a parameter (seen through the parameters' version counters, checked once per forward by
``refresh_derived``). The state dict layout is untouched: the cache holds plain attributes,
not parameters or buffers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from operator import attrgetter
from typing import Any

import torch
from torch import nn

_VERSION = attrgetter("_version")  # a tensor's in-place write counter


class InferenceCache(nn.Module):
    """Mixin for modules with derived inference tensors (``self.derived(key, compute)``)."""

    def __init__(self) -> None:
        super().__init__()
        self._derived: dict[Hashable, Any] = {}
        self._stamp: tuple[int, ...] | None = None
        self._params: list[torch.Tensor] | None = None
        self.register_load_state_dict_post_hook(lambda module, _keys: module.clear_derived())

    def _apply(self, fn: Callable, *args: Any, **kwargs: Any) -> nn.Module:
        self.clear_derived()
        return super()._apply(fn, *args, **kwargs)

    def clear_derived(self) -> None:
        """Forgets every derived tensor."""
        self._derived.clear()
        self._stamp = None
        self._params = None

    def refresh_derived(self) -> None:
        """Clears the derived tensors if a parameter was written in place since they were made."""
        if self._params is None:
            self._params = list(self.parameters())
        stamp = tuple(map(_VERSION, self._params))
        if stamp != self._stamp:
            self._derived.clear()
            self._stamp = stamp

    def derived(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` on the first call per ``key`` since the parameters last changed.

        It runs without autograd and outside inference mode, so the result is a plain tensor
        usable in any later mode.
        """
        if key not in self._derived:
            with torch.inference_mode(False), torch.no_grad():
                self._derived[key] = compute()
        return self._derived[key]
