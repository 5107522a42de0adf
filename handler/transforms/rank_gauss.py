"""GConstruct's ``rank_gauss``: ranks mapped through the inverse error function.

The ranks are taken over the values of ONE request (GraphStorm's payload path runs the
transform on the payload's nodes of one type), so a node's feature depends on the other
nodes of its type in the same request.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.special import erfinv

from handler.transforms.base import FeatureTransform, require_finite, to_array, to_numeric

# A row's output depends only on its rank, the row count n and epsilon: the n outputs of each
# (n, epsilon) are computed once (erfinv and the clipping were ~3 us of a 4 us transform of a few
# rows, 35 us of 87 at 3,000). Tables for up to this many rows are kept (8 bytes a row).
TABLE_MAX_ROWS = 4096


@lru_cache(maxsize=128)
def _rank_outputs(num_rows: int, epsilon: float) -> np.ndarray:
    """erfinv of each rank's scaled, clipped value; entry r is the output of the row ranked r.

    ``_erfinv_of_ranks`` of the ranks 0..num_rows-1: element by element what it gives a
    request's ranks, so the same bits (the array is read-only: the cache shares it).

    Shapes:
        returns [num_rows].
    """
    outputs = _erfinv_of_ranks(np.arange(num_rows), epsilon)
    outputs.flags.writeable = False
    return outputs


def _erfinv_of_ranks(ranks: np.ndarray, epsilon: float) -> np.ndarray:
    """GConstruct's output of each rank of ``len(ranks)`` rows (ranks along axis 0)."""
    scaled = (ranks / (len(ranks) - 1) - 0.5) * 2
    # np.clip(scaled, low, high) as the two ufunc calls it is made of (half its cost): they
    # differ only on ties of -0.0 and +0.0, and neither the bounds nor the values are -0.0.
    return erfinv(np.minimum(np.maximum(scaled, -1 + epsilon), 1 - epsilon))


class RankGaussTransform(FeatureTransform):
    """Rank-Gauss normalisation (GConstruct ``RankGaussTransform``).

    Args:
        name: feature name.
        epsilon: clip ranks to ``[-1 + epsilon, 1 - epsilon]`` before ``erfinv``.
        uniquify: rank the distinct rows instead of every row.
        dtype: output dtype.
        scalar_input: one number per row.
    """

    accepts_arrays = True  # numbers only: a numpy column is what to_array would make

    def __init__(
        self,
        name: str,
        epsilon: float | None = None,
        uniquify: bool = False,
        dtype: type = np.float32,
        scalar_input: bool = False,
    ) -> None:
        super().__init__(name, scalar_input)
        self.epsilon = 1e-6 if epsilon is None else epsilon
        self.uniquify = uniquify
        self.dtype = dtype
        # erfinv of values clipped inside (-1, 1) is finite (of +-1 it is +-inf): nothing for apply to check.
        self.output_finite = -1.0 < -1 + self.epsilon <= 1 - self.epsilon < 1.0

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        feats = to_numeric(to_array(raw_values), raw_values)
        require_finite(feats)
        if feats.ndim == 1:
            feats = feats.reshape(-1, 1)
        if self.uniquify:
            uniq, inverse = np.unique(feats, axis=0, return_inverse=True)
            if len(uniq) == 1:
                return np.zeros(feats.shape, dtype=self.dtype)
            return self._gauss(uniq)[inverse.reshape(-1)].astype(self.dtype)
        if len(feats) == 1:
            # Rule T5: GConstruct divides by n - 1 = 0 here (NaN); one value ranks in the middle.
            return np.zeros(feats.shape, dtype=self.dtype)
        return self._gauss(feats).astype(self.dtype)

    def _gauss(self, feats: np.ndarray) -> np.ndarray:
        # numpy's default (non-stable) argsort, as GConstruct: ties rank as it ranks them.
        ranks = feats.argsort(axis=0).argsort(axis=0)
        if len(ranks) > TABLE_MAX_ROWS:
            return _erfinv_of_ranks(ranks, self.epsilon)
        return _rank_outputs(len(ranks), self.epsilon)[ranks]
