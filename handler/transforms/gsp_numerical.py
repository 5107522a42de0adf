"""GSProcessing's ``numerical`` transformation: impute, then normalise, with its saved state.

GSProcessing 0.5.1 (``dist_numerical_transformation.py``) fits a Spark ``Imputer`` and a
normaliser over the training table and writes their state as the feature's
``precomputed_transformation``: ``imputer_model.imputed_val_dict[col]`` and
``normalizer_model.norm_reconstruction``. Re-applied here to raw payload values, in float64,
cast to float32:

* a missing value (JSON null) becomes the imputed value. Spark's ``Imputer`` casts its output to
  the input column's type, so for an integer column a ``mean`` is truncated toward zero. The JSON
  does not record the column type; a ``standard`` column sum shows it (Spark sums an integer
  column to an integer), otherwise the request's own values decide: the column is an integer
  column when every non-null value of the feature in the request is a JSON integer.
* ``min-max``: ``(x - min) * (1 / (max - min))`` (0.5 when ``max == min``), **not** clipped
  (Spark's ``MinMaxScalerModel``, which multiplies by the reciprocal of the range).
* ``standard``: ``x / column sum`` (``col_sums["sum(<col>)"]``), not a z-score.
* ``none``: ``x``.

``rank-gauss`` stores no state (GSProcessing itself refuses to re-apply it): ``build`` refuses
the feature.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from handler.contract.errors import UnsupportedConfigError
from handler.transforms.base import FeatureTransform, FeatureValueError, require_finite, to_array, to_numeric

NORMALIZERS = ("none", "min-max", "standard")
MISSING_WITHOUT_IMPUTER = "is null (a missing value) and the feature has no imputer"


class GSPNumericalTransform(FeatureTransform):
    """GSProcessing ``numerical`` with its saved imputer and normaliser state.

    Args:
        name: feature name.
        imputed_value: what a missing value becomes (``None``: the feature has no imputer).
        normalizer: ``none``, ``min-max`` or ``standard``.
        scale: ``(offset, factor)``: ``min-max`` gives ``(x - offset) * factor``, ``standard``
            ``x / factor`` (Spark's operations); ``None`` for ``min-max`` over a constant column
            (every value becomes 0.5).
        dtype: output dtype.
        scalar_input: one number per row.
        integer_column: whether the training column held integers, when the saved state
            shows it (``None``: each request's values decide).
    """

    def __init__(self, name: str, imputed_value: float | None, normalizer: str,
                 scale: tuple[float, float] | None, dtype: type = np.float32,
                 scalar_input: bool = False, integer_column: bool | None = None) -> None:
        super().__init__(name, scalar_input)
        self.imputed_value = imputed_value
        self.normalizer = normalizer
        self.scale = scale
        self.dtype = dtype
        self.integer_column = integer_column

    @classmethod
    def build(cls, name: str, column: Any, kwargs: Mapping[str, Any], state: Mapping[str, Any] | None,
              dtype: type = np.float32, scalar_input: bool = False) -> GSPNumericalTransform:
        """The transform from a feature's ``transformation.kwargs`` and ``precomputed_transformation``.

        Raises:
            UnsupportedConfigError: ``rank-gauss`` (no saved state), no saved state, or a
                normaliser / imputer this transform does not know.
        """
        if kwargs.get("normalizer") == "rank-gauss":
            raise UnsupportedConfigError(
                f"feature {name}: GSProcessing's numerical rank-gauss normalisation cannot be re-applied "
                "(it stores no state; GSProcessing itself refuses to re-apply it)")
        if not state or "normalizer_model" not in state:
            raise UnsupportedConfigError(
                f"feature {name}: GSProcessing's numerical transformation has no precomputed_transformation")
        cols = state.get("cols") or ([column] if isinstance(column, str) else [])
        if len(cols) != 1:
            raise UnsupportedConfigError(
                f"feature {name}: numerical transformations of several columns are not supported")
        col = cols[0]
        imputer = state.get("imputer_model") or {}
        imputer_name = imputer.get("imputer_name", "none")
        imputed_value = None
        if imputer_name != "none":
            imputed = (imputer.get("imputed_val_dict") or {}).get(col)
            if not isinstance(imputed, int | float) or isinstance(imputed, bool):
                raise UnsupportedConfigError(f"feature {name}: the {imputer_name} imputer's value is not saved")
            imputed_value = float(imputed)
        norm = state["normalizer_model"]
        norm_name = norm.get("norm_name", "none")
        reconstruction = norm.get("norm_reconstruction") or {}
        scale: tuple[float, float] | None
        integer_column = None
        if norm_name == "none":
            scale = (0.0, 1.0)
        elif norm_name == "min-max":
            try:
                low, high = float(reconstruction["originalMinValues"][0]), float(reconstruction["originalMaxValues"][0])
            except (KeyError, IndexError, TypeError, ValueError):
                raise UnsupportedConfigError(f"feature {name}: min-max has no saved minimum and maximum") from None
            scale = None if high == low else (low, 1.0 / (high - low))
        elif norm_name == "standard":
            total = (reconstruction.get("col_sums") or {}).get(f"sum({col})")
            if not isinstance(total, int | float) or isinstance(total, bool) or not math.isfinite(total) or total == 0:
                raise UnsupportedConfigError(f"feature {name}: standard has no usable saved column sum")
            scale = (0.0, float(total))
            integer_column = isinstance(total, int)
        else:
            raise UnsupportedConfigError(
                f"feature {name}: GSProcessing's numerical normaliser {norm_name!r} cannot be re-applied "
                f"(supported: {', '.join(NORMALIZERS)})")
        return cls(name, imputed_value, norm_name, scale, dtype, scalar_input, integer_column)

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        values = raw_values
        if any(v is None for v in raw_values):
            if self.imputed_value is None:
                raise FeatureValueError(next(i for i, v in enumerate(raw_values) if v is None), MISSING_WITHOUT_IMPUTER)
            fill: float = self.imputed_value
            integer_column = self.integer_column
            if integer_column is None:
                present = [v for v in raw_values if v is not None]
                integer_column = bool(present) and all(type(v) is int for v in present)
            if integer_column:
                fill = float(math.trunc(fill))  # Spark's Imputer casts back to the integer column type
            values = [fill if v is None else v for v in raw_values]
        feats = to_numeric(to_array(values), values)
        require_finite(feats)
        x = feats.astype(np.float64)
        if self.scale is None:
            return np.full(x.shape, 0.5, dtype=self.dtype)
        offset, factor = self.scale
        if self.normalizer == "min-max":
            return ((x - offset) * factor).astype(self.dtype)
        return (x / factor).astype(self.dtype)
