"""The Arrow request format (ours, not GraphStorm's): a ``gs-realtime-v0.1`` payload as columns.

Content type ``application/vnd.apache.arrow.stream`` (``ARROW_STREAM_CONTENT_TYPE``); the layout
is documented in ``docs/schema/gs-realtime-arrow.md``. ``payload_to_arrow`` writes
``gs-realtime-arrow-v2`` (``ARROW_FORMAT``): **one** Arrow IPC stream holding one record batch of
one row, whose every column is a ``list<...>`` holding one column of the payload (a node type's
ids or one of its features, a relation's endpoints or one of its features):

* schema metadata ``gs_format`` = ``ARROW_FORMAT``; ``gs_request`` = the payload without its
  ``graph`` as a JSON object (``version``, ``gml_task``, ``targets``, ...); ``gs_layout`` = a JSON
  object ``{"nodes": [...], "edges": [...]}`` naming by position which column is what:
  ``{"node_type": T, "node_id": i, "features": {name: i, ...} | null}`` per node type and
  ``{"edge_type": [S, R, D], "src_index": i, "dest_index": i, "features": ...}`` per relation,
  types in order of first appearance (``features`` null: the members carry no ``features``).
* A relation's endpoints are ``src_index``/``dest_index``: integer positions into the node
  ids of its source and destination type, when every endpoint is a node of the payload; or
  ``src_node_id``/``dest_node_id`` id columns (an edge to a node the payload lacks, which the
  server answers as the JSON path does).

Version 1 bodies (``ARROW_FORMAT_V1``: one IPC stream per table written back to back, the
targets as a table; ``payload_to_arrow(..., version=1)``) are still read.

``payload_to_arrow`` converts a JSON payload document exactly or refuses it
(``ArrowConversionError``): every column must read back as the very JSON values it was made of
(so mixed int/float, mixed types, members of one type with different feature keys, or with and
without ``features`` are refused: send such payloads as JSON). Keys of a node or edge other
than its type, ids and ``features`` are not carried (the server ignores them). ``read_arrow``
reads a body back into typed columns (``ArrowPayload``), ``ArrowPayload.columns`` gives them
as the ``graph_columns.GraphColumns`` that ``parse`` groups, and ``ArrowPayload.to_document`` the
JSON document the JSON path would have decoded.

Torch- and numpy-free; ``pyarrow`` is imported when a function is called (the ``arrow`` extra),
and ``orjson`` only by the reader (``gs-build-payload --format arrow`` writes without it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from handler.contract.errors import UnreadableBodyError
from handler.contract.graph_columns import EDGE_ID_COLUMNS, NODE_ID_COLUMNS, GraphColumns, MemberColumns

ARROW_FORMAT = "gs-realtime-arrow-v2"
ARROW_FORMAT_V1 = "gs-realtime-arrow-v1"
FEATURE_PREFIX = "features."
ENDPOINT_INDEX_COLUMNS = ("src_index", "dest_index")
# Lists and objects in one column value, at most (Arrow IPC's limit is 64 levels of types,
# the v2 layout's list around each column one of them).
MAX_VALUE_NESTING = 32


class ArrowConversionError(ValueError):
    """A JSON payload that has no exact Arrow form, or bytes that are not an Arrow payload."""


def import_pyarrow(needed_for: str = "the Arrow content type") -> Any:
    """pyarrow with its IPC module (imported on first use: the contract layer runs without it).

    Raises:
        ArrowConversionError: pyarrow is not installed (says what ``needed_for`` needs and how to
            install it).
    """
    try:
        import pyarrow as pa
        import pyarrow.ipc  # noqa: F401  (the submodule, for pa.ipc)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ArrowConversionError(f"{needed_for} needs pyarrow (pip install 'gs-torchserve[arrow]')") from exc
    return pa


# -- writing ---------------------------------------------------------------------------------


def _nesting_exceeds(values: list[Any], limit: int) -> bool:
    """Whether JSON ``values`` nest lists or objects more than ``limit`` levels deep (walked
    without recursion, stopping at the first value that does)."""
    stack = [(value, 1) for value in values]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is not None:
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in children)
    return False


def _column(pa: Any, name: str, values: list[Any], where: str) -> Any:
    """One exact Arrow column of JSON ``values`` (a fixed-size list when every row is a list of
    the same length)."""
    if _nesting_exceeds(values, MAX_VALUE_NESTING):
        # Arrow IPC reads at most 64 levels of nested types; pyarrow builds deeper ones slowly
        # and without bound in memory (990 levels took the whole machine's).
        raise ArrowConversionError(f"{where}: column {name!r} nests values more than {MAX_VALUE_NESTING} levels "
                                   "deep: send this payload as JSON")
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError) as exc:
        # UnicodeEncodeError: a string that is not valid Unicode (a lone surrogate), which
        # Arrow's UTF-8 strings cannot hold
        raise ArrowConversionError(f"{where}: column {name!r} has no Arrow type ({exc})") from None
    if pa.types.is_list(arr.type) and len(arr) and arr.null_count == 0:
        lengths = {len(v) for v in values}
        if len(lengths) == 1:
            arr = arr.cast(pa.list_(arr.type.value_type, lengths.pop()))
    # Exact: the column reads back as the same JSON (1 stays 1, never 1.0).
    if json.dumps(arr.to_pylist()) != json.dumps(values):
        raise ArrowConversionError(
            f"{where}: column {name!r} would not read back as the same values (mixed numbers and "
            "types change in a typed column): send this payload as JSON")
    return arr


def _member_arrays(pa: Any, records: list[dict[str, Any]], id_keys: tuple[str, ...],
                   where: str) -> tuple[dict[str, Any], bool]:
    """The id columns and ``features.<name>`` columns of graph members (or of targets), and
    whether the members carry ``features``."""
    has_features = [("features" in r) for r in records]
    if any(has_features) and not all(has_features):
        raise ArrowConversionError(f"{where}: some members have 'features' and some do not")
    columns: dict[str, list[Any]] = {k: [r.get(k) for r in records] for k in id_keys}
    if all(has_features) and records:
        keys = records[0]["features"].keys() if isinstance(records[0]["features"], dict) else None
        for r in records:
            if not isinstance(r["features"], dict) or r["features"].keys() != keys:
                raise ArrowConversionError(f"{where}: the members' 'features' objects differ in keys")
        for key in keys or ():
            columns[FEATURE_PREFIX + key] = [r["features"][key] for r in records]
    for k in id_keys:
        if any(k not in r for r in records):
            raise ArrowConversionError(f"{where}: a member lacks {k!r}")
    arrays = {name: _column(pa, name, values, where) for name, values in columns.items()}
    return arrays, bool(records) and all(has_features)


def _is_plain_id(value: Any) -> bool:
    """A node id that only an equal id of its own type matches (a non-empty str, an int): such
    endpoints may be written as positions without changing what the payload means."""
    return (type(value) is str and value != "") or type(value) is int


def _node_positions(records: list[dict[str, Any]]) -> dict[Any, int] | None:
    """Node id -> position of one node type's members; None when an id is not plain or is
    listed twice (its edges then keep their ids, as the JSON path reads them)."""
    ids = [r.get("node_id") for r in records]
    if not all(map(_is_plain_id, ids)):
        return None
    positions = {node_id: pos for pos, node_id in enumerate(ids)}
    return positions if len(positions) == len(ids) else None


def _endpoint_indices(records: list[dict[str, Any]], src: dict[Any, int] | None,
                      dst: dict[Any, int] | None) -> tuple[list[int], list[int]] | None:
    """A relation's endpoints as positions into its node types' ids; None when one is not a
    plain id of a node of the payload."""
    if src is None or dst is None:
        return None
    try:
        ends = [(src[r["src_node_id"]], dst[r["dest_node_id"]]) for r in records
                if _is_plain_id(r["src_node_id"]) and _is_plain_id(r["dest_node_id"])]
    except (KeyError, TypeError):
        return None
    if len(ends) != len(records):
        return None
    return [s for s, _ in ends], [d for _, d in ends]


def payload_to_arrow(document: dict[str, Any], version: int = 2) -> bytes:
    """A JSON payload document as an Arrow request body (see the module docstring).

    Args:
        document: the decoded JSON payload (``version``, ``gml_task``, ``graph``, ``targets``).
        version: 2 (``ARROW_FORMAT``, one stream); 1 (``ARROW_FORMAT_V1``, for servers of the
            first Arrow release).

    Returns:
        The body to send with ``Content-Type: application/vnd.apache.arrow.stream``.

    Raises:
        ArrowConversionError: the payload has no exact Arrow form (see the module docstring).
    """
    pa = import_pyarrow()
    if version not in (1, 2):
        raise ValueError(f"Arrow request format version {version!r}: 1 or 2")
    if not isinstance(document, dict):
        raise ArrowConversionError("the payload must be a JSON object")
    graph = document.get("graph")
    targets = document.get("targets")
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list) \
            or not isinstance(graph.get("edges"), list) or not isinstance(targets, list) or not targets:
        raise ArrowConversionError("the payload needs a graph with 'nodes' and 'edges' lists and a non-empty "
                                   "'targets' list")
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for part, type_key in (("nodes", "node_type"), ("edges", "edge_type")):
        groups[part] = {}
        for pos, member in enumerate(graph[part]):
            if not isinstance(member, dict) or type_key not in member:
                raise ArrowConversionError(f"graph.{part}[{pos}] is not an object with {type_key!r}")
            kind = member[type_key]
            if not (isinstance(kind, str) if part == "nodes" else
                    isinstance(kind, list) and len(kind) == 3 and all(isinstance(p, str) for p in kind)):
                # The format names types in its metadata: it has no form for another value.
                raise ArrowConversionError(f"graph.{part}[{pos}]: {type_key} {kind!r} is not "
                                           f"{'a string' if part == 'nodes' else 'a list of three strings'}")
            groups[part].setdefault(json.dumps(member[type_key]), []).append(member)
    try:
        return (_v1_body if version == 1 else _v2_body)(pa, document, groups)
    except RecursionError:  # the envelope or targets nested deeper than Python's json goes
        raise ArrowConversionError("the payload is nested too deeply for its Arrow form: send it as JSON") from None
    except (pa.ArrowException, UnicodeEncodeError) as exc:  # anything else pyarrow cannot write
        # (UnicodeEncodeError: a name that is not valid Unicode, which a column name cannot hold)
        raise ArrowConversionError(f"the payload has no Arrow form ({str(exc)[:200]}): send it as JSON") from None


def _v2_body(pa: Any, document: dict[str, Any], groups: dict[str, dict[str, list[dict[str, Any]]]]) -> bytes:
    names: list[str] = []
    lists: list[Any] = []

    def add(name: str, array: Any) -> int:
        names.append(name)
        lists.append(pa.ListArray.from_arrays(pa.array([0, len(array)], pa.int32()), array))
        return len(lists) - 1

    def features(prefix: str, arrays: dict[str, Any], has_features: bool) -> dict[str, int] | None:
        if not has_features:
            return None
        return {name[len(FEATURE_PREFIX):]: add(f"{prefix}.{name}", array)
                for name, array in arrays.items() if name.startswith(FEATURE_PREFIX)}

    layout: dict[str, list[dict[str, Any]]] = {"nodes": [], "edges": []}
    positions: dict[str, dict[Any, int] | None] = {}
    for k, (type_json, records) in enumerate(groups["nodes"].items()):
        arrays, has_features = _member_arrays(pa, records, NODE_ID_COLUMNS, f"nodes of type {type_json}")
        ntype = records[0]["node_type"]
        layout["nodes"].append({"node_type": ntype, "node_id": add(f"nodes[{k}].node_id", arrays["node_id"]),
                                "features": features(f"nodes[{k}]", arrays, has_features)})
        positions[ntype] = _node_positions(records)
    for k, (type_json, records) in enumerate(groups["edges"].items()):
        etype = records[0]["edge_type"]
        indices = _endpoint_indices(records, positions.get(etype[0]), positions.get(etype[2]))
        entry: dict[str, Any] = {"edge_type": etype}
        if indices is None:
            arrays, has_features = _member_arrays(pa, records, EDGE_ID_COLUMNS, f"edges of type {type_json}")
            entry.update({name: add(f"edges[{k}].{name}", arrays[name]) for name in EDGE_ID_COLUMNS})
        else:
            arrays, has_features = _member_arrays(pa, records, (), f"edges of type {type_json}")
            entry.update({name: add(f"edges[{k}].{name}", pa.array(values, pa.int64()))
                          for name, values in zip(ENDPOINT_INDEX_COLUMNS, indices, strict=True)})
        entry["features"] = features(f"edges[{k}]", arrays, has_features)
        layout["edges"].append(entry)
    request = {key: value for key, value in document.items() if key != "graph"}
    metadata = {"gs_format": ARROW_FORMAT, "gs_request": json.dumps(request), "gs_layout": json.dumps(layout)}
    batch = pa.RecordBatch.from_arrays(lists, names=names).replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _v1_body(pa: Any, document: dict[str, Any], groups: dict[str, dict[str, list[dict[str, Any]]]]) -> bytes:
    targets = document["targets"]
    if not all(isinstance(t, dict) for t in targets) or len({tuple(t) for t in targets}) != 1:
        raise ArrowConversionError("every target must be an object with the same keys")
    envelope = {k: v for k, v in document.items() if k not in ("graph", "targets")}
    tables = [pa.table({k: _column(pa, k, [t[k] for t in targets], "targets") for k in targets[0]},
                       metadata={"gs_format": ARROW_FORMAT_V1, "gs_envelope": json.dumps(envelope)})]
    for part, type_key, id_keys in (("nodes", "node_type", NODE_ID_COLUMNS), ("edges", "edge_type", EDGE_ID_COLUMNS)):
        for type_json, records in groups[part].items():
            arrays, has_features = _member_arrays(pa, records, id_keys, f"{part} of type {type_json}")
            meta = {"gs_part": part, type_key: type_json, "has_features": "true" if has_features else "false"}
            tables.append(pa.table(arrays, metadata=meta) if arrays else pa.table({}, metadata=meta))
    sink = pa.BufferOutputStream()
    for table in tables:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return sink.getvalue().to_pybytes()


# -- reading ---------------------------------------------------------------------------------


@dataclass
class ArrowPayload:
    """An Arrow request read back: the envelope fields, the targets and typed columns.

    Attributes:
        envelope: the payload's top-level fields other than ``graph`` and ``targets``.
        targets: the ``targets`` as JSON values.
        nodes: node type -> its nodes (``node_id``; features as pyarrow arrays).
        edges: relation -> its edges (``src_node_id``, ``dest_node_id``; features; and, for a
            relation written with ``src_index``/``dest_index``, those as ``endpoints``, which
            the decode stage checks against the node counts).
    """

    envelope: dict[str, Any]
    targets: list[Any]
    nodes: dict[str, MemberColumns] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], MemberColumns] = field(default_factory=dict)

    def columns(self) -> GraphColumns:
        """The request as ``GraphColumns`` (each column one pyarrow array)."""
        return GraphColumns(envelope=self.envelope, targets=self.targets, nodes=self.nodes, edges=self.edges)

    def to_document(self) -> dict[str, Any]:
        """The JSON payload document this body was made from (keys as ``payload_to_arrow`` keeps them)."""
        return self.columns().to_document()


class EndpointIds:
    """A relation's endpoint ids when the body gave positions: its node type's ids at those
    positions, read out only when needed (``to_document``, error texts)."""

    def __init__(self, node_ids: Any, positions: Any) -> None:
        self._node_ids, self._positions = node_ids, positions

    def __len__(self) -> int:
        return len(self._positions)

    def to_pylist(self) -> list[Any]:
        try:
            return self._node_ids.take(self._positions).to_pylist()
        except IndexError:  # pyarrow's ArrowIndexError: a position beyond the node type's ids
            raise ArrowConversionError("an endpoint position is outside its node type's nodes") from None


def read_arrow(body: bytes) -> ArrowPayload:
    """Reads an Arrow request body, of either version (see the module docstring).

    Args:
        body: the exact request bytes.

    Returns:
        The envelope fields, targets and typed columns.

    Raises:
        ArrowConversionError: the bytes are not an Arrow request of this format.
    """
    pa = import_pyarrow()
    source = pa.BufferReader(pa.py_buffer(body))
    options = pa.ipc.IpcReadOptions()  # once per body (``open_stream`` makes them per stream)
    try:
        first = pa.ipc.RecordBatchStreamReader(source, options=options)
        meta = first.schema.metadata or {}
        fmt = _meta(meta, "gs_format")
        if fmt == ARROW_FORMAT:
            batch = first.read_next_batch()
            try:
                first.read_next_batch()
            except StopIteration:
                pass
            else:
                raise ArrowConversionError(f"a {ARROW_FORMAT} body holds one record batch")
            if source.tell() != len(body):
                raise ArrowConversionError(f"a {ARROW_FORMAT} body is one Arrow stream, with nothing after it")
            # Full validation before any value is read: IPC reading checks the messages, not the
            # buffers, and a client's offsets or UTF-8 are trusted by pyarrow's readers (a bad
            # offset aborts the process). Linear in the body, ~5 us on 60 KB.
            batch.validate(full=True)
            return _read_v2(pa, batch, meta)
        if fmt != ARROW_FORMAT_V1:
            raise ArrowConversionError(
                f"the body's Arrow stream is not a {ARROW_FORMAT} (or {ARROW_FORMAT_V1}) request")
        tables = [first.read_all()]
        while source.tell() < len(body):
            tables.append(pa.ipc.RecordBatchStreamReader(source, options=options).read_all())
        for table in tables:
            table.validate(full=True)
    except StopIteration:
        raise ArrowConversionError(f"the {ARROW_FORMAT} stream holds no record batch") from None
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        # pyarrow's errors for bytes that are not valid Arrow (UnicodeDecodeError: a field name)
        raise ArrowConversionError(f"the body is not a valid Arrow IPC stream ({str(exc)[:200]})") from None
    return _read_v1(tables)


def _read_v2(pa: Any, batch: Any, meta: dict[bytes, bytes]) -> ArrowPayload:
    """A ``gs-realtime-arrow-v2`` record batch as an ``ArrowPayload``. Error texts are built
    only on failure (this runs per request)."""
    # Imported here: writing a body (gs-build-payload) needs only the standard library and pyarrow.
    from handler.contract.json_text import read_json

    try:  # the request's values as the JSON path reads a JSON body's (NaN, integers beyond 64 bits)
        request = read_json(meta.get(b"gs_request", b"null"))
    except UnreadableBodyError as exc:  # the same 400 text as for the same JSON body
        raise ArrowConversionError(exc.detail) from None
    layout = _json_meta(meta, "gs_layout", with_orjson=True)  # ~1 us against json's ~8 us (28 columns)
    if not isinstance(request, dict) or not isinstance(request.get("targets"), list):
        raise ArrowConversionError("the gs_request metadata is not a JSON object with a 'targets' list")
    if not isinstance(layout, dict) or not isinstance(layout.get("nodes"), list) \
            or not isinstance(layout.get("edges"), list):
        raise ArrowConversionError("the gs_layout metadata is not a JSON object with 'nodes' and 'edges' lists")
    lists = batch.columns
    if lists and batch.num_rows != 1:
        raise ArrowConversionError(f"the record batch has {batch.num_rows} rows: one (a list per column)")
    list_ids = _list_type_ids()
    count = len(lists)

    def column(index: Any, where: str, key: str) -> Any:
        """The values of column ``index`` (``where`` and ``key`` name it in errors)."""
        if type(index) is not int or not 0 <= index < count:
            raise ArrowConversionError(f"{where} {key}: {index!r} is not a column position of the record batch")
        values = lists[index]
        if values.type.id not in list_ids:
            raise ArrowConversionError(f"{where} {key}: column {batch.schema.names[index]!r} is not a list column")
        values = values[0].values  # exactly the row's values (a slice of the child array)
        if values is None:
            raise ArrowConversionError(f"{where} {key}: column {batch.schema.names[index]!r} is null")
        return values

    def features(spec: Any, rows: int, where: str) -> dict[str, Any] | None:
        if spec is None:
            return None
        if not isinstance(spec, dict):
            raise ArrowConversionError(f"{where}: 'features' is not an object of column positions")
        out = {name: column(index, f"{where}, feature", name) for name, index in spec.items()}
        for name, values in out.items():
            if len(values) != rows:
                raise ArrowConversionError(f"{where}: feature {name!r} has {len(values)} values for {rows} members")
        return out

    payload = ArrowPayload(envelope={k: v for k, v in request.items() if k != "targets"},
                           targets=request["targets"])
    nodes, edges = payload.nodes, payload.edges
    for pos, entry in enumerate(layout["nodes"]):
        ntype = entry.get("node_type") if isinstance(entry, dict) else None
        if not isinstance(ntype, str) or ntype in nodes:
            raise ArrowConversionError(f"gs_layout nodes[{pos}] names node type {ntype!r} (twice, or not a string)")
        where = f"gs_layout nodes[{pos}]"
        ids = column(entry.get("node_id"), f"{where},", "node_id")
        nodes[ntype] = MemberColumns(ids={"node_id": ids}, features=features(entry.get("features"), len(ids), where))
    for pos, entry in enumerate(layout["edges"]):
        raw = entry.get("edge_type") if isinstance(entry, dict) else None
        if not (isinstance(raw, list) and len(raw) == 3 and all(isinstance(p, str) for p in raw)):
            raise ArrowConversionError(f"gs_layout edges[{pos}]: edge_type is not three strings: {raw!r}")
        etype = (raw[0], raw[1], raw[2])
        if etype in edges:
            raise ArrowConversionError(f"gs_layout edges[{pos}]: edge type {raw} twice")
        where = f"gs_layout edges[{pos}]"
        ids, endpoints = _edge_ends(pa, entry, etype, nodes, column, where)
        rows = len(ids["src_node_id"])
        edges[etype] = MemberColumns(ids=ids, features=features(entry.get("features"), rows, where),
                                     endpoints=endpoints)
    return payload


def _edge_ends(pa: Any, entry: dict[str, Any], etype: tuple[str, str, str], nodes: dict[str, MemberColumns],
               column: Callable[[Any, str, str], Any], where: str) -> tuple[dict[str, Any], Any]:
    """A v2 relation's endpoint id columns, and its positions (``src_index``, ``dest_index``)
    when it has them (None otherwise)."""
    src_key, dst_key = ENDPOINT_INDEX_COLUMNS
    if src_key in entry and dst_key in entry and not any(key in entry for key in EDGE_ID_COLUMNS):
        ends = []
        for key, ntype in ((src_key, etype[0]), (dst_key, etype[2])):
            values = column(entry[key], f"{where},", key)
            if not pa.types.is_integer(values.type) or values.null_count:
                raise ArrowConversionError(f"{where}: {key} is not an integer column without nulls")
            if ntype not in nodes:
                raise ArrowConversionError(f"{where}: {key} points into node type {ntype!r}, which has no nodes")
            ends.append(values)
        if len(ends[0]) != len(ends[1]):
            raise ArrowConversionError(f"{where}: {src_key} and {dst_key} differ in length")
        ids = {"src_node_id": EndpointIds(nodes[etype[0]].ids["node_id"], ends[0]),
               "dest_node_id": EndpointIds(nodes[etype[2]].ids["node_id"], ends[1])}
        return ids, (ends[0], ends[1])
    if all(key in entry for key in EDGE_ID_COLUMNS) and not any(key in entry for key in ENDPOINT_INDEX_COLUMNS):
        ids = {key: column(entry[key], f"{where},", key) for key in EDGE_ID_COLUMNS}
        if len(ids["src_node_id"]) != len(ids["dest_node_id"]):
            raise ArrowConversionError(f"{where}: src_node_id and dest_node_id differ in length")
        return ids, None
    raise ArrowConversionError(f"{where}: the endpoints are src_index and dest_index, or src_node_id and dest_node_id")


def _read_v1(tables: list[Any]) -> ArrowPayload:
    """``gs-realtime-arrow-v1`` tables (the request table first) as an ``ArrowPayload``."""
    metas = [table.schema.metadata or {} for table in tables]
    try:
        envelope = json.loads(_meta(metas[0], "gs_envelope") or "{}")
    except ValueError:
        raise ArrowConversionError("the request table's gs_envelope metadata is not JSON") from None
    if not isinstance(envelope, dict):
        raise ArrowConversionError("the request table's gs_envelope metadata is not a JSON object")
    payload = ArrowPayload(envelope=envelope, targets=tables[0].to_pylist())
    for table, meta in zip(tables[1:], metas[1:], strict=True):
        part, has_features = _meta(meta, "gs_part"), _meta(meta, "has_features") == "true"
        if part == "nodes":
            ntype = _json_meta(meta, "node_type")
            if not isinstance(ntype, str) or ntype in payload.nodes:
                raise ArrowConversionError(f"a node table names node type {ntype!r} (twice, or not a string)")
            _require_columns(table, NODE_ID_COLUMNS, f"node type {ntype}")
            payload.nodes[ntype] = _member_columns(table, has_features)
        elif part == "edges":
            raw = _json_meta(meta, "edge_type")
            if not (isinstance(raw, list) and len(raw) == 3 and all(isinstance(p, str) for p in raw)):
                raise ArrowConversionError(f"an edge table's edge_type is not three strings: {raw!r}")
            etype = (raw[0], raw[1], raw[2])
            if etype in payload.edges:
                raise ArrowConversionError(f"two edge tables of edge type {raw}")
            _require_columns(table, EDGE_ID_COLUMNS, f"edge type {raw}")
            payload.edges[etype] = _member_columns(table, has_features)
        else:
            raise ArrowConversionError(f"an Arrow stream with gs_part {part!r} (expected nodes or edges)")
    return payload


def _member_columns(table: Any, has_features: bool) -> MemberColumns:
    """A v1 node or edge table's columns: ``features.<name>`` under the feature's name, every
    other column (the ids, checked by ``_require_columns``) as a member key. Each column is one
    array (the table's only record batch's, as a client writes it; several batches are joined)."""
    batches = table.to_batches()
    arrays = batches[0].columns if len(batches) == 1 else [c.combine_chunks() for c in table.columns]
    ids, features = {}, {}
    for name, array in zip(table.schema.names, arrays, strict=True):
        if name.startswith(FEATURE_PREFIX):
            features[name[len(FEATURE_PREFIX):]] = array
        else:
            ids[name] = array
    return MemberColumns(ids=ids, features=features if has_features else None)


@cache
def _list_type_ids() -> frozenset[int]:
    """pyarrow type ids of the column types a v2 column may be (``list``, ``large_list``)."""
    pa = import_pyarrow()
    return frozenset((pa.list_(pa.null()).id, pa.large_list(pa.null()).id))


def _meta(metadata: dict[bytes, bytes], key: str) -> str | None:
    """A schema metadata value as text (``metadata``: the schema's, read once per table)."""
    value = metadata.get(key.encode())
    return None if value is None else value.decode("utf-8", errors="replace")


def _json_meta(metadata: dict[bytes, bytes], key: str, with_orjson: bool = False) -> Any:
    """A schema metadata value of this format's own JSON (types, layout); ``with_orjson``: read by
    ``json_text.read_json`` (orjson first; the v2 layout, read per request)."""
    text = metadata.get(key.encode()) or b"null"
    try:
        if with_orjson:
            from handler.contract.json_text import read_json  # a reader's import (see _read_v2)

            return read_json(text)
        return json.loads(text)
    except (ValueError, UnreadableBodyError):
        raise ArrowConversionError(f"metadata {key!r} of an Arrow stream is not JSON") from None


def _require_columns(table: Any, names: tuple[str, ...], where: str) -> None:
    """The id columns ``names`` are there, and no column is there twice (a member key or feature
    with two values)."""
    present = table.schema.names
    missing = [n for n in names if n not in present]
    if missing:
        raise ArrowConversionError(f"{where}: the table lacks column(s) {', '.join(missing)}")
    if len(set(present)) != len(present):
        twice = sorted({n for n in present if present.count(n) > 1})
        raise ArrowConversionError(f"{where}: the table has column(s) named twice: {', '.join(twice)}")
