"""GConstruct's ``bucket_numerical``: a number to a (multi-)hot vector of range buckets."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from handler.native import ROWS_BUCKETS
from handler.transforms.base import FeatureTransform, FeatureValueError, require_finite, to_array, to_numeric

# Integers up to it are doubles exactly.
_EXACT_INT = 2**53


class BucketNumericalTransform(FeatureTransform):
    """Bucketisation (GConstruct ``BucketTransform``), vectorised.

    ``bucket_cnt`` equal buckets span ``range``; a value marks every bucket that
    ``[x - w/2, x + w/2]`` (``w`` = ``slide_window_size``) touches, clipped to the range;
    values at or beyond the range ends mark the first / last bucket. The arithmetic keeps
    GConstruct's dtypes (Python-float constants with the raw array), so bucket edges fall
    exactly where GConstruct's per-value loop puts them.

    Args:
        name: feature name.
        bucket_cnt: number of buckets.
        bucket_range: ``[start, end]`` of the buckets.
        slide_window_size: window width ``w``.
        dtype: output dtype.
    """

    accepts_arrays = True  # numbers only: a numpy column is what to_array would make
    output_finite = True  # a multi-hot of booleans
    row_wise = True

    def __init__(
        self,
        name: str,
        bucket_cnt: int,
        bucket_range: Sequence[float],
        slide_window_size: float = 0,
        dtype: type = np.float32,
    ) -> None:
        super().__init__(name, scalar_input=True)
        self.bucket_cnt = bucket_cnt
        self.max_val = max(bucket_range)
        self.min_val = min(bucket_range)
        self.bucket_size = (self.max_val - self.min_val) / bucket_cnt
        self.half_window = slide_window_size / 2
        self.dtype = dtype
        self._cols = np.arange(bucket_cnt)

    def native_op(self) -> tuple[int, Any] | None:
        """``ROWS_BUCKETS`` with the range, half window and bucket size as doubles (bounds that
        are exact doubles: the C compares int64 values as doubles)."""
        bounds = (self.min_val, self.max_val)
        if not all(isinstance(b, (int, float)) and abs(b) <= _EXACT_INT for b in bounds) or not (
                math.isfinite(self.bucket_size) and self.bucket_size > 0 and math.isfinite(self.half_window)):
            return None
        return ROWS_BUCKETS, (float(self.min_val), float(self.max_val), float(self.half_window),
                              float(self.bucket_size))

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        feats = to_numeric(to_array(raw_values), raw_values)
        if feats.ndim == 2 and feats.shape[1] == 1:
            feats = feats[:, 0]
        if feats.ndim != 1:
            raise FeatureValueError(None, "must be one number per row")
        require_finite(feats)
        high = np.minimum(feats + self.half_window, self.max_val) - self.min_val
        low = np.maximum(feats - self.half_window, self.min_val) - self.min_val
        # Buckets [low // size, high // size + 1), as GConstruct's indices clipped to
        # [0, bucket_cnt]; the clipping itself is left out: the columns are 0..bucket_cnt - 1,
        # so a bound below 0 (above bucket_cnt) admits every column, as 0 (bucket_cnt) does.
        encoding = (self._cols >= (low // self.bucket_size)[:, None]) & (
            self._cols < (high // self.bucket_size + 1)[:, None])
        encoding[:, -1] |= feats >= self.max_val
        encoding[:, 0] |= feats <= self.min_val
        return encoding.astype(self.dtype)
