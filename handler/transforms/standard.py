"""GConstruct's ``standard`` transform: each value divided by the training-time column sum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from handler.transforms.base import FeatureTransform, require_finite, to_array, to_numeric


class StandardTransform(FeatureTransform):
    """Sum normalisation (GConstruct ``NumericalStandardTransform``) with the saved ``sum``.

    Args:
        name: feature name.
        summation: per-column sums from training.
        dtype: output dtype.
        scalar_input: one number per row.
    """

    accepts_arrays = True  # numbers only: a numpy column is what to_array would make
    row_wise = True

    def __init__(
        self, name: str, summation: Sequence[float], dtype: type = np.float32, scalar_input: bool = False
    ) -> None:
        super().__init__(name, scalar_input)
        self.summation = np.array(summation, dtype=np.float32)
        self.dtype = dtype

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        feats = to_numeric(to_array(raw_values), raw_values)
        require_finite(feats)
        return (feats / self.summation).astype(self.dtype)
