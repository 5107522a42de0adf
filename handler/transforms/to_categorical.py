"""GConstruct's ``to_categorical``: a category (or several) to a one-/multi-hot vector."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from handler.native import ROWS_CATEGORY
from handler.transforms.base import FeatureTransform, FeatureValueError, to_array

_STR = frozenset((str,))  # value types of an all-string column (``<=``: an empty one too)
# The widest mapping whose one-hot rows are kept as an identity matrix (256 x 256 float32: 256 KiB).
_ONE_HOT_ROWS = 256


class ToCategoricalTransform(FeatureTransform):
    """One-hot encoding with a fixed mapping (GConstruct ``CategoricalTransform``).

    Values are matched as GConstruct does: ``str()`` of the numpy element of
    ``np.array(values)`` (so ``3`` matches ``"3"``, and in a request mixing ``1`` and ``2.5``
    the ``1`` reads ``"1.0"``). Unknown categories and nulls encode as all zeros.

    Args:
        name: feature name.
        mapping: category -> column.
        separator: values hold several categories joined by it (multi-hot).
    """

    # All strings: each row is looked up alone (mixed values are matched as numpy's str() of an
    # array of all of them, which depends on the other values).
    row_wise_text = True
    output_finite = True  # a one-hot

    def __init__(self, name: str, mapping: Mapping[Any, int], separator: str | None = None) -> None:
        super().__init__(name, scalar_input=True)
        self.mapping = {str(k): int(v) for k, v in mapping.items()}
        self.width = len(self.mapping)
        self.separator = separator
        self.longest = max((len(k) for k in self.mapping), default=0)
        # Stands in for a string too long to be a category: matches none, reads as a string.
        self.unmatched = next(c for c in map(chr, range(1, 0x110000)) if c not in self.mapping)
        # Row i: the one-hot of column i, as apply's float32 (kept for narrow mappings only).
        self._one_hot = np.eye(self.width, dtype=np.float32) if self.width <= _ONE_HOT_ROWS else None

    def native_op(self) -> tuple[int, Any] | None:
        """One category per value: ``ROWS_CATEGORY`` with the mapping (values that are all
        known strs; anything else runs here)."""
        return None if self.separator is not None else (ROWS_CATEGORY, self.mapping)

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        if self.separator is None:
            # Fast path: values that are all known categories. Only a str can be one (the
            # mapping's keys are strs): a value of another kind misses it, or raises TypeError
            # when unhashable, and so does a str numpy would alter (e.g. trailing NULs); they
            # all take the general path.
            count = len(raw_values)
            try:
                found = np.fromiter(map(self.mapping.get, raw_values, repeat(-1, count)), np.intp, count)
            except TypeError:
                found = None
            if found is not None and (count == 0 or found.min() >= 0):
                if self._one_hot is not None:  # the rows of the identity matrix: one call
                    return self._one_hot.take(found, axis=0)
                encoding = np.zeros((count, self.width), dtype=np.int8)
                encoding[np.arange(count), found] = 1
                return encoding
        items = self._items(raw_values)
        encoding = np.zeros((len(items), self.width), dtype=np.int8)
        rows: list[int] = []
        cols: list[int] = []
        for row, value in enumerate(items):
            if value is None:
                continue
            if self.separator is None:
                col = self.mapping.get(value if type(value) is str else str(value))
                if col is not None:
                    rows.append(row)
                    cols.append(col)
                continue
            if not isinstance(value, str):
                raise FeatureValueError(row, f"must be a string of categories joined by {self.separator!r}")
            for category in value.split(self.separator):
                col = self.mapping.get(category)
                if col is not None:
                    rows.append(row)
                    cols.append(col)
        encoding[rows, cols] = 1
        return encoding

    def _items(self, raw_values: Sequence[Any]) -> list[Any]:
        """The values as GConstruct compares them: numpy's element of ``np.array(values)``.

        numpy's string array holds every value at the longest value's width, so strings are
        never handed to it whole: all-string values are read directly (with the trailing NULs
        numpy drops), and in mixed values a string too long to be a category (without a
        separator) stands in as one that matches none.
        """
        if set(map(type, raw_values)) <= _STR:
            return [v.rstrip("\x00") for v in raw_values]
        if all(v is None or type(v) is str for v in raw_values):
            return list(raw_values)  # an object array: values unchanged
        if self.separator is None:
            raw_values = [self.unmatched if type(v) is str and len(v) > self.longest else v for v in raw_values]
        else:
            longest = max((len(v) for v in raw_values if type(v) is str), default=0)
            if longest * len(raw_values) > _MAX_MIXED_TEXT:
                raise FeatureValueError(None, f"mixes text of up to {longest} characters with other kinds of values")
        feats = to_array(raw_values, numeric=False)
        # For 1-d arrays tolist() gives the Python scalars whose str() equals numpy's.
        return feats.tolist() if feats.ndim == 1 else list(feats)


# The most characters a mixed-type categorical feature may expand to in numpy's string array.
_MAX_MIXED_TEXT = 4 * 1024 * 1024
