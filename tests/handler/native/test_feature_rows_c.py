"""``handler.native.feature_rows``: for any column, the rows the C writes are bit for bit what
the transform's ``apply`` gives, or the C declines; it declines whatever ``apply`` refuses.

``tests/handler/inputs/test_feature_rows.py`` checks the same through ``build`` on every fixture.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler import native
from handler.transforms import FeatureTransform
from handler.transforms.base import FeatureValueError
from handler.transforms.bucket_numerical import BucketNumericalTransform
from handler.transforms.max_min_norm import MaxMinNormTransform
from handler.transforms.noop import NoopTransform
from handler.transforms.to_categorical import ToCategoricalTransform

pytestmark = pytest.mark.skipif(native.fastpath is None, reason="the C extension is not built or is switched off")

SETTINGS = settings(max_examples=400, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

# Values where the arithmetic turns: bucket edges, ±0, the float32 limit, the exact-int limit.
EDGES = [0.0, -0.0, 0.5, -0.5, 1.0, 5.0, 1995.0, 2000.0, 2025.0, 2.5e-324, 3.4028234663852886e38,
         3.4028235677973366e38, 1e300, 2.0**53, 2.0**53 + 2, -(2.0**53)]
FLOATS = st.one_of(st.sampled_from(EDGES + [-x for x in EDGES]), st.floats(width=64),
                   st.floats(-1e4, 1e4), st.integers(-3000, 3000).map(float))
INTS = st.one_of(st.integers(-3000, 3000), st.sampled_from([2**53, 2**53 + 1, -(2**53) - 1, 2**63 - 1, -(2**63)]),
                 st.integers(-(2**63), 2**63 - 1))


def _column(draw: st.DrawFn, rows: int, width: int | None) -> np.ndarray:
    """A float64 or int64 column: [rows] (width None) or [rows, width]."""
    count = rows * (width or 1)
    if draw(st.booleans()):
        values = np.array(draw(st.lists(INTS, min_size=count, max_size=count)), dtype=np.int64)
    else:
        values = np.array(draw(st.lists(FLOATS, min_size=count, max_size=count)), dtype=np.float64)
    return values if width is None else values.reshape(rows, width)


def _python(transform: FeatureTransform, column: Any) -> np.ndarray | None:
    """``apply``'s float32 rows, or None where it refuses the values."""
    try:
        return transform.apply(column)
    except FeatureValueError:
        return None


def _c(transform: FeatureTransform, column: Any, width: int, offset: int = 0, out_width: int | None = None,
       ) -> np.ndarray | None:
    """The C's rows (in columns offset..offset + width of a NaN-filled out), or None (declined)."""
    op = transform.native_op()
    assert op is not None
    out = np.full((len(column), out_width or width), np.nan, dtype=np.float32)
    return out if native.feature_rows(out, [(op[0], column, offset, width, op[1])]) else None


def _assert_c_is_python(transform: FeatureTransform, column: Any, width: int) -> np.ndarray | None:
    expected, got = _python(transform, column), _c(transform, column, width)
    if expected is None:
        assert got is None, "the C took values apply refuses"
    elif got is not None:
        assert got.tobytes() == np.ascontiguousarray(expected.reshape(got.shape)).tobytes()
    return got


@st.composite
def noop_cases(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    rows, width = draw(st.integers(0, 6)), draw(st.sampled_from([None, 1, 3]))
    return _column(draw, rows, width), width or 1


@given(noop_cases())
@SETTINGS
def test_numbers(case: tuple[np.ndarray, int]) -> None:
    column, width = case
    got = _assert_c_is_python(NoopTransform("x"), column, width)
    with np.errstate(over="ignore"):
        within_float32 = np.isfinite(column.astype(np.float32)).all()
    if within_float32:
        assert got is not None, "finite values within float32 are the C's"


@st.composite
def scale_cases(draw: st.DrawFn) -> tuple[MaxMinNormTransform, np.ndarray, int]:
    width = draw(st.sampled_from([1, 2, 4]))
    bounds = st.floats(-1e6, 1e6).map(lambda x: float(np.float32(x)))
    shared = draw(st.booleans())
    low = draw(st.lists(bounds, min_size=1, max_size=1) if shared else st.lists(bounds, min_size=width,
                                                                                     max_size=width))
    high = [x + draw(st.floats(1e-3, 1e6)) for x in low]
    transform = MaxMinNormTransform("x", max_val=high, min_val=low,
                                    dtype=draw(st.sampled_from([np.float32, np.float64])))
    rows = draw(st.integers(0, 6))
    one_dim = width == 1 and draw(st.booleans())
    return transform, _column(draw, rows, None if one_dim else width), width


@given(scale_cases())
@SETTINGS
def test_scale(case: tuple[MaxMinNormTransform, np.ndarray, int]) -> None:
    transform, column, width = case
    if transform.native_op() is None:  # a range that rounded to 0 in float32
        return
    got = _assert_c_is_python(transform, column, width)
    op = transform.native_op()
    assert op is not None
    mins, ranges = op[1]
    with np.errstate(all="ignore"):
        scaled = (column.reshape(len(column), width).astype(np.float64) - np.array(mins)) / np.array(ranges)
    if np.isfinite(column).all() and not ((scaled == 0) & np.signbit(scaled)).any():  # -0.0: declined
        assert got is not None


def test_scale_is_not_native_without_fixed_finite_bounds() -> None:
    assert MaxMinNormTransform("x", max_val=[1.0]).native_op() is None  # the request's own min
    assert MaxMinNormTransform("x", max_val=[1.0], min_val=[1.0]).native_op() is None  # no range
    assert MaxMinNormTransform("x", max_val=[1.0], min_val=[0.0], dtype=np.float16).native_op() is None


@st.composite
def bucket_cases(draw: st.DrawFn) -> tuple[BucketNumericalTransform, np.ndarray]:
    if draw(st.booleans()):
        low = draw(st.integers(-3000, 3000))
        bounds = [low, low + draw(st.integers(1, 100))]
    else:
        low = draw(st.floats(-1e4, 1e4))
        bounds = [low, low + draw(st.floats(1e-3, 1e4))]
    window = draw(st.one_of(st.just(0), st.integers(0, 20), st.floats(0, 50)))
    transform = BucketNumericalTransform("x", bucket_cnt=draw(st.integers(1, 12)), bucket_range=bounds,
                                         slide_window_size=window)
    rows = draw(st.integers(0, 6))
    column = _column(draw, rows, draw(st.sampled_from([None, 1])))
    if draw(st.booleans()):  # values on and around the bucket edges
        edges = [bounds[0] + i * transform.bucket_size + d for i in range(-1, transform.bucket_cnt + 2)
                 for d in (0.0, 0.5 * transform.bucket_size, -1e-9)]
        column = np.array(draw(st.lists(st.sampled_from(edges), min_size=rows, max_size=rows)), dtype=np.float64)
    return transform, column


@given(bucket_cases())
@SETTINGS
def test_buckets(case: tuple[BucketNumericalTransform, np.ndarray]) -> None:
    transform, column = case
    got = _assert_c_is_python(transform, column, transform.bucket_cnt)
    if np.isfinite(column).all() and (np.abs(column.astype(np.float64)) <= 2**53).all():
        assert got is not None


def test_buckets_beyond_exact_doubles_are_not_native() -> None:
    assert BucketNumericalTransform("x", bucket_cnt=2, bucket_range=[0, 2**60]).native_op() is None
    assert BucketNumericalTransform("x", bucket_cnt=2, bucket_range=[0, math.inf]).native_op() is None


MAPPING = {"ACL": 0, "KDD": 1, "K": 2, "": 3, "é": 4, "3": 5}
CATEGORY_VALUES = st.one_of(st.sampled_from([*MAPPING, "kdd", "KDD\x00", "KDD ", "x" * 50]), st.text(max_size=4),
                            st.none(), st.integers(0, 5), st.floats(allow_nan=False))


@given(st.lists(CATEGORY_VALUES, max_size=6))
@SETTINGS
def test_categories(values: list[Any]) -> None:
    transform = ToCategoricalTransform("x", MAPPING)
    got = _assert_c_is_python(transform, values, len(MAPPING))
    if all(type(v) is str and v in MAPPING for v in values):
        assert got is not None
    else:
        assert got is None  # unknown categories and other kinds: Python's zeros


def test_multi_hot_categories_are_not_native() -> None:
    assert ToCategoricalTransform("x", MAPPING, separator=",").native_op() is None


def test_several_features_fill_their_columns_and_checked_only_ones_write_nothing() -> None:
    scale = MaxMinNormTransform("s", max_val=[10.0], min_val=[0.0])
    buckets = BucketNumericalTransform("b", bucket_cnt=3, bucket_range=[0, 30])
    category = ToCategoricalTransform("c", MAPPING)
    numbers = np.array([[1.5, 2.5], [3.5, -4.5]])
    values = np.array([5.0, 25.0])
    ops: list[native.RowsOp] = [
        (native.ROWS_NUMBERS, numbers, 0, 2, None),
        _kind_params(scale, values, 2, 1),
        _kind_params(buckets, values, 3, 3),
        _kind_params(category, ["KDD", "ACL"], 6, len(MAPPING)),
        _kind_params(scale, values, -1, 1),  # checked only
    ]
    out = np.full((2, 6 + len(MAPPING)), np.nan, dtype=np.float32)
    assert native.feature_rows(out, ops)
    expected = np.concatenate([numbers.astype(np.float32), scale.apply(values), buckets.apply(values),
                               category.apply(["KDD", "ACL"])], axis=1)
    assert out.tobytes() == expected.tobytes()


def _kind_params(transform: FeatureTransform, column: Any, offset: int, width: int) -> native.RowsOp:
    op = transform.native_op()
    assert op is not None
    return op[0], column, offset, width, op[1]


@pytest.mark.parametrize("ops", [
    [(native.ROWS_NUMBERS, np.zeros(2, dtype=np.float32), 0, 1, None)],  # float32: another dtype
    [(native.ROWS_NUMBERS, np.zeros(2, dtype=np.int32), 0, 1, None)],
    [(native.ROWS_NUMBERS, np.zeros((2, 4))[:, ::2], 0, 2, None)],  # not contiguous
    [(native.ROWS_NUMBERS, np.zeros(3), 0, 1, None)],  # another length
    [(native.ROWS_NUMBERS, np.zeros((2, 3)), 0, 2, None)],  # another width
    [(native.ROWS_NUMBERS, np.zeros(2), 2, 1, None)],  # beyond out
    [(native.ROWS_NUMBERS, [0.0, 1.0], 0, 1, None)],  # a list
    [(native.ROWS_SCALE, np.zeros(2), 0, 1, ((0.0, 1.0), (1.0,)))],  # bounds of another length
    [(native.ROWS_SCALE, np.zeros(2), 0, 1, ([0.0], [1.0]))],  # lists, not tuples
    [(native.ROWS_BUCKETS, np.zeros(2), 0, 2, (0.0, 1.0, 0.0, 0.0))],  # bucket size 0
    [(native.ROWS_CATEGORY, ("a", "b"), 0, 1, {"a": 0})],  # a tuple
    [(native.ROWS_CATEGORY, ["a", "b"], 0, 1, {"a": 0, "b": 1})],  # a column beyond the width
    [(9, np.zeros(2), 0, 1, None)],  # an unknown kind
    [(native.ROWS_NUMBERS, np.zeros(2), 0)],  # a short op
    (),  # not a list
])
def test_declines_what_it_does_not_take(ops: Any) -> None:
    assert not native.feature_rows(np.zeros((2, 2), dtype=np.float32), ops)


@pytest.mark.parametrize("out", [np.zeros((2, 2)), np.zeros(2, dtype=np.float32),
                                 np.zeros((2, 2), dtype=np.float32).T, np.zeros((2, 4), dtype=np.float32)[:, ::2]])
def test_declines_an_out_it_cannot_fill(out: np.ndarray) -> None:
    assert not native.feature_rows(out, [(native.ROWS_NUMBERS, np.zeros(len(out)), 0, 1, None)])


def test_a_read_only_out_is_declined() -> None:
    out = np.zeros((2, 1), dtype=np.float32)
    out.flags.writeable = False
    assert not native.feature_rows(out, [(native.ROWS_NUMBERS, np.ones(2), 0, 1, None)])
