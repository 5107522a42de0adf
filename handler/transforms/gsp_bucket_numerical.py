"""GSProcessing's ``bucket-numerical``: a number to the multi-hot vector of the buckets its
sliding window overlaps (``dist_bucket_numerical_transformation.py``'s
``determine_bucket_membership``).

With ``size = (hi - lo) / bucket_cnt``: a value ``>= hi`` sets only the last bucket, a value
``<= lo`` only the first; otherwise the window ``[v - w/2, v + w/2]`` is clamped to
``[lo, hi - size/10]`` and buckets ``floor((low - lo) / size)`` .. ``floor((high - lo) / size)``
are set. The kwargs are the whole state. An imputer's fill value is not saved (GSProcessing
imputes within its construction job), so a missing value is refused with or without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from handler.transforms.base import FeatureTransform, FeatureValueError, require_finite, to_array, to_numeric
from handler.transforms.gsp_numerical import MISSING_WITHOUT_IMPUTER


class GSPBucketNumericalTransform(FeatureTransform):
    """GSProcessing ``bucket-numerical``.

    Args:
        name: feature name.
        value_range: ``[lo, hi]``.
        bucket_cnt: number of buckets.
        slide_window_size: window width ``w``.
        imputer: the configured imputer (``none``: no imputer).
    """

    output_finite = True  # a multi-hot

    def __init__(self, name: str, value_range: Sequence[float], bucket_cnt: int,
                 slide_window_size: float = 0.0, imputer: str = "none") -> None:
        super().__init__(name, scalar_input=True)
        if len(value_range) != 2 or bucket_cnt <= 0:
            raise ValueError(f"feature {name}: bucket-numerical needs range [lo, hi] and bucket_cnt > 0")
        self.low, self.high = float(value_range[0]), float(value_range[1])
        self.bucket_cnt = int(bucket_cnt)
        self.window = float(slide_window_size)
        self.imputer = imputer

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        for row, value in enumerate(raw_values):
            if value is None:
                raise FeatureValueError(row, MISSING_WITHOUT_IMPUTER if self.imputer == "none" else (
                    f"is null (a missing value); GSProcessing did not save the value its {self.imputer} "
                    "imputer filled in, so it cannot be re-applied"))
        feats = to_numeric(to_array(raw_values), raw_values)
        if feats.ndim != 1:
            raise FeatureValueError(None, "must be one number per row")
        require_finite(feats)
        return self._buckets(feats.astype(np.float64))

    def _buckets(self, values: np.ndarray) -> np.ndarray:
        """The multi-hot rows of ``values``, as GSProcessing's UDF computes each (numpy's float
        ``//`` is Python's).

        Shapes:
            values: [n] -> [n, bucket_cnt].
        """
        lo, hi = self.low, self.high
        size = (hi - lo) / self.bucket_cnt
        epsilon = size / 10

        def clamp(bound: np.ndarray) -> np.ndarray:
            return np.where(bound < lo, lo, np.where(bound >= hi, hi - epsilon, bound))

        first = np.floor_divide(clamp(values - self.window / 2) - lo, size).astype(np.int64)
        last = np.floor_divide(clamp(values + self.window / 2) - lo, size).astype(np.int64)
        # Values beyond the range take one end bucket (checked first: ``>= hi``, then ``<= lo``).
        first = np.where(values >= hi, self.bucket_cnt - 1, np.where(values <= lo, 0, first))
        last = np.where(values >= hi, self.bucket_cnt - 1, np.where(values <= lo, 0, last))
        cols = np.arange(self.bucket_cnt)
        return ((cols >= first[:, None]) & (cols <= last[:, None])).astype(np.float32)
