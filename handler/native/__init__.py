"""The JSON request in C: the body straight to columns, grouping, node indices, number columns,
edge endpoints, feature rows (issue 22); and the body's sha256 on a helper thread.

``_fastpath`` (``_fastpath.c``, ``json_columns.c`` over the vendored yyjson reader in
``vendor/``, ``feature_rows.c`` and ``body_hash.c``, built by ``setup.py`` as an optional extension) does, for a
well-formed request only, what ``handler.request.decode`` + ``grouping`` (``json_columns``),
``grouping`` and ``handler.transforms.base`` (and ``handler.inputs.graph_builder``'s edge
endpoint mapping and its arithmetic transforms: ``feature_rows``) do in Python, without a
bytecode or a Python object per node, edge or value. Each of its functions returns None (False)
the moment anything is unusual, and the caller then runs the Python path, which raises today's
errors: the extension never decides an error, so every error envelope is the Python path's.
This layer imports only ``handler.contract`` (``request``, ``transforms`` and ``inputs`` use
it).

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

from handler.contract.graph_columns import GraphColumns, MemberColumns
from handler.contract.settings import NATIVE_ENV, env_flag

# The interface version the Python side expects of _fastpath.c (its FASTPATH_ABI).
ABI = 9


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
    return _number_array(*found)


_INT64, _FLOAT64 = np.dtype(np.int64), np.dtype(np.float64)


def _number_array(buffer: bytearray, width: int, integers: bool) -> np.ndarray:
    """A number column the extension filled: int64 or float64 values, rows of ``width`` (0:
    scalars). A bytearray, so the array is writable, as np.array's is. The array is made on
    the buffer at once (``frombuffer`` then ``reshape`` made two; a request has a column per
    feature of each type)."""
    dtype = _INT64 if integers else _FLOAT64
    if not width:
        return np.frombuffer(buffer, dtype)
    return np.ndarray((len(buffer) // (8 * width), width), dtype, buffer)


def edge_index(ids: list[Any], src_map: dict[Any, int],
               dst_map: dict[Any, int]) -> tuple[np.ndarray, np.ndarray] | None:
    """A relation's edges as local node indices, when every endpoint is a node of its map (else None).

    Args:
        ids: the relation's ``(src, dst)`` raw node ids (a ``TypeGroup``'s ``ids``).
        src_map: raw id -> local index of the source node type; dst_map: of the destination type.

    Returns:
        the int64 arrays ``[src_map[s] for s, _ in ids]`` and ``[dst_map[d] for _, d in ids]``
        (writable), or None: an endpoint is missing, an id is not a str, or the extension is off
        (the caller's Python path then maps them, or raises its dangling-endpoint error).

    Shapes:
        returns [len(ids)] and [len(ids)].
    """
    module = fastpath
    if module is None:
        return None
    found = module.edge_index(ids, src_map, dst_map)
    if found is None:
        return None
    return _index_arrays(found)


def _index_arrays(buffers: tuple[bytearray, bytearray]) -> tuple[np.ndarray, np.ndarray]:
    """A relation's source and destination local indices the extension filled (int64)."""
    return np.frombuffer(buffers[0], _INT64), np.frombuffer(buffers[1], _INT64)


def json_columns(body: bytes) -> GraphColumns | None:
    """A JSON request body as columns, read straight from the bytes, when it is a well-formed
    request with a graph (``json_columns.c``; else None, also with the extension off).

    Args:
        body: the exact request bytes.

    Returns:
        The request as ``GraphColumns``: the top-level fields other than ``graph`` and
        ``targets`` and the targets as orjson gives them; per node type and relation (in payload
        order) the member ids and each feature as one column: a float64 or int64 numpy array
        (writable; the array ``np.array`` makes of the values), the strs of a text feature, or
        the JSON values of a column of mixed kinds. Ids are non-empty strs or ints
        (``ids_checked``); an edge endpoint that is a node of the payload is that node's id
        object, and a relation whose every endpoint is one has their local indices
        (``MemberColumns.endpoints``).
        None: anything unusual (``json_columns.c`` lists it); the caller reads the body as JSON.

    Shapes:
        a numeric feature column: [members] or [members, width].
    """
    module = fastpath
    if module is None:
        return None
    found = module.json_columns(body)
    return None if found is None else _graph_columns(found)


def arrow_columns(body: bytes) -> GraphColumns | None:
    """An Arrow request body (``gs-realtime-arrow-v2``) as the columns ``json_columns`` gives,
    read straight from its IPC messages without pyarrow, when it is in the form pyarrow's writer
    gives (``arrow_columns.c``; else None, also with the extension off).

    Args:
        body: the exact request bytes.

    Returns:
        The request as ``GraphColumns`` (``json_columns``' forms: ids as non-empty strs, none
        twice in a type; numeric features as writable float64 or int64 arrays, text features as
        strs; every relation with its endpoints' local indices). None: anything else (a body
        pyarrow may read differently or refuse, an edge to a node the body lacks, ...): the
        caller reads the body with pyarrow (``arrow_payload.read_arrow``), which decides.

    Shapes:
        a numeric feature column: [members] or [members, width].
    """
    module = fastpath
    if module is None:
        return None
    found = module.arrow_columns(body)
    return None if found is None else _graph_columns(found)


def _graph_columns(found: tuple[Any, Any, Any, Any]) -> GraphColumns:
    """The columns ``json_columns.c`` or ``arrow_columns.c`` returned, as ``GraphColumns``."""
    fields, targets, node_groups, edge_groups = found
    nodes = {ntype: _members({"node_id": ids}, features) for ntype, ids, features in node_groups}
    edges = {etype: _members({"src_node_id": src, "dest_node_id": dst}, features,
                             None if local is None else _index_arrays(local))
             for etype, src, dst, features, local in edge_groups}
    return GraphColumns(fields, targets, nodes, edges, ids_checked=True)


def _members(ids: dict[str, Any], features: list[tuple[str, Any]] | None,
             endpoints: tuple[np.ndarray, np.ndarray] | None = None) -> MemberColumns:
    """A group's ``MemberColumns`` from the C readers' features: ``(strs,)`` (a text feature),
    ``(values, width, is_int)`` (numbers) or a list (the JSON values of a mixed column)."""
    if features is None:
        return MemberColumns(ids, None, endpoints)
    columns: dict[str, Any] = {}
    text = []
    for name, column in features:
        if isinstance(column, list):
            columns[name] = column
        elif len(column) == 1:
            columns[name] = column[0]
            text.append(name)
        else:
            columns[name] = _number_array(*column)
    return MemberColumns(ids, columns, endpoints, frozenset(text))


# The operations of ``feature_rows`` (feature_rows.c): which transform a feature's values take.
ROWS_NUMBERS = 0  # no-op: params None
ROWS_SCALE = 1  # max_min_norm with configured bounds: params (mins, ranges), tuples of floats
ROWS_BUCKETS = 2  # bucket_numerical: params (min, max, half window, bucket size), floats
ROWS_CATEGORY = 3  # to_categorical: params the mapping (str -> column)
# One feature's operation: (kind, its column, first output column (< 0: checked only), width, params).
RowsOp = tuple[int, Any, int, int, Any]


def feature_rows(out: np.ndarray, ops: list[RowsOp]) -> bool:
    """Fills ``out`` with the transformed values of several features of one node type (or
    relation), each operation writing its columns, in C (``feature_rows.c``).

    Args:
        out: float32, C-contiguous, [rows, width]: the rows to fill.
        ops: per feature ``(kind, column, offset, width, params)``: a ``ROWS_*`` kind, the
            feature's column (a float64 / int64 array [rows] or [rows, width]; the list of strs of
            a category), its first column in ``out`` (< 0: its values are checked, not
            written), its output width and the kind's parameters (the transform's
            ``native_op``).

    Returns:
        True: every operation wrote its columns, bit for bit what the Python transform's
        ``apply`` gives. False: some value is one the C does not take (a value the transform
        refuses, an unknown category, another dtype, ...; also with the extension off): ``out``
        holds partial rows, and the caller runs the Python transforms.
    """
    module = fastpath
    return module is not None and bool(module.feature_rows(out, ops))


def start_sha256(body: bytes) -> Any | None:
    """The body's sha256, started on the extension's helper thread (``body_hash.c``).

    Args:
        body: the exact request bytes (a ``bytes`` object: it is kept, unchanged, until hashed).

    Returns:
        A job whose ``hexdigest()`` gives the digest in lower-case hex (waiting for the helper
        if it has not finished); None with the extension off, for a body that is not ``bytes``,
        or when the process has no libcrypto ``SHA256`` (the caller hashes it itself).
    """
    module = fastpath
    return None if module is None else module.sha256_start(body)
