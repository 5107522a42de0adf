"""GConstruct's ``no-op`` transform: numbers as they are, optionally split and truncated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from handler.native import ROWS_NUMBERS
from handler.transforms.base import (
    FeatureTransform,
    FeatureValueError,
    all_finite,
    raise_beyond_float32,
    require_finite,
    require_numbers,
    to_array,
)


class NoopTransform(FeatureTransform):
    """Keeps the values (GConstruct ``Noop``).

    Args:
        name: feature name.
        dtype: output dtype (GConstruct ``out_dtype``, float32 by default).
        truncate_dim: keep only the first ``truncate_dim`` columns.
        separator: values are strings of numbers joined by this separator.
        scalar_input: one number per row (a one-element list means the number).
    """

    def __init__(
        self,
        name: str,
        dtype: type = np.float32,
        truncate_dim: int | None = None,
        separator: str | None = None,
        scalar_input: bool = False,
    ) -> None:
        super().__init__(name, scalar_input)
        self.dtype = dtype
        self.truncate_dim = truncate_dim
        self.separator = separator
        # Numbers (not strings to split): a numpy column is what to_array would make of them.
        self.accepts_arrays = separator is None
        self.row_wise = separator is None
        # Numbers kept whole as float32: the output is checked once, here (see _transform).
        self.output_finite = separator is None and truncate_dim is None and np.dtype(dtype) == np.float32

    def native_op(self) -> tuple[int, Any] | None:
        """Numbers kept whole as float32: ``ROWS_NUMBERS``."""
        return (ROWS_NUMBERS, None) if self.output_finite else None

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        if self.separator is not None:
            arr = self._split(raw_values)
        else:
            arr = to_array(raw_values)
            require_numbers(arr, raw_values)
        if self.output_finite:
            # The cast keeps NaN and inf, so a finite output means a finite input: one check.
            out: np.ndarray = arr.astype(self.dtype)
            if not all_finite(out):
                require_finite(arr)  # a NaN or inf of the input is named as such first
                raise_beyond_float32(out)
            return out
        require_finite(arr)
        if self.truncate_dim is not None:
            if arr.ndim != 2:
                raise FeatureValueError(None, "is one number per row, so it cannot be truncated")
            arr = arr[:, : self.truncate_dim]
        return arr.astype(self.dtype)

    def _split(self, raw_values: Sequence[Any]) -> np.ndarray:
        rows = []
        for row, value in enumerate(raw_values):
            if not isinstance(value, str):
                raise FeatureValueError(row, f"must be a string of numbers joined by {self.separator!r}")
            try:
                rows.append([float(x) for x in value.split(self.separator)])
            except ValueError:
                raise FeatureValueError(row, f"is not numbers joined by {self.separator!r}") from None
        return to_array(rows).astype(self.dtype)
