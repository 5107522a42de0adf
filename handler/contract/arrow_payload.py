"""The Arrow request format (ours, not GraphStorm's): a ``gs-realtime-v0.1`` payload as columns.

Content type ``application/vnd.apache.arrow.stream`` (``ARROW_STREAM_CONTENT_TYPE``). The body
is a sequence of Apache Arrow IPC streams written back to back (one IPC stream holds one
schema, and node and edge types have different columns), each holding one table:

1. **the request**: schema metadata ``gs_format`` = ``ARROW_FORMAT`` and ``gs_envelope`` = the
   payload's top-level fields other than ``graph`` and ``targets`` as a JSON object (``version``,
   ``gml_task``, ...); its rows are the ``targets``, one column per target key (``node_type``,
   ``node_id``; or ``edge_type`` as a list of three strings, ``src_node_id``, ``dest_node_id``).
2. **one table per node type**, in order of first appearance in ``graph.nodes``: metadata
   ``gs_part`` = ``nodes``, ``node_type``, ``has_features`` (``true``/``false``: the nodes carry a
   ``features`` object or none); columns ``node_id`` and ``features.<name>`` per feature (a
   number, a fixed-size list for a vector, a string, a list of strings...).
3. **one table per relation**, in order of first appearance in ``graph.edges``: metadata
   ``gs_part`` = ``edges``, ``edge_type`` (a JSON list of three strings), ``has_features``;
   columns ``src_node_id``, ``dest_node_id`` and ``features.<name>``.

``payload_to_arrow`` converts a JSON payload document exactly or refuses it
(``ArrowConversionError``): every column must read back as the very JSON values it was made of
(so mixed int/float, mixed types, members of one type with different feature keys, or with and
without ``features`` are refused: send such payloads as JSON). Keys of a node or edge other
than its type, ids and ``features`` are not carried (the server ignores them). ``read_arrow``
reads a body back into typed columns (``ArrowPayload``), ``ArrowPayload.columns`` gives them
as the ``graph_columns.GraphColumns`` that ``parse`` groups, and ``ArrowPayload.to_document`` the
JSON document the JSON path would have decoded.

Torch- and numpy-free; ``pyarrow`` is imported when a function is called (the ``arrow`` extra).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from handler.contract.graph_columns import EDGE_ID_COLUMNS, NODE_ID_COLUMNS, GraphColumns, MemberColumns

ARROW_FORMAT = "gs-realtime-arrow-v1"
FEATURE_PREFIX = "features."


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


def _column(pa: Any, name: str, values: list[Any], where: str) -> Any:
    """One exact Arrow column of JSON ``values`` (a fixed-size list when every row is a list of
    the same length)."""
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
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


def _table(pa: Any, records: list[dict[str, Any]], id_keys: tuple[str, ...], where: str,
           metadata: dict[str, str]) -> Any:
    """A table of graph members (ids and ``features.<name>`` columns) or of targets."""
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
    meta = {**metadata, "has_features": "true" if records and all(has_features) else "false"}
    return pa.table(arrays, metadata=meta) if arrays else pa.table({}, metadata=meta)


def payload_to_arrow(document: dict[str, Any]) -> bytes:
    """A JSON payload document as an Arrow request body (see the module docstring).

    Args:
        document: the decoded JSON payload (``version``, ``gml_task``, ``graph``, ``targets``).

    Returns:
        The body to send with ``Content-Type: application/vnd.apache.arrow.stream``.

    Raises:
        ArrowConversionError: the payload has no exact Arrow form (see the module docstring).
    """
    pa = import_pyarrow()
    if not isinstance(document, dict):
        raise ArrowConversionError("the payload must be a JSON object")
    graph = document.get("graph")
    targets = document.get("targets")
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list) \
            or not isinstance(graph.get("edges"), list) or not isinstance(targets, list) or not targets:
        raise ArrowConversionError("the payload needs a graph with 'nodes' and 'edges' lists and a non-empty "
                                   "'targets' list")
    if not all(isinstance(t, dict) for t in targets) or len({tuple(t) for t in targets}) != 1:
        raise ArrowConversionError("every target must be an object with the same keys")
    envelope = {k: v for k, v in document.items() if k not in ("graph", "targets")}
    tables = [pa.table({k: _column(pa, k, [t[k] for t in targets], "targets") for k in targets[0]},
                       metadata={"gs_format": ARROW_FORMAT, "gs_envelope": json.dumps(envelope)})]
    for part, type_key, id_keys in (("nodes", "node_type", NODE_ID_COLUMNS), ("edges", "edge_type", EDGE_ID_COLUMNS)):
        groups: dict[str, list[dict[str, Any]]] = {}
        for pos, member in enumerate(graph[part]):
            if not isinstance(member, dict) or type_key not in member:
                raise ArrowConversionError(f"graph.{part}[{pos}] is not an object with {type_key!r}")
            groups.setdefault(json.dumps(member[type_key]), []).append(member)
        for type_json, records in groups.items():
            where = f"{part} of type {type_json}"
            tables.append(_table(pa, records, id_keys, where, {"gs_part": part, type_key: type_json}))
    sink = pa.BufferOutputStream()
    for table in tables:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return sink.getvalue().to_pybytes()


@dataclass
class ArrowPayload:
    """An Arrow request read back: the envelope fields and typed columns (``pyarrow.Table``s).

    Attributes:
        envelope: the payload's top-level fields other than ``graph`` and ``targets``.
        targets: one row per target.
        nodes: node type -> its nodes (``node_id`` and ``features.<name>`` columns).
        edges: relation -> its edges (``src_node_id``, ``dest_node_id``, ``features.<name>``).
        nodes_have_features / edges_have_features: type -> whether its members carry ``features``.
    """

    envelope: dict[str, Any]
    targets: Any
    nodes: dict[str, Any] = field(default_factory=dict)
    edges: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    nodes_have_features: dict[str, bool] = field(default_factory=dict)
    edges_have_features: dict[tuple[str, str, str], bool] = field(default_factory=dict)

    def columns(self) -> GraphColumns:
        """The request as ``GraphColumns`` (each column as one pyarrow array, the targets read out)."""
        nodes = {ntype: _member_columns(table, self.nodes_have_features[ntype]) for ntype, table in self.nodes.items()}
        edges = {etype: _member_columns(table, self.edges_have_features[etype]) for etype, table in self.edges.items()}
        return GraphColumns(envelope=self.envelope, targets=self.targets.to_pylist(), nodes=nodes, edges=edges)

    def to_document(self) -> dict[str, Any]:
        """The JSON payload document this body was made from (keys as ``payload_to_arrow`` keeps them)."""
        return self.columns().to_document()


def _member_columns(table: Any, has_features: bool) -> MemberColumns:
    """A node or edge table's columns: ``features.<name>`` under the feature's name, every other
    column (the ids, checked by ``read_arrow``) as a member key. Each column is one array (the
    table's only record batch's, as a client writes it; several batches are joined)."""
    batches = table.to_batches()
    arrays = batches[0].columns if len(batches) == 1 else [c.combine_chunks() for c in table.columns]
    ids, features = {}, {}
    for name, array in zip(table.schema.names, arrays, strict=True):
        if name.startswith(FEATURE_PREFIX):
            features[name[len(FEATURE_PREFIX):]] = array
        else:
            ids[name] = array
    return MemberColumns(ids=ids, features=features if has_features else None)


def read_arrow(body: bytes) -> ArrowPayload:
    """Reads an Arrow request body (see the module docstring).

    Args:
        body: the exact request bytes.

    Returns:
        The envelope fields and typed columns.

    Raises:
        ArrowConversionError: the bytes are not Arrow IPC streams of this format.
    """
    pa = import_pyarrow()
    source = pa.BufferReader(pa.py_buffer(body))
    options = pa.ipc.IpcReadOptions()  # once per body (``open_stream`` makes them per stream)
    tables = []
    try:
        while source.tell() < len(body):
            tables.append(pa.ipc.RecordBatchStreamReader(source, options=options).read_all())
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise ArrowConversionError(f"the body is not an Arrow IPC stream ({str(exc)[:200]})") from None
    metas = [table.schema.metadata or {} for table in tables]
    if not tables or _meta(metas[0], "gs_format") != ARROW_FORMAT:
        raise ArrowConversionError(f"the body's first Arrow stream is not a {ARROW_FORMAT} request table")
    try:
        envelope = json.loads(_meta(metas[0], "gs_envelope") or "{}")
    except ValueError:
        raise ArrowConversionError("the request table's gs_envelope metadata is not JSON") from None
    if not isinstance(envelope, dict):
        raise ArrowConversionError("the request table's gs_envelope metadata is not a JSON object")
    payload = ArrowPayload(envelope=envelope, targets=tables[0])
    for table, meta in zip(tables[1:], metas[1:], strict=True):
        part, has_features = _meta(meta, "gs_part"), _meta(meta, "has_features") == "true"
        if part == "nodes":
            ntype = _json_meta(meta, "node_type")
            if not isinstance(ntype, str) or ntype in payload.nodes:
                raise ArrowConversionError(f"a node table names node type {ntype!r} (twice, or not a string)")
            _require_columns(table, NODE_ID_COLUMNS, f"node type {ntype}")
            payload.nodes[ntype], payload.nodes_have_features[ntype] = table, has_features
        elif part == "edges":
            raw = _json_meta(meta, "edge_type")
            if not (isinstance(raw, list) and len(raw) == 3 and all(isinstance(p, str) for p in raw)):
                raise ArrowConversionError(f"an edge table's edge_type is not three strings: {raw!r}")
            etype = (raw[0], raw[1], raw[2])
            if etype in payload.edges:
                raise ArrowConversionError(f"two edge tables of edge type {raw}")
            _require_columns(table, EDGE_ID_COLUMNS, f"edge type {raw}")
            payload.edges[etype], payload.edges_have_features[etype] = table, has_features
        else:
            raise ArrowConversionError(f"an Arrow stream with gs_part {part!r} (expected nodes or edges)")
    return payload


def _meta(metadata: dict[bytes, bytes], key: str) -> str | None:
    """A schema metadata value as text (``metadata``: the schema's, read once per table)."""
    value = metadata.get(key.encode())
    return None if value is None else value.decode("utf-8", errors="replace")


def _json_meta(metadata: dict[bytes, bytes], key: str) -> Any:
    try:
        return json.loads(_meta(metadata, key) or "null")
    except ValueError:
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
