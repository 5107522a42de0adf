"""The cheaper finiteness checks (issue 22) answer exactly as the full ones: ``all_finite`` as
``np.isfinite(...).all()``, and a transform whose ``output_finite`` lets ``apply`` skip its own
check gives the same array (dtype included) or the same error row and reason as without it."""

from __future__ import annotations

import copy
import random
import warnings
from typing import Any

import numpy as np
import pytest

from handler.transforms.base import FeatureTransform, FeatureValueError, all_finite
from handler.transforms.bucket_numerical import BucketNumericalTransform
from handler.transforms.gsp_bucket_numerical import GSPBucketNumericalTransform
from handler.transforms.gsp_categorical import GSPCategoricalTransform
from handler.transforms.gsp_noop import GSPNoopTransform
from handler.transforms.max_min_norm import MaxMinNormTransform
from handler.transforms.noop import NoopTransform
from handler.transforms.rank_gauss import RankGaussTransform
from handler.transforms.to_categorical import ToCategoricalTransform

# Values that overflow float32 or float64 sums and casts, or are not finite.
_HOSTILE = [1e39, -1e39, 3.4e38, 3.5e38, 1e308, -1e308, np.inf, -np.inf, np.nan, 0.0, -0.0, 2.0**63]

with np.errstate(over="ignore"):
    _OVERFLOWING_RANGE = MaxMinNormTransform("m", max_val=[3e38], min_val=[-3e38])  # max - min overflows float32


def _columns(seed: int) -> list[Any]:
    """Numeric columns and rows, as JSON lists and numpy arrays, mixing hostile and plain values."""
    rng = np.random.default_rng(seed)
    columns: list[Any] = []
    for rows in (1, 3, 20):
        for _ in range(12):
            col = rng.choice(_HOSTILE, rows)
            plain = rng.random(rows) < 0.6
            col[plain] = rng.normal(size=int(plain.sum())) * 10
            pairs = np.stack([col, col[::-1]], 1)
            with np.errstate(over="ignore"):
                narrow = col.astype(np.float32)
            columns += [col, col.tolist(), col.reshape(-1, 1), pairs, pairs.tolist(),
                        rng.integers(-5, 100, rows), narrow]
    return columns + [[[1, 2], [3]], [[1.0, "x"]], [True, 1.0], [None, 1.0], [[1.5]] * 4]


def _outcome(transform: FeatureTransform, values: Any) -> tuple:
    try:
        out = transform.apply(values)
    except FeatureValueError as err:
        return ("error", err.row, err.reason)
    except ValueError as err:  # e.g. rows of another width than the configured bounds
        return ("raised", type(err).__name__, str(err))
    return ("ok", out.dtype.str, out.shape, out.tobytes())


def _without_shortcut(transform: FeatureTransform) -> FeatureTransform:
    full = copy.copy(transform)
    full.output_finite = False
    return full


@pytest.mark.parametrize("transform", [
    NoopTransform("feat"),
    NoopTransform("feat", scalar_input=True),
    GSPNoopTransform("feat"),
    MaxMinNormTransform("m", max_val=[100.0], min_val=[0.0], scalar_input=True),
    MaxMinNormTransform("m", max_val=[1e38, 1.0], min_val=[-1e38, 0.0]),
    MaxMinNormTransform("m", max_val=[1e-40], min_val=[0.0], dtype=np.float16),
    ToCategoricalTransform("c", {"a": 0, "b": 1, "1.0": 2}),
    BucketNumericalTransform("b", 5, [0.0, 100.0], 10.0),
    RankGaussTransform("r", scalar_input=True),
    RankGaussTransform("r", uniquify=True),
    GSPCategoricalTransform("c", {"a": 0, "b": 1, "1.0": 2}, 3),
    GSPBucketNumericalTransform("b", [0.0, 100.0], 5, 10.0),
], ids=lambda t: f"{type(t).__name__}-{t.name}")
def test_skipped_output_check_answers_as_the_full_one(transform: FeatureTransform) -> None:
    assert transform.output_finite
    full = _without_shortcut(transform)
    for values in _columns(seed=7) + [["a", "b", "zz"], ["1.0", 1.0]]:
        assert _outcome(transform, values) == _outcome(full, values), values


@pytest.mark.parametrize("transform", [
    NoopTransform("feat", truncate_dim=1),
    NoopTransform("feat", dtype=np.float64),
    MaxMinNormTransform("m", max_val=[5.0], min_val=[np.inf]),  # a NaN from -inf / -inf
    _OVERFLOWING_RANGE,
    MaxMinNormTransform("m"),  # bounds from the request: its range may overflow
    RankGaussTransform("r", epsilon=0.0),  # erfinv(+-1) is +-inf
    RankGaussTransform("r", epsilon=1e-17),  # 1 - epsilon rounds to 1
], ids=lambda t: f"{type(t).__name__}-{t.name}")
def test_output_check_is_kept_where_the_output_may_not_be_finite(transform: FeatureTransform) -> None:
    assert not transform.output_finite


def test_noop_names_a_nan_before_an_earlier_overflow() -> None:
    with pytest.raises(FeatureValueError) as err:
        NoopTransform("feat").apply(np.array([[1e39, 1.0], [1.0, np.nan]]))
    assert (err.value.row, err.value.reason) == (1, "is NaN or infinite")
    with pytest.raises(FeatureValueError) as err:
        NoopTransform("feat").apply(np.array([[1.0, 1.0], [1.0, -1e39]]))
    assert (err.value.row, err.value.reason) == (1, "is beyond the float32 range (about ±3.4e38)")


def test_all_finite_is_isfinite_all() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        dtype = rng.choice([np.float16, np.float32, np.float64, np.int64])
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.array([rng.choice(_HOSTILE + [1.0, -2.5]) for _ in range(rng.randint(0, 6))]).astype(dtype)
            assert all_finite(arr) == bool(np.isfinite(arr).all()), arr


def test_apply_warns_of_nothing_it_checks() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for values in ([np.inf, -np.inf], [1e39]):
            with pytest.raises(FeatureValueError):
                NoopTransform("feat").apply(np.array(values))
        out = NoopTransform("feat").apply(np.array([3e38, 3e38]))  # its sum overflows
        assert (out == np.float32(3e38)).all() and out.shape == (2, 1)
