"""GSProcessing's ``categorical``: a value to the one-hot vector of its saved category.

GSProcessing 0.5.1 (``DistCategoryTransformation``) indexes categories by frequency (Spark
``StringIndexer``) and saves ``string_indexer_labels_arrays[0]`` (the categories; width = their
number) and ``per_col_label_to_one_hot_idx[col]`` (category string -> one-hot index). A value
is looked up by its string form (as Spark reads it); null, the empty string and unknown values
encode as all zeros (``handleInvalid=keep`` + ``dropLast``). A column with more than 100
categories had its rarer values replaced by ``GSP_CONSTANT_OTHER`` during construction; an
unknown value then takes that category, as a rare training value did.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from handler.transforms.base import FeatureTransform, FeatureValueError

# GSProcessing's RARE_CATEGORY: the category rare values were folded into.
RARE_CATEGORY = "GSP_CONSTANT_OTHER"


class GSPCategoricalTransform(FeatureTransform):
    """GSProcessing ``categorical`` with its saved mapping.

    Args:
        name: feature name.
        mapping: category string -> one-hot index.
        width: number of categories (the vector's length).
    """

    row_wise_text = True  # each value is looked up alone (the batch path takes all-string values)
    output_finite = True  # a one-hot

    def __init__(self, name: str, mapping: Mapping[str, int], width: int) -> None:
        super().__init__(name, scalar_input=True)
        self.mapping = {str(k): int(v) for k, v in mapping.items()}
        if any(not 0 <= v < width for v in self.mapping.values()):
            raise ValueError(f"feature {name}: a one-hot index is outside the {width} categories")
        self.width = width
        self.unknown = self.mapping.get(RARE_CATEGORY)

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        out = np.zeros((len(raw_values), self.width), dtype=np.float32)
        rows: list[int] = []
        cols: list[int] = []
        for row, value in enumerate(raw_values):
            if value is None or value == "":
                continue
            col = self.mapping.get(_spark_string(row, value), self.unknown)
            if col is not None:
                rows.append(row)
                cols.append(col)
        out[rows, cols] = 1.0  # one fancy-index write, not one numpy call per row
        return out


def _spark_string(row: int, value: Any) -> str:
    """A scalar's string form as Spark casts it (``true``/``false`` for booleans)."""
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is float:
        if not math.isfinite(value):
            raise FeatureValueError(row, "is NaN or infinite")
        return str(value)
    raise FeatureValueError(row, "must be one category (a string or a number)")
