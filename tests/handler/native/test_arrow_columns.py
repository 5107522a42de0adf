"""``handler.native.arrow_columns``: an Arrow request body read straight into columns, without
pyarrow, holds exactly the values pyarrow's reading of it holds (``read_arrow``), or is None.

It must never take a body pyarrow refuses or reads otherwise: every fixture body, every single-
byte change and every cut of small bodies are read both ways and compared. The route through the
predictor (the extension's columns first, pyarrow's reading when they fail) is checked in
``tests/handler/serving/test_columns_route.py``.
"""

from __future__ import annotations

import json
import struct
from functools import cache
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

from handler import native
from handler.contract.arrow_payload import ARROW_FORMAT, ArrowConversionError, payload_to_arrow, read_arrow
from handler.contract.errors import UnreadableBodyError
from handler.contract.graph_columns import GraphColumns, as_list
from handler.request.columnar import _values, index_endpoints
from tests.compare import VARIANTS, arrow_case, load_cases

pytestmark = pytest.mark.skipif(native.fastpath is None, reason="the C extension is not built or is switched off")


def _column(values: Any) -> Any:
    """A column as the transforms take it (``columnar._values``), comparable by ``==``: an array
    as its dtype, shape and bytes (a float by its bits), anything else its JSON values."""
    values = _values(values)
    if isinstance(values, np.ndarray):
        return values.dtype.str, values.shape, values.tobytes()
    return [(type(v).__name__, v) for v in values]


def _comparable(columns: GraphColumns) -> dict[str, Any]:
    """Everything a request's columns mean, types included."""
    def features(found: dict[str, Any] | None) -> Any:
        return None if found is None else [(name, _column(values)) for name, values in found.items()]

    nodes = [(ntype, as_list(m.ids["node_id"]), features(m.features)) for ntype, m in columns.nodes.items()]
    edges = [(etype, as_list(m.ids["src_node_id"]), as_list(m.ids["dest_node_id"]), features(m.features),
              None if m.endpoints is None else [np.asarray(e, np.int64).tolist() for e in m.endpoints])
             for etype, m in columns.edges.items()]
    return {"envelope": orjson.dumps(columns.envelope), "targets": orjson.dumps(columns.targets),
            "nodes": nodes, "edges": edges}


def _pyarrow_reading(body: bytes) -> dict[str, Any] | None:
    """What the reference reading gives (None: it refuses the body)."""
    try:
        columns = read_arrow(body).columns()
        index_endpoints(columns)
    except (ArrowConversionError, UnreadableBodyError):
        return None
    return _comparable(columns)


def _check(body: bytes) -> bool:
    """The extension's reading is None or pyarrow's; True when it took the body."""
    found = native.arrow_columns(body)
    if found is None:
        return False
    assert found.ids_checked
    assert _comparable(found) == _pyarrow_reading(body)
    for members in [*found.nodes.values(), *found.edges.values()]:  # every list column is a text feature's
        lists = {name for name, values in (members.features or {}).items() if isinstance(values, list)}
        assert members.text_features == lists
    return True


@cache
def _fixture_bodies(variant: str) -> list[tuple[str, bytes]]:
    return [(case.name, case.body) for case in filter(None, map(arrow_case, load_cases(variant)))]


@pytest.mark.parametrize("variant", VARIANTS)
def test_fixture_bodies_are_read_as_pyarrow_reads_them(variant: str) -> None:
    taken = [name for name, body in _fixture_bodies(variant) if _check(body)]
    # Declined: nulls (gsp_rgcn_nc's missing values), edges to nodes the payload lacks, ...
    assert taken, variant


def _small_bodies() -> list[bytes]:
    return [body for variant in ("sage_homo_nc", "rgcn_nc", "rgcn_lp")
            for name, body in _fixture_bodies(variant) if name == "v01_tiny"]


@pytest.mark.parametrize("index", range(3))
def test_every_changed_byte_is_declined_or_read_as_pyarrow_reads_it(index: int) -> None:
    body = _small_bodies()[index]
    assert _check(body)
    taken = 0
    for at in range(len(body)):
        for value in {body[at] ^ 0x01, body[at] ^ 0x80, 0xFF, 0x00} - {body[at]}:
            taken += _check(body[:at] + bytes([value]) + body[at + 1:])
    # Padding, the values of numbers and the like change nothing the reader checks.
    assert taken > 0


@pytest.mark.parametrize("index", range(3))
def test_every_cut_body_is_declined_or_read_as_pyarrow_reads_it(index: int) -> None:
    body = _small_bodies()[index]
    for end in range(len(body)):
        _check(body[:end])
    _check(body + b"\x00" * 8)
    _check(body + body)


# -- forms the reader leaves to pyarrow --------------------------------------------------------

REQUEST = {"version": "gs-realtime-v0.1", "gml_task": "node_classification",
           "targets": [{"node_type": "paper", "node_id": "p1"}]}


def _body(columns: dict[str, pa.Array], layout: dict[str, Any], request: Any = None,
          options: pa.ipc.IpcWriteOptions | None = None, metadata: dict[str, str] | None = None) -> bytes:
    """A v2 body of these list columns (each one row) and metadata, written by pyarrow."""
    meta = {"gs_format": ARROW_FORMAT, "gs_request": json.dumps(REQUEST if request is None else request),
            "gs_layout": json.dumps(layout), **(metadata or {})}
    batch = pa.RecordBatch.from_arrays(list(columns.values()), names=list(columns)).replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _row(values: list[Any], kind: pa.DataType | None = None) -> pa.Array:
    """A list column of one row holding ``values``."""
    child = pa.array(values, kind)
    return pa.ListArray.from_arrays(pa.array([0, len(child)], pa.int32()), child)


def _graph(ids: pa.Array | None = None, feat: pa.Array | None = None, src: pa.Array | None = None,
           dst: pa.Array | None = None, **layout_changes: Any) -> tuple[dict[str, pa.Array], dict[str, Any]]:
    """Two papers with a feature and one citation, each column replaceable."""
    columns = {"ids": ids if ids is not None else _row(["p1", "p2"]),
               "feat": feat if feat is not None else _row([[1.0, 2.0], [3.0, 4.0]], pa.list_(pa.float64(), 2)),
               "src": src if src is not None else _row([0], pa.int64()),
               "dst": dst if dst is not None else _row([1], pa.int64())}
    layout = {"nodes": [{"node_type": "paper", "node_id": 0, "features": {"feat": 1}}],
              "edges": [{"edge_type": ["paper", "cites", "paper"], "src_index": 2, "dest_index": 3,
                         "features": None}]}
    layout.update(layout_changes)
    return columns, layout


def test_the_plain_graph_is_taken() -> None:
    assert _check(_body(*_graph()))
    columns = native.arrow_columns(_body(*_graph()))
    assert columns is not None
    assert columns.nodes["paper"].features["feat"].flags.writeable


DECLINED = {
    "node ids as integers": _graph(ids=_row([1, 2], pa.int64())),
    "an empty node id": _graph(ids=_row(["p1", ""])),
    "a node id twice": _graph(ids=_row(["p1", "p1"])),
    "a null node id": _graph(ids=_row(["p1", None])),
    "a null in a feature": _graph(feat=_row([[1.0, 2.0], None], pa.list_(pa.float64(), 2))),
    "float32 values": _graph(feat=_row([1.0, 2.0], pa.float32())),
    "int32 positions": _graph(src=_row([0], pa.int32())),
    "a ragged list feature": _graph(feat=_row([[1.0], [2.0, 3.0]])),
    "a fixed-size list of strs": _graph(feat=_row([["a"], ["b"]], pa.list_(pa.string(), 1))),
    "a large list column": _graph(ids=pa.LargeListArray.from_arrays(pa.array([0, 2], pa.int64()),
                                                                    pa.array(["p1", "p2"]))),
    "a dictionary column": _graph(ids=pa.ListArray.from_arrays(pa.array([0, 2], pa.int32()),
                                                               pa.array(["p1", "p2"]).dictionary_encode())),
    "a position past the nodes": _graph(dst=_row([2], pa.int64())),
    "a negative position": _graph(src=_row([-1], pa.int64())),
    "a feature of another length": _graph(feat=_row([1.0, 2.0, 3.0])),
    "endpoints into a type without nodes": _graph(edges=[{"edge_type": ["author", "writes", "paper"],
                                                          "src_index": 2, "dest_index": 3, "features": None}]),
    "endpoints as ids": _graph(edges=[{"edge_type": ["paper", "cites", "paper"], "src_node_id": 0,
                                       "dest_node_id": 0, "features": None}]),
    "a node type twice": _graph(nodes=[{"node_type": "paper", "node_id": 0, "features": None}] * 2),
    "no node types": _graph(nodes=[], edges=[]),
    "a layout key of another format": _graph(more=1),
    "a column position past the batch": _graph(nodes=[{"node_type": "paper", "node_id": 9, "features": None}]),
    # Each name would be a copy of the values: a small body naming one column many times would
    # ask for many times its size (pyarrow's reading gives views).
    "a column named twice": _graph(nodes=[{"node_type": "paper", "node_id": 0, "features": {"feat": 1, "again": 1}}]),
}


@pytest.mark.parametrize("form", sorted(DECLINED))
def test_forms_left_to_pyarrow(form: str) -> None:
    body = _body(*DECLINED[form])
    assert native.arrow_columns(body) is None


@pytest.mark.parametrize(("form", "kwargs"), [
    ("the request with a graph", {"request": {**REQUEST, "graph": {}}}),
    ("targets that are not a list", {"request": {**REQUEST, "targets": {"node_id": "p1"}}}),
    ("a request that is not an object", {"request": [REQUEST]}),
    ("a NaN in the request", {"request": {**REQUEST, "x": float("nan")}}),
    ("another format", {"metadata": {"gs_format": "gs-realtime-arrow-v1"}}),
    ("the legacy IPC format", {"options": pa.ipc.IpcWriteOptions(use_legacy_format=True)}),
    ("metadata version V4", {"options": pa.ipc.IpcWriteOptions(metadata_version=pa.ipc.MetadataVersion.V4)}),
    ("compressed buffers", {"options": pa.ipc.IpcWriteOptions(compression="zstd")}),
])
def test_requests_left_to_pyarrow(form: str, kwargs: dict[str, Any]) -> None:
    body = _body(*_graph(), **kwargs)
    assert native.arrow_columns(body) is None, form


def test_a_stream_of_two_batches_or_trailing_bytes_is_left_to_pyarrow() -> None:
    columns, layout = _graph()
    body = _body(columns, layout)
    assert native.arrow_columns(body[:-8]) is not None  # no end-of-stream marker: pyarrow reads it too
    assert native.arrow_columns(body + b"\x00") is None
    batch = pa.ipc.open_stream(body).read_next_batch()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
        writer.write_batch(batch)
    assert native.arrow_columns(sink.getvalue().to_pybytes()) is None


def test_only_exact_bytes_are_read() -> None:
    """A writable buffer could change between the checks and the reading."""
    body = _body(*_graph())
    assert native.arrow_columns(body) is not None
    assert native.arrow_columns(bytearray(body)) is None  # type: ignore[arg-type]


def test_invalid_utf8_in_a_column_no_layout_names_is_left_to_pyarrow() -> None:
    """Full validation checks every str of every column, read or not."""
    columns, layout = _graph()
    body = _body({**columns, "unread": _row(["abc\u00e9"])}, layout)
    assert _check(body)
    at = body.index("abc\u00e9".encode())
    broken = body[:at + 3] + b"\xc3\x28" + body[at + 5:]  # a lead byte without its continuation
    assert native.arrow_columns(broken) is None
    assert _pyarrow_reading(broken) is None


def test_values_are_read_bit_for_bit() -> None:
    floats = [0.0, -0.0, float("nan"), float("inf"), 5e-324, 1.7976931348623157e308, 2.0**63]
    ints = [0, -1, 2**63 - 1, -(2**63)]
    columns, layout = _graph()
    two = {"f": _row(floats[:2]), "i": _row(ints[:2], pa.int64()), "s": _row(["", "\U0001f600"])}
    body = _body({**columns, **two}, {**layout, "nodes": [
        {"node_type": "paper", "node_id": 0, "features": {"f": 4, "i": 5, "s": 6}}]})
    assert _check(body)
    found = native.arrow_columns(body)
    assert found is not None
    feats = found.nodes["paper"].features
    assert struct.pack("<2d", *floats[:2]) == feats["f"].tobytes()
    assert feats["i"].tolist() == ints[:2] and feats["i"].dtype == np.int64
    assert feats["s"] == ["", "\U0001f600"]
    for value in floats[2:]:
        one = _body({**columns, "f": _row([value, 1.0])}, {**layout, "nodes": [
            {"node_type": "paper", "node_id": 0, "features": {"f": 4}}]})
        assert _check(one)


def test_payload_to_arrow_bodies_of_other_graphs() -> None:
    """Types, features and relations of another schema (not a fixture's)."""
    payload = {"version": "gs-realtime-v0.1", "gml_task": "edge_classification",
               "graph": {"nodes": [{"node_type": t, "node_id": f"{t}{i}", "features": {"x": [i, i + 1], "y": 0.5 * i}}
                                   for t in ("user", "item") for i in range(5)],
                         "edges": [{"edge_type": ["user", "buys", "item"], "src_node_id": f"user{i}",
                                    "dest_node_id": f"item{(i * 3) % 5}", "features": {"w": i}} for i in range(5)]},
               "targets": [{"edge_type": ["user", "buys", "item"], "src_node_id": "user1", "dest_node_id": "item3"}],
               "extra": {"nested": [1, 2.5, None, True]}}
    body = payload_to_arrow(payload)
    assert _check(body)
    found = native.arrow_columns(body)
    assert found is not None
    assert found.envelope == {"version": "gs-realtime-v0.1", "gml_task": "edge_classification",
                              "extra": {"nested": [1, 2.5, None, True]}}
    assert found.edges["user", "buys", "item"].endpoints[1].tolist() == [0, 3, 1, 4, 2]
    assert found.to_document() == read_arrow(body).to_document()
