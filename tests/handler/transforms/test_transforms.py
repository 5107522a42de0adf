"""Tests of handler.transforms: GConstruct 0.5.1's numerics, value by value.

Values transformed from real payloads are compared with GraphStorm's own output in
test_graph_builder.py (intermediate/*.npz); here each transform's rules are pinned down on
small inputs, with hand-computed expectations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import erfinv

from handler.contract.errors import UnsupportedConfigError
from handler.contract.graph_schema import FeatureSpec
from handler.contract.lm_resolution import LMNotFoundError
from handler.transforms import FeatureValueError, build_transform, rank_gauss
from handler.transforms.bucket_numerical import BucketNumericalTransform
from handler.transforms.max_min_norm import MaxMinNormTransform
from handler.transforms.noop import NoopTransform
from handler.transforms.rank_gauss import RankGaussTransform
from handler.transforms.standard import StandardTransform
from handler.transforms.to_categorical import ToCategoricalTransform


def _spec(transform: dict | None, dim: list[int] | None = None, **kw) -> FeatureSpec:
    return FeatureSpec(name="f", transform=transform, dim=tuple(dim) if dim else None, **kw)


# -- build_transform -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("transform", "cls"),
    [
        (None, NoopTransform),
        ({"name": "no-op", "truncate_dim": 2}, NoopTransform),
        ({"name": "max_min_norm", "max_val": [1], "min_val": [0]}, MaxMinNormTransform),
        ({"name": "rank_gauss"}, RankGaussTransform),
        ({"name": "bucket_numerical", "range": [0, 10], "bucket_cnt": 5}, BucketNumericalTransform),
        ({"name": "to_categorical", "mapping": {"a": 0}}, ToCategoricalTransform),
        ({"name": "standard", "sum": [4.0]}, StandardTransform),
    ],
)
def test_build_transform_picks_the_transform(transform, cls):
    assert isinstance(build_transform(_spec(transform)), cls)


@pytest.mark.parametrize(
    "transform",
    [{"name": "bert_hf", "bert_model": "x"}, {"name": "tabular"},
     {"name": "to_categorical"}, {"name": "standard"}, {"name": "bucket_numerical", "range": [0, 1]}],
)
def test_build_transform_refuses_what_it_cannot_serve(transform):
    with pytest.raises(UnsupportedConfigError, match="feature f"):
        build_transform(_spec(transform))


def test_text_transform_without_a_local_lm(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LMNotFoundError, match="--lm-model x=DIR"):
        build_transform(_spec({"name": "tokenize_hf", "bert_model": "x", "max_seq_length": 8}))


def test_out_dtype_rounds_like_gconstruct():
    out = build_transform(_spec(None, out_dtype="float16")).apply([[0.1, 1 / 3]])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[0.1, 1 / 3]], dtype=np.float16).astype(np.float32))


# -- no-op ---------------------------------------------------------------------------

def test_noop_keeps_values_as_float32_and_truncates():
    out = NoopTransform("f", truncate_dim=2).apply([[1, 2, 3], [4.5, 5, 6]])
    np.testing.assert_array_equal(out, np.array([[1, 2], [4.5, 5]], dtype=np.float32))


def test_noop_scalars_become_a_column():
    assert NoopTransform("f").apply([1.5, 2]).shape == (2, 1)


def test_noop_splits_strings_on_the_separator():
    out = NoopTransform("f", separator=";").apply(["1;2.5", "3;4"])
    np.testing.assert_array_equal(out, np.array([[1, 2.5], [3, 4]], dtype=np.float32))


@pytest.mark.parametrize(
    ("values", "row", "reason"),
    [([[1.0], [math.nan]], 1, "NaN or infinite"), ([1, math.inf], 1, "NaN or infinite"),
     (["a", "b"], 0, "not a number"), ([True, False], 0, "not a number"),
     ([[1, 2], [1, 2], [3]], 2, "values")],
)
def test_noop_rejects_bad_values_naming_the_row(values, row, reason):
    with pytest.raises(FeatureValueError, match=reason) as info:
        NoopTransform("f").apply(values)
    assert info.value.row == row


# -- max_min_norm --------------------------------------------------------------------

def test_max_min_norm_uses_saved_bounds_and_clips_to_unit_range():
    out = MaxMinNormTransform("f", max_val=[421], min_val=[0]).apply([0, 210.5, 421, 500, -3, 7])
    expected = (np.array([0, 210.5, 421, 500, -3, 7]) - np.float32(0)) / (np.float32(421) - np.float32(0))
    np.testing.assert_array_equal(out[:, 0], np.clip(expected, 0, 1).astype(np.float32))


def test_max_min_norm_computes_in_float64_with_float32_bounds():
    # 29.241 and 989.835 are not exact in float32; GConstruct divides in float64 with the float32 values.
    raw = [29.241, 100.1, 989.0]
    out = MaxMinNormTransform("f", max_val=[989.835], min_val=[29.241]).apply(raw)
    lo, hi = np.float32(29.241), np.float32(989.835)
    np.testing.assert_array_equal(out[:, 0], ((np.array(raw) - lo) / (hi - lo)).astype(np.float32))
    assert out[0, 0] != 0.0  # float32(29.241) < 29.241: a float32-only computation would give 0


def test_max_min_norm_without_saved_max_uses_the_request_clipped_to_max_bound():
    out = MaxMinNormTransform("f", min_val=[0], max_bound=8).apply([1, 5, 10])
    np.testing.assert_array_equal(out[:, 0], np.array([1 / 8, 5 / 8, 1], dtype=np.float32))


def test_max_min_norm_without_saved_min_uses_the_request_clipped_to_min_bound():
    out = MaxMinNormTransform("f", max_val=[10], min_bound=2).apply([0, 6, 10])
    np.testing.assert_array_equal(out[:, 0], np.array([0, 0.5, 1], dtype=np.float32))


def test_max_min_norm_per_column_bounds():
    out = MaxMinNormTransform("f", max_val=[10, 100], min_val=[0, 50]).apply([[5, 75], [20, 0]])
    np.testing.assert_array_equal(out, np.array([[0.5, 0.5], [1, 0]], dtype=np.float32))


def test_max_min_norm_equal_bounds_is_an_error():
    with pytest.raises(FeatureValueError, match="equal"):
        MaxMinNormTransform("f").apply([3, 3])


def test_max_min_norm_casts_numeric_strings_like_gconstruct():
    out = MaxMinNormTransform("f", max_val=[4], min_val=[0]).apply(["1", "2"])
    np.testing.assert_array_equal(out[:, 0], np.array([0.25, 0.5], dtype=np.float32))


def test_max_min_norm_rejects_infinity_naming_the_row():
    with pytest.raises(FeatureValueError) as info:
        MaxMinNormTransform("f", max_val=[4], min_val=[0]).apply([1, 2, math.inf])
    assert info.value.row == 2


# -- rank_gauss ----------------------------------------------------------------------

def _rank_gauss(ranks: list[int], eps: float = 1e-6) -> np.ndarray:
    scaled = (np.array(ranks) / (len(ranks) - 1) - 0.5) * 2
    return erfinv(np.clip(scaled, -1 + eps, 1 - eps)).astype(np.float32).reshape(-1, 1)


def test_rank_gauss_ranks_within_the_request():
    out = RankGaussTransform("f").apply([30, 10, 20, 40])
    np.testing.assert_array_equal(out, _rank_gauss([2, 0, 1, 3]))
    np.testing.assert_allclose(out[[1, 3], 0], [-out[3, 0], out[3, 0]])


def test_rank_gauss_depends_on_the_other_nodes_of_the_request():
    alone = RankGaussTransform("f").apply([1, 2])
    more = RankGaussTransform("f").apply([1, 2, 3])
    assert alone[1, 0] != more[1, 0]


def test_rank_gauss_epsilon():
    out = RankGaussTransform("f", epsilon=0.1).apply([1, 2])
    np.testing.assert_array_equal(out, _rank_gauss([0, 1], eps=0.1))


def test_rank_gauss_single_node_is_zero():  # rule T5 (GraphStorm: 0/0 = NaN)
    np.testing.assert_array_equal(RankGaussTransform("f").apply([42]), np.zeros((1, 1), np.float32))


def test_rank_gauss_uniquify_ranks_distinct_values():
    out = RankGaussTransform("f", uniquify=True).apply([5, 1, 5])
    np.testing.assert_array_equal(out, _rank_gauss([0, 1])[[1, 0, 1]])
    np.testing.assert_array_equal(RankGaussTransform("f", uniquify=True).apply([2, 2]), np.zeros((2, 1)))


def test_rank_gauss_ties_rank_as_numpy_argsort():
    values = [3, 1, 3, 3, 2]
    ranks = np.array(values).reshape(-1, 1).argsort(axis=0).argsort(axis=0)[:, 0].tolist()
    np.testing.assert_array_equal(RankGaussTransform("f").apply(values), _rank_gauss(ranks))


@pytest.mark.parametrize("num_rows", [2, 3, 17, 300, rank_gauss.TABLE_MAX_ROWS, rank_gauss.TABLE_MAX_ROWS + 1])
@pytest.mark.parametrize("eps", [1e-6, 0.1])
def test_rank_gauss_outputs_per_rank_are_the_formulas_bits(num_rows: int, eps: float):
    """The per-(rows, epsilon) table of outputs, and the direct path above its size, give the
    formula's bits for every row, ties and several columns included, call after call."""
    values = np.random.default_rng(num_rows).integers(0, max(2, num_rows // 3), size=(num_rows, 2))
    transform = RankGaussTransform("f", epsilon=eps)
    for _ in range(2):  # the second call reads the cached table
        out = transform.apply(values.tolist())
        for column in range(2):
            ranks = values[:, column].reshape(-1, 1).argsort(axis=0).argsort(axis=0)[:, 0].tolist()
            np.testing.assert_array_equal(out[:, [column]], _rank_gauss(ranks, eps))


def test_rank_gauss_one_element_lists_mean_the_scalar():  # rule T6
    spec = _spec({"name": "rank_gauss"}, dim=[1])
    np.testing.assert_array_equal(build_transform(spec).apply([[3], 1, [2]]), _rank_gauss([2, 0, 1]))


# -- bucket_numerical ----------------------------------------------------------------

def _bucket_reference(x: float, lo: float, hi: float, cnt: int, window: float) -> list[int]:
    """Which buckets [x - w/2, x + w/2] (clipped to the range) touches; ends saturate.

    Bucket indices use Python's float floor division, as GConstruct (not floor(a / b), which
    rounds the quotient first: 1.25 // (5 / 12) == 2.0 but floor(1.25 / (5 / 12)) == 3).
    """
    size = (hi - lo) / cnt
    first = max((max(x - window / 2, lo) - lo) // size, 0)
    last = min((min(x + window / 2, hi) - lo) // size + 1, cnt)
    row = [1 if first <= i < last else 0 for i in range(cnt)]
    if x >= hi:
        row[-1] = 1
    if x <= lo:
        row[0] = 1
    return row


def test_bucket_examples():
    t = BucketNumericalTransform("f", 8, [0, 24], slide_window_size=2)
    out = t.apply([4, 6, 30, -2, 24, 0])
    assert out.dtype == np.float32
    assert out.tolist() == [
        [0, 1, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, 0, 0, 0],
    ]


def test_bucket_edges_use_floor_division():
    # 1.25 // (5 / 12) == 2.0: x + w/2 = 1.25 lies just below bucket 3's float edge
    out = BucketNumericalTransform("f", 12, [0, 5], slide_window_size=2.5).apply([0])
    assert out[0].tolist() == [1, 1, 1] + [0] * 9


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(st.integers(-50, 3000), st.floats(-50, 3000, allow_nan=False)), min_size=1, max_size=20),
    lo=st.integers(-20, 1990), span=st.integers(1, 60), cnt=st.integers(1, 12),
    window=st.sampled_from([0, 1, 2, 2.5, 7]),
)
def test_bucket_matches_the_per_value_rule(values, lo, span, cnt, window):
    hi = lo + span
    out = BucketNumericalTransform("f", cnt, [lo, hi], window).apply(values)
    expected = [_bucket_reference(float(v), lo, hi, cnt, window) for v in np.array(values).tolist()]
    assert out.tolist() == expected


def test_bucket_one_element_lists_mean_the_scalar():  # rule T6
    t = BucketNumericalTransform("f", 3, [0, 3])
    assert t.apply([[1.5], 2.5]).tolist() == [[0, 1, 0], [0, 0, 1]]


def test_bucket_rejects_vectors_and_nan():
    t = BucketNumericalTransform("f", 3, [0, 3])
    with pytest.raises(FeatureValueError, match="one number"):
        t.apply([[1, 2], [2, 3]])
    with pytest.raises(FeatureValueError, match="NaN") as info:
        t.apply([1, math.nan])
    assert info.value.row == 1


# -- to_categorical ------------------------------------------------------------------

def test_categorical_one_hot_with_unknowns_as_zeros():
    t = ToCategoricalTransform("f", {"a": 0, "b": 1, 3: 2})
    out = t.apply(["a", "zz", "b", None])
    assert out.tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_categorical_matches_str_of_numpy_values():
    t = ToCategoricalTransform("f", {"3": 0, "1.0": 1, "2.5": 2})
    assert t.apply([3, 4]).tolist() == [[1, 0, 0], [0, 0, 0]]
    # numpy promotes [1, 2.5] to floats: the 1 reads "1.0", as in GConstruct
    assert t.apply([1, 2.5]).tolist() == [[0, 1, 0], [0, 0, 1]]


def test_categorical_multi_label():
    t = ToCategoricalTransform("f", {"a": 0, "b": 1, "c": 2}, separator="|")
    assert t.apply(["a|c", "b|x", "", None]).tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0], [0, 0, 0]]
    # as in GConstruct, np.array(["a", 3]) holds strings; numbers alone cannot be split
    assert t.apply(["a", 3]).tolist() == [[1, 0, 0], [0, 0, 0]]
    with pytest.raises(FeatureValueError) as info:
        t.apply([1, 2])
    assert info.value.row == 0


def test_categorical_one_element_lists_mean_the_scalar():  # rule T6 (GraphStorm: "['a']", unknown)
    assert ToCategoricalTransform("f", {"a": 0, "b": 1}).apply([["a"], "b"]).tolist() == [[1, 0], [0, 1]]


def test_categorical_nan_is_an_unknown_category_not_an_error():
    assert ToCategoricalTransform("f", {"a": 0}).apply([math.nan]).tolist() == [[0]]



@pytest.mark.parametrize("width", [3, 256, 257, 600])
def test_categorical_known_strings_give_float32_one_hots_at_any_width(width):
    # up to 256 categories the rows come from a kept identity matrix, above from an indexed write
    t = ToCategoricalTransform("f", {f"c{i}": i for i in range(width)})
    out = t.apply([f"c{width - 1}", "c0", "c1", "c0"])
    expected = np.zeros((4, width), dtype=np.float32)
    expected[[0, 1, 2, 3], [width - 1, 0, 1, 0]] = 1
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
    assert t.apply([]).shape == (0, width)

# -- standard ------------------------------------------------------------------------

def test_standard_divides_by_the_saved_sum():
    out = StandardTransform("f", [8.0, 2.0]).apply([[2, 1], [4, 0.5]])
    np.testing.assert_array_equal(out, np.array([[0.25, 0.5], [0.5, 0.25]], dtype=np.float32))
