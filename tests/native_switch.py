"""The C extension switched on or off for a block of a test (``handler.native.fastpath`` is read
at each call, so both paths run in one process)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from handler import native


@contextmanager
def extension(on: bool) -> Iterator[None]:
    """``on``: the extension as loaded (None if it is not built); off: the pure-Python path."""
    saved = native.fastpath
    native.fastpath = saved if on else None
    try:
        yield
    finally:
        native.fastpath = saved
