"""The JSON request's happy path in C: grouping and number feature columns (issue 22).

``_fastpath`` (``_fastpath.c``, built by ``setup.py`` as an optional extension) does, for a
well-formed request only, what ``handler.request.grouping`` and ``handler.transforms.base``
do in Python, without a bytecode per node, edge or value. Each of its functions returns None
the moment anything is unusual, and the caller then runs the Python path, which raises
today's errors: the extension never decides an error, so every error envelope is the Python
path's. This layer imports only ``handler.contract`` (``request`` and ``transforms`` both use it).

``fastpath`` is the compiled module, or None when it is absent (an install without a
compiler), fails to import (a .mar on another Python), is a stale build (its ``ABI`` differs
from ``ABI`` here), or ``GS_NATIVE`` is false (``0``, ``false``, ``no``, ``off``) in the
environment: the switch to force the pure-Python path, read once at import (a value that is
not a boolean leaves the extension on; the deploy tools refuse it before it gets here).
Callers read ``fastpath`` at each call, so a test or a benchmark may set it to None to compare
both paths in one process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

from handler.contract.settings import NATIVE_ENV, env_flag

# The interface version the Python side expects of _fastpath.c (its FASTPATH_ABI).
ABI = 2


def load() -> ModuleType | None:
    """The compiled module, or None (absent, unloadable, stale, or switched off)."""
    try:
        if not env_flag(os.environ, NATIVE_ENV, True):
            return None
    except ValueError:
        pass
    try:
        from handler.native import _fastpath
    except Exception:  # noqa: BLE001 - ImportError, or an OSError/SystemError of a foreign build
        return None
    return _fastpath if getattr(_fastpath, "ABI", None) == ABI else None


fastpath: ModuleType | None = load()


def number_column(items: Sequence[Any], name: str | None = None) -> np.ndarray | None:
    """``np.array`` of the values, bit for bit, when they are float or int64 rows (else None).

    Args:
        items: the members' ``features`` dicts (``name`` given), or the values themselves (a
            list: anything else gives None).
        name: the feature whose values are taken from each dict; None: the items are the values.

    Returns:
        float64 array when every value is a float, or every value a list of one length > 0 of
        floats, all with |x| < 2**63; int64 array for the same of ints within int64 (a float
        beside an int, a bool, NaN or anything else: None; also with the extension off).

    Shapes:
        returns [len(items)] (numbers) or [len(items), width] (lists).
    """
    module = fastpath
    if module is None:
        return None
    found = module.number_column(items, name)
    if found is None:
        return None
    buffer, width, integers = found
    # A bytearray: the array is writable, as np.array's is.
    column = np.frombuffer(buffer, np.int64 if integers else np.float64)
    return column.reshape(-1, width) if width else column
