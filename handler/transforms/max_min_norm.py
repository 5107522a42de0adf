"""GConstruct's ``max_min_norm``: ``(x - min) / (max - min)`` clipped to [0, 1]."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from handler.native import ROWS_SCALE
from handler.transforms.base import (
    NATIVE_DTYPES,
    FeatureTransform,
    FeatureValueError,
    require_finite,
    to_array,
    to_numeric,
)


class MaxMinNormTransform(FeatureTransform):
    """Min-max normalisation (GConstruct ``NumericalMinMaxTransform``).

    ``max_val``/``min_val`` come from the training-time config; one that is missing is taken
    from the request's own values, clipped to ``max_bound``/``min_bound`` as GConstruct does.
    Arithmetic follows numpy's promotion as in GConstruct: the bounds are float32, the raw
    values int64/float64, so the division runs in float64 before the cast to ``dtype``.

    Args:
        name: feature name.
        max_val: per-column maximum (or one for all columns), or None.
        min_val: per-column minimum, or None.
        max_bound: upper clip for a request-computed maximum.
        min_bound: lower clip for a request-computed minimum.
        dtype: output dtype.
        scalar_input: one number per row.
    """

    accepts_arrays = True  # numbers only: a numpy column is what to_array would make

    def __init__(
        self,
        name: str,
        max_val: Sequence[float] | None = None,
        min_val: Sequence[float] | None = None,
        max_bound: float = sys.float_info.max,
        min_bound: float = -sys.float_info.max,
        dtype: type = np.float32,
        scalar_input: bool = False,
    ) -> None:
        super().__init__(name, scalar_input)
        self.max_val = None if max_val is None else np.array(max_val, dtype=np.float32)
        self.min_val = None if min_val is None else np.array(min_val, dtype=np.float32)
        limit = float(np.finfo(dtype).max)
        self.max_bound = limit if max_bound >= limit else max_bound
        self.min_bound = -limit if min_bound <= -limit else min_bound
        self.dtype = dtype
        # With both bounds from the config, their difference is a constant.
        self._range = None
        if self.max_val is not None and self.min_val is not None and not np.any(self.max_val == self.min_val):
            self._range = self.max_val - self.min_val
        # Configured bounds: each row on its own (a request-computed bound depends on the others).
        self.row_wise = self._range is not None
        # Finite inputs, a finite min and a finite non-zero range never make a NaN, and the
        # output is clipped to [0, 1]: nothing for apply to check.
        self.output_finite = bool(
            self._range is not None and self.min_val is not None
            and np.isfinite(self.min_val).all() and np.isfinite(self._range).all()
        )

    def native_op(self) -> tuple[int, Any] | None:
        """Configured bounds: ``ROWS_SCALE`` with the float32 minimum and range as doubles."""
        if not (self.output_finite and self.row_wise and self.dtype in NATIVE_DTYPES):
            return None
        assert self.min_val is not None and self._range is not None  # row_wise: both configured
        return ROWS_SCALE, (tuple(map(float, self.min_val.reshape(-1))), tuple(map(float, self._range.reshape(-1))))

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        feats = to_numeric(to_array(raw_values), raw_values)
        require_finite(feats)
        if self._range is not None and self.min_val is not None:  # _range set: both values configured
            return self._scale(feats, self.min_val, self._range)
        max_val = self.max_val if self.max_val is not None else self._local(feats, np.amax, self.max_bound)
        min_val = self.min_val if self.min_val is not None else self._local(feats, np.amin, self.min_bound)
        if np.any(max_val == min_val):
            raise FeatureValueError(
                None, f"has max_val {max_val.tolist()} equal to min_val {min_val.tolist()} (division by zero)"
            )
        return self._scale(feats, min_val, max_val - min_val)

    def _scale(self, feats: np.ndarray, min_val: np.ndarray, value_range: np.ndarray) -> np.ndarray:
        """``(feats - min) / range`` clipped to [0, 1] (inputs are finite), as ``dtype``."""
        out = (feats - min_val) / value_range
        np.minimum(out, 1, out=out)
        np.maximum(out, 0, out=out)
        return out.astype(self.dtype)

    @staticmethod
    def _local(feats: np.ndarray, reduce: Any, bound: float | np.floating[Any]) -> np.ndarray:
        """The request's own max or min per column, clipped to the bound."""
        val = reduce(feats, axis=0) if feats.ndim == 2 else np.array([reduce(feats, axis=0)])
        clip = val > bound if reduce is np.amax else val < bound
        if clip.any():
            val[clip] = bound
        return val
