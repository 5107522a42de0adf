"""What every feature transform shares: the interface and GraphStorm's array conventions.

GraphStorm's payload path turns each feature's per-node raw values into ``np.array(values)``
and runs the GConstruct transform on it; numeric transforms first cast non-numeric arrays to
float32 (``FeatTransform.feat2numerical``) and reject NaN/inf (``validate_numerical_feats``).
The helpers here do the same, but say which row (node or edge) is at fault.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from handler.native import number_column

# dtype kinds numpy's np.integer / np.floating cover (signed, unsigned, float; not bool).
_NUMERIC_KINDS = "iuf"
_OUT_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
# Output dtypes whose values cast to float32 as the double they are computed in casts directly
# (float16 rounds twice): a native operation computes these.
NATIVE_DTYPES = (np.float32, np.float64)


class FeatureValueError(ValueError):
    """A raw feature value the transform cannot use.

    Attributes:
        row: index of the offending value in the transform's input (None: not one value).
        reason: what is wrong, without the feature name (the caller adds where).
    """

    def __init__(self, row: int | None, reason: str) -> None:
        super().__init__(reason)
        self.row = row
        self.reason = reason


class FeatureTransform(ABC):
    """A GConstruct feature transformation applied to one request's values of one feature.

    Attributes:
        name: the feature name.
        scalar_input: each node carries one scalar; a one-element list around it means the
            scalar (rule T6).
        accepts_arrays: ``apply`` takes a numpy column (numbers of an Arrow request) as it is;
            a transform without it gets the column's JSON values (``tolist``).
        row_wise: each output row depends on its input row only (no statistic of the request),
            so the rows of several requests may be transformed in one call.
        row_wise_text: the same, for values that are all strings.
        output_finite: ``_transform``'s output is finite and float32-safe whenever it returns (a
            one-hot, a scale clipped to [0, 1], or checked by the transform itself), so ``apply``
            skips its own check.
    """

    accepts_arrays = False
    output_finite = False
    row_wise = False
    row_wise_text = False

    def __init__(self, name: str, scalar_input: bool = False) -> None:
        self.name = name
        self.scalar_input = scalar_input

    def apply(self, raw_values: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Transforms the raw values of every node (or edge) of one type in one request.

        Args:
            raw_values: one raw value per row, as decoded from JSON (or a numpy column of an
                Arrow request: taken as it is when ``accepts_arrays``, else as its ``tolist``).

        Returns:
            float32 array.

        Shapes:
            returns [len(raw_values), dim].

        Raises:
            FeatureValueError: a value is of the wrong kind, non-finite, beyond float32's range,
                or of the wrong length.
        """
        if isinstance(raw_values, np.ndarray):
            if not self.accepts_arrays:
                raw_values = raw_values.tolist()
            elif self.scalar_input and raw_values.ndim == 2 and raw_values.shape[1] == 1:
                raw_values = raw_values[:, 0]  # every row a one-element list (rule T6)
        if self.scalar_input and not isinstance(raw_values, np.ndarray) and list in set(map(type, raw_values)):
            raw_values = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in raw_values]
        out, finite = self._float32_rows(raw_values)
        if not finite:
            raise_beyond_float32(out)
        return out

    # Overflow (and the NaN of a sum of +inf and -inf in all_finite) is checked by apply, with the
    # row named. As a decorator, np.errstate costs ~0.45 us a call, as a `with` block ~1 us.
    @np.errstate(over="ignore", invalid="ignore")
    def _float32_rows(self, raw_values: Sequence[Any] | np.ndarray) -> tuple[np.ndarray, bool]:
        """``_transform``'s output as float32 rows, and whether all of it is finite.

        Shapes:
            returns [len(raw_values), dim].
        """
        try:
            # A numpy column only reaches a transform that accepts_arrays (it reads it as to_array would).
            out = self._transform(raw_values)  # type: ignore[arg-type]
        except RecursionError:  # str()/repr() of a value nested ~1,000 levels deep
            raise FeatureValueError(None, "holds a value nested too deeply") from None
        if out.ndim == 1:
            out = out.reshape(-1, 1)
        out = out.astype(np.float32, copy=False)
        return out, self.output_finite or all_finite(out)

    @abstractmethod
    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        """The transform proper; may return [n] or [n, dim], any numeric dtype."""

    def native_op(self) -> tuple[int, Any] | None:
        """The ``handler.native.feature_rows`` operation that computes ``apply``'s output bit for
        bit, for the values it takes: ``(ROWS_* kind, params)``; None: none does (the
        transform runs in Python)."""
        return None


def out_dtype(name: str | None, default: type = np.float32) -> type:
    """GConstruct's ``out_dtype`` option as a numpy dtype (``None``: the default)."""
    if name is None:
        return default
    if name not in _OUT_DTYPES:
        raise ValueError(f"unsupported out_dtype {name!r}")
    return _OUT_DTYPES[name]


# The longest string a numeric feature value may be: a number written as text is far shorter,
# and ``np.array`` of strings allocates (longest string) x (values) characters, so one long
# string among many values would otherwise cost hundreds of MB (docs/reliability.md).
MAX_NUMBER_TEXT = 64
_NUMBER_TYPES = (int, float)
_NUMBER_TYPE_SET = frozenset(_NUMBER_TYPES)
_LIST = frozenset((list,))


def to_array(values: Sequence[Any], numeric: bool = True) -> np.ndarray:
    """``np.array(values)``, naming the first row whose length differs from the first row's.

    Args:
        values: one raw value per row (a numpy column of numbers is taken as it is).
        numeric: the values should be numbers: strings too long to be a number are refused
            before numpy sees them (the caller bounds string lengths otherwise).
    """
    if isinstance(values, np.ndarray):
        return values
    if numeric:
        rows = number_column(values)  # float or int64 values or rows, in C (None without the extension)
        if rows is None and len(values) >= _FLOAT_ROWS_MIN:
            rows = float_rows(values)
        if rows is not None:
            return rows
        _refuse_long_strings(values)
    try:
        return np.array(values)
    except ValueError:
        first = _shape(values[0])
        for row, value in enumerate(values):
            if _shape(value) != first:
                raise FeatureValueError(
                    row, f"has {_describe(value)}, but the first one has {_describe(values[0])}"
                ) from None
        raise FeatureValueError(None, "values do not form a regular array") from None


# Below this many rows np.array is as fast as float_rows' fixed cost of ~6 calls.
_FLOAT_ROWS_MIN = 6
# Beyond it numpy keeps a Python int as an object (``np.array([0.5, 2**63])``), not a float64.
_INT64_SPAN = 2.0**63


def float_rows(values: Sequence[Any]) -> np.ndarray | None:
    """``np.array(values)`` for the common vector feature, in about half its time: rows that are
    lists of one length, of numbers with at least one float (numpy then makes float64 of them).

    ``sum`` checks the leaves in C (a string, null or nested list raises; ints alone sum to an
    int) faster than a scan of their types, and ``np.fromiter`` fills the array without
    numpy's shape discovery. None for anything else (the caller takes ``np.array``'s path):
    other rows, ints only (numpy keeps them int64), a value beyond int64's span (it may be an int
    numpy would keep as an object) or a NaN.

    Shapes:
        returns [len(values), row length] float64.
    """
    return _float_rows_in_python((values,))


def stacked_float_rows(parts: Sequence[Sequence[Any]]) -> np.ndarray | None:
    """``float_rows`` of each part, concatenated (None unless every part has them, all of one
    row length): each part read in C when the extension can (``number_column``), else all of
    them checked and filled in one pass over the parts' values.

    Shapes:
        returns [total rows, row length] float64.
    """
    in_c = [rows for rows in map(number_column, parts)  # the C extension
            if rows is not None and rows.ndim == 2 and rows.dtype == np.float64]
    if len(in_c) == len(parts) and len({rows.shape[1] for rows in in_c}) == 1:
        return np.concatenate(in_c) if len(in_c) > 1 else in_c[0]
    return _float_rows_in_python(parts)


def _float_rows_in_python(parts: Sequence[Sequence[Any]]) -> np.ndarray | None:
    """``stacked_float_rows`` without the extension: ``sum`` checks the leaves, ``np.fromiter``
    fills the array."""
    values = list(itertools.chain.from_iterable(parts)) if len(parts) > 1 else parts[0]
    if not all(parts) or set(map(type, values)) != _LIST:
        return None
    lengths = set(map(len, values))
    if len(lengths) != 1:
        return None
    width = lengths.pop()
    try:  # each part needs a float of its own: alone, a part of ints only is int64
        if width == 0 or any(type(sum(itertools.chain.from_iterable(part), 0)) is not float for part in parts):
            return None
    except (TypeError, OverflowError):
        return None
    rows = np.fromiter(itertools.chain.from_iterable(values), np.float64, len(values) * width)
    if not (np.abs(rows) < _INT64_SPAN).all():
        return None
    return rows.reshape(len(values), width)


def _refuse_long_strings(values: Sequence[Any]) -> None:
    """Raises for the first row holding a string longer than ``MAX_NUMBER_TEXT``. One C-speed
    pass over the rows' items settles the usual case (numbers, or rows of numbers); only other
    values are looked at row by row."""
    row_types = set(map(type, values))
    if row_types <= _NUMBER_TYPE_SET:
        return
    if row_types == {list} and set(map(type, itertools.chain.from_iterable(values))) <= _NUMBER_TYPE_SET:
        return
    for row, value in enumerate(values):
        if any(type(item) is str and len(item) > MAX_NUMBER_TEXT for item in _flatten([value])):
            raise FeatureValueError(row, "is not a number (a text value)")


def to_numeric(arr: np.ndarray, values: Sequence[Any]) -> np.ndarray:
    """Integer and float arrays as they are, anything else cast to float32 (GConstruct's rule)."""
    if arr.dtype.kind in _NUMERIC_KINDS:
        return arr
    try:
        return arr.astype(np.float32)
    except (TypeError, ValueError):
        raise FeatureValueError(_first_non_number(values), "is not a number") from None


def require_numbers(arr: np.ndarray, values: Sequence[Any]) -> None:
    """Rejects arrays that are not integer or float (booleans and strings included)."""
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise FeatureValueError(_first_non_number(values), "is not a number")


def require_finite(arr: np.ndarray) -> None:
    """Rejects NaN and +-inf, naming the first row holding one."""
    if arr.dtype.kind in "iu" or all_finite(arr):
        return
    bad = ~np.isfinite(arr).reshape(len(arr), -1).all(axis=1)
    raise FeatureValueError(int(np.argmax(bad)), "is NaN or infinite")


def raise_beyond_float32(out: np.ndarray) -> None:
    """Raises for the first row of a transform's output that is not finite: finite inputs whose
    (transformed) value is beyond float32's range become inf."""
    bad = ~np.isfinite(out).reshape(len(out), -1).all(axis=1)
    raise FeatureValueError(int(np.argmax(bad)), "is beyond the float32 range (about ±3.4e38)")


def all_finite(arr: np.ndarray) -> bool:
    """``np.isfinite(arr).all()``, in one reduction for a float array: a sum is finite only if
    every term is (NaN and inf propagate), so a finite sum settles it (~0.9 us instead of ~1.5 us
    for a request's column); a sum that is not (a NaN, an inf, or finite values whose sum
    overflows) is looked at value by value. Call it under ``np.errstate(over="ignore",
    invalid="ignore")``, as ``FeatureTransform.apply`` runs every transform: the sum may overflow,
    or add +inf to -inf."""
    if arr.dtype.kind == "f" and math.isfinite(np.add.reduce(arr, axis=None)):
        return True
    return bool(np.isfinite(arr).all())


def _first_non_number(values: Sequence[Any]) -> int | None:
    for row, value in enumerate(values):
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in _flatten(items)):
            return row
    return None


def _flatten(items: list[Any]) -> list[Any]:
    """The leaves of nested lists, without recursion (a payload may nest 1,000 levels deep)."""
    flat: list[Any] = []
    stack = [iter(items)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _shape(value: Any) -> tuple[int, ...]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def _describe(value: Any) -> str:
    return f"{len(value)} values" if isinstance(value, list) else "a single value"
