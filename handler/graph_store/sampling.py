"""Seeded uniform choice of in-edge positions, the same on every store and platform.

A destination's in-edges over a relation are positions ``0..n-1`` (the store lays them out
contiguously). The sample of size ``k`` is the first ``k`` draws of a Fisher-Yates shuffle of
those positions, driven by SHA-256 of (seed, relation, node type, node id, block counter):
uniform over all ``k``-subsets without replacement, a pure function of its inputs (so equal on
Ladybug and Neptune for the same seed), and prefix-closed (the sample for ``k`` is contained in
the one for ``k' > k``, so a node met at two hops with two fanouts gets the larger sample).
"""

from __future__ import annotations

import hashlib
import json

from handler.contract.names import CanonicalEtype

_WORD = 1 << 64


def sample_positions(seed: int, etype: CanonicalEtype, ntype: str, node_id: str, n: int, k: int) -> list[int]:
    """The first ``min(k, n)`` positions of the seeded shuffle of ``0..n-1``.

    Args:
        seed: the request's seed.
        etype: the model relation sampled.
        ntype: the destination node's type.
        node_id: the destination node's raw id.
        n: its in-degree over ``etype``.
        k: the fanout (negative: every position).

    Returns:
        Distinct positions in draw order; ``0..n-1`` in order when ``k < 0`` or ``k >= n``.
    """
    if k < 0 or k >= n:
        return list(range(n))
    stream = _WordStream(json.dumps([seed, list(etype), ntype, node_id]).encode("utf-8"))
    swapped: dict[int, int] = {}
    chosen = []
    for i in range(k):
        j = i + stream.below(n - i)
        chosen.append(swapped.get(j, j))
        swapped[j] = swapped.get(i, i)
    return chosen


class _WordStream:
    """Unbiased bounded integers from SHA-256 in counter mode."""

    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(key).digest()
        self._counter = 0
        self._words: list[int] = []

    def _next_word(self) -> int:
        if not self._words:
            block = hashlib.sha256(self._key + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
            self._words = [int.from_bytes(block[i:i + 8], "big") for i in range(24, -1, -8)]
        return self._words.pop()

    def below(self, bound: int) -> int:
        """A uniform integer in ``[0, bound)`` (rejection sampling: no modulo bias)."""
        limit = _WORD - _WORD % bound
        while True:
            word = self._next_word()
            if word < limit:
                return word % bound
