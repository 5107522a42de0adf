"""``float_rows``: the vector-feature fast path of ``to_array`` gives exactly ``np.array``'s
array, or steps aside."""

from __future__ import annotations

import random

import numpy as np
import pytest

from handler.transforms.base import float_rows, stacked_float_rows, to_array

_LEAVES = (
    lambda r: r.random() * 10 - 5, lambda r: r.randint(-10, 10), lambda r: True, lambda r: -0.0,
    lambda r: 2**62 + r.randint(0, 99), lambda r: 2**63 + 5, lambda r: 10**400, lambda r: float("nan"),
    lambda r: float("inf"), lambda r: 1e300, lambda r: "1.5", lambda r: "x" * 100, lambda r: None,
    lambda r: [1.0],
)


def _weights(rng: random.Random, rare: float) -> list[float]:
    """Leaf weights: mostly floats and ints, each other kind of leaf at most ``rare``."""
    return [20, 5] + [rng.random() * rare for _ in _LEAVES[2:]]


def _random_rows(rng: random.Random, weights: list[float], width: int, ragged: float, max_rows: int) -> list:
    """Up to ``max_rows`` payload rows of ``width`` leaves (one more with probability ``ragged``)."""
    return [[rng.choices(_LEAVES, weights)[0](rng) for _ in range(width + (rng.random() < ragged))]
            for _ in range(rng.randint(0, max_rows))]


@pytest.mark.parametrize("values", [
    [[0.5, 1], [2, 3]],  # ints beside a float: float64 as numpy makes it
    [[1.0, True]],  # a bool beside a float reads 1.0
    [[0.5, 2**62 + 1]],  # a large int within int64, rounded as numpy rounds it
])
def test_float_rows_is_np_array(values: list) -> None:
    rows = float_rows(values)
    assert rows is not None and rows.dtype == np.float64
    assert np.array_equal(rows, np.array(values))


@pytest.mark.parametrize("values", [
    [], [[]], [[1, 2]], [[True]], [0.5, 1.5], [[0.5], [1.0, 2.0]], [[0.5, "1.5"]], [[0.5, None]],
    [[0.5, [1.0]]], [[0.5, 2**63]], [[0.5, 10**400]], [[float("nan")]], [[float("inf")]], [(0.5,)],
])
def test_float_rows_steps_aside(values: list) -> None:
    """Ints only (numpy keeps int64), ragged, text, nulls, nesting, an int numpy keeps as an
    object, NaN/inf (reported by the caller's checks) or rows that are not lists."""
    assert float_rows(values) is None


def test_float_rows_matches_np_array_on_random_rows() -> None:
    rng = random.Random(20261207)
    taken = 0
    for _ in range(3000):
        weights = _weights(rng, 0.3)
        values = _random_rows(rng, weights, rng.randint(0, 3), ragged=0.05, max_rows=4)
        rows = float_rows(values)
        if rows is None:
            continue
        taken += 1
        with np.errstate(all="ignore"):
            expected = np.array(values)
        assert rows.dtype == expected.dtype and rows.shape == expected.shape
        assert np.array_equal(rows, expected) and np.array_equal(np.signbit(rows), np.signbit(expected))
    assert taken > 500  # the fast path is exercised, not only its refusals


def test_to_array_takes_the_fast_path_for_float_vectors() -> None:
    values = [[0.25, 1.0], [2.0, -3.5]] * 4
    assert np.array_equal(to_array(values), np.array(values))


def test_stacked_float_rows_is_each_parts_rows_concatenated() -> None:
    """A batch's parts go together only when each alone gives float64 rows of one width."""
    rng = random.Random(7)
    taken = 0
    for _ in range(2000):
        weights = _weights(rng, 0.2)
        width = rng.randint(1, 3)
        parts = [_random_rows(rng, weights, width, ragged=0.03, max_rows=3) for _ in range(rng.randint(1, 4))]
        alone = [float_rows(part) for part in parts]
        stacked = stacked_float_rows(parts)
        if any(rows is None for rows in alone) or len({rows.shape[1] for rows in alone}) != 1:
            assert stacked is None
            continue
        taken += 1
        assert stacked is not None and np.array_equal(stacked, np.concatenate(alone))
    assert taken > 200
