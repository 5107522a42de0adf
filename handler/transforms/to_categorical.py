"""GConstruct's ``to_categorical``: a category (or several) to a one-/multi-hot vector."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from handler.transforms.base import FeatureTransform, FeatureValueError, to_array


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

    def __init__(self, name: str, mapping: Mapping[Any, int], separator: str | None = None) -> None:
        super().__init__(name, scalar_input=True)
        self.mapping = {str(k): int(v) for k, v in mapping.items()}
        self.width = len(self.mapping)
        self.separator = separator

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        if self.separator is None and all(type(v) is str for v in raw_values):
            # Fast path: strings that are all known categories; anything else (an unknown
            # category, or one numpy would alter, e.g. trailing NULs) takes the general path.
            cols = [self.mapping.get(v) for v in raw_values]
            if None not in cols:
                encoding = np.zeros((len(cols), self.width), dtype=np.int8)
                encoding[np.arange(len(cols)), cols] = 1
                return encoding
        feats = to_array(raw_values)
        # For 1-d arrays tolist() gives the Python scalars whose str() equals numpy's.
        items = feats.tolist() if feats.ndim == 1 else list(feats)
        encoding = np.zeros((len(items), self.width), dtype=np.int8)
        rows, cols = [], []
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
