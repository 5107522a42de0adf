"""The Arrow request format (v2 as written, v1 as still read): exact round trips, refusals,
endpoint positions, and what the decode stage answers for a body that is not a request."""

from __future__ import annotations

import json
from collections.abc import Callable

import orjson
import pyarrow as pa
import pytest

from handler import RealtimePredictor
from handler.contract.arrow_payload import (
    ARROW_FORMAT,
    ARROW_FORMAT_V1,
    ArrowConversionError,
    payload_to_arrow,
    read_arrow,
)
from handler.contract.errors import UnreadableBodyError
from handler.contract.limits import RequestLimits
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE
from handler.request.decode import decode, error_uid
from tests.compare import FIXTURES_DIR, artifacts_dir


def _payload(**graph_overrides) -> dict:
    graph = {
        "nodes": [
            {"node_type": "paper", "node_id": "p1", "features": {"feat": [1.5, 2.0], "year": 2001}},
            {"node_type": "author", "node_id": 7, "features": {"name": "ann"}},
            {"node_type": "paper", "node_id": "p2", "features": {"feat": [0.5, -1.0], "year": 1999}},
            {"node_type": "term", "node_id": "t1"},
        ],
        "edges": [
            {"edge_type": ["author", "writing", "paper"], "src_node_id": 7, "dest_node_id": "p1"},
            {"edge_type": ["paper", "cites", "paper"], "src_node_id": "p1", "dest_node_id": "p2",
             "features": {"w": 0.25}},
        ],
    }
    graph.update(graph_overrides)
    return {"version": "gs-realtime-v0.1", "gml_task": "node_classification", "graph": graph,
            "targets": [{"node_type": "paper", "node_id": "p1"}, {"node_type": "paper", "node_id": "p2"}]}


def test_round_trip_keeps_values_types_and_order_within_a_type() -> None:
    doc = _payload()
    body = payload_to_arrow(doc)
    read = read_arrow(body)
    assert read.envelope == {"version": "gs-realtime-v0.1", "gml_task": "node_classification"}
    assert list(read.nodes) == ["paper", "author", "term"]
    # A vector feature of one width per row is a fixed-size list (zero-copy to a 2-D array).
    assert read.nodes["paper"].features["feat"].type == pa.list_(pa.float64(), 2)
    assert read.nodes["paper"].features["year"].type == pa.int64()
    assert read.nodes["term"].features is None
    # Every endpoint is a node of the payload: the relations carry positions.
    assert all(m.endpoints is not None for m in read.edges.values())
    back = read.to_document()
    assert back["targets"] == doc["targets"]
    key = lambda m: (str(m.get("node_type", m.get("edge_type"))), str(m.get("node_id", m.get("src_node_id"))))  # noqa: E731
    assert sorted(back["graph"]["nodes"], key=key) == sorted(doc["graph"]["nodes"], key=key)
    assert sorted(back["graph"]["edges"], key=key) == sorted(doc["graph"]["edges"], key=key)
    assert type(back["graph"]["nodes"][0]["features"]["year"]) is int


@pytest.mark.parametrize("nodes, reason", [
    ([{"node_type": "paper", "node_id": "p1", "features": {"x": 1}},
      {"node_type": "paper", "node_id": "p2", "features": {"x": 1.5}}], "read back"),
    ([{"node_type": "paper", "node_id": "p1", "features": {"x": 1}},
      {"node_type": "paper", "node_id": "p2", "features": {"y": 1}}], "differ in keys"),
    ([{"node_type": "paper", "node_id": "p1", "features": {"x": 1}},
      {"node_type": "paper", "node_id": "p2"}], "some members have 'features'"),
    ([{"node_type": "paper", "node_id": "p1", "features": {"x": "a"}},
      {"node_type": "paper", "node_id": "p2", "features": {"x": 2}}], "no Arrow type"),
])
def test_payloads_without_an_exact_columnar_form_are_refused(nodes, reason) -> None:
    with pytest.raises(ArrowConversionError, match=reason):
        payload_to_arrow(_payload(nodes=nodes))


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("change, reason", [
    (lambda doc: doc["graph"]["nodes"][0].update(node_type=7), "node_type 7 is not a string"),
    (lambda doc: doc["graph"]["edges"][0].update(edge_type=["author", "paper"]), "is not a list of three strings"),
    (lambda doc: doc["graph"]["nodes"][0].update(node_id="\ud800"), "column 'node_id' has no Arrow type"),
    (lambda doc: doc["graph"]["nodes"][1]["features"].update(name=["x\udfff"]), "column 'features.name' has no Arrow"),
    (lambda doc: doc["targets"][0].update(deep=_nested(5000)), "nested too deeply"),
    (lambda doc: doc["graph"]["nodes"][1]["features"].update(deep=_nested(40)), "more than 32 levels deep"),
    (lambda doc: doc["graph"]["nodes"][1].update(features={"\ud800": 1}), "has no Arrow form"),
])
def test_what_the_format_cannot_carry_exactly_is_refused(change, reason) -> None:
    doc = _payload()
    change(doc)
    with pytest.raises(ArrowConversionError, match=reason):
        payload_to_arrow(doc)


@pytest.mark.parametrize("body", [b"", b"not arrow", b"\xff\xff\xff\xff\x10\x00\x00\x00garbage"])
def test_decode_answers_400_without_an_id_for_a_body_that_is_not_an_arrow_request(body) -> None:
    with pytest.raises(UnreadableBodyError) as err:
        decode(body, ARROW_STREAM_CONTENT_TYPE, RequestLimits())
    assert error_uid(body, err.value) == ""


def test_decode_refuses_an_arrow_stream_of_another_format() -> None:
    table = pa.table({"a": [1]})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    with pytest.raises(UnreadableBodyError, match=ARROW_FORMAT):
        decode(sink.getvalue().to_pybytes(), ARROW_STREAM_CONTENT_TYPE, RequestLimits())


def test_decode_reads_an_arrow_request_as_its_document() -> None:
    doc = _payload()
    body = payload_to_arrow(doc)
    decoded = decode(body, f"{ARROW_STREAM_CONTENT_TYPE}; charset=binary", RequestLimits())
    assert decoded.document is None and decoded.columns is not None
    assert decoded.columns.to_document()["targets"] == doc["targets"]


def _body(tables: list) -> bytes:
    sink = pa.BufferOutputStream()
    for table, batch_rows in tables:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=batch_rows):
                writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _tables(body: bytes) -> list:
    source = pa.BufferReader(body)
    tables = []
    while source.tell() < len(body):
        tables.append(pa.ipc.open_stream(source).read_all())
    return tables


def test_v1_tables_written_in_several_record_batches_read_as_one_column_each() -> None:
    doc = _payload()
    body = _body([(table, 1) for table in _tables(payload_to_arrow(doc, version=1))])
    columns = read_arrow(body).columns()
    assert all(isinstance(c, pa.Array) for c in columns.nodes["paper"].ids.values())
    assert all(isinstance(c, pa.Array) for c in columns.nodes["paper"].features.values())
    assert read_arrow(body).to_document() == read_arrow(payload_to_arrow(doc)).to_document()


@pytest.mark.parametrize("column", ["node_id", "features.year"])
def test_a_v1_node_table_with_a_column_named_twice_is_a_400(column) -> None:
    tables = _tables(payload_to_arrow(_payload(), version=1))
    paper = tables[1]
    tables[1] = paper.append_column(column, paper.column(column)).replace_schema_metadata(paper.schema.metadata)
    with pytest.raises(UnreadableBodyError, match=rf"node type paper: the table has column\(s\) named twice: {column}"):
        decode(_body([(t, None) for t in tables]), ARROW_STREAM_CONTENT_TYPE, RequestLimits())


def test_v1_and_v2_bodies_read_as_the_same_document() -> None:
    doc = _payload()
    v1, v2 = payload_to_arrow(doc, version=1), payload_to_arrow(doc)
    assert len(_tables(v1)) == 6 and len(_tables(v2)) == 1
    assert read_arrow(v1).to_document() == read_arrow(v2).to_document()
    assert _tables(v2)[0].schema.metadata[b"gs_format"] == ARROW_FORMAT.encode()
    assert _tables(v1)[0].schema.metadata[b"gs_format"] == ARROW_FORMAT_V1.encode()


@pytest.mark.parametrize("edges", [
    [{"edge_type": ["author", "writing", "paper"], "src_node_id": 7, "dest_node_id": "p9"}],  # not a payload node
    [{"edge_type": ["author", "writing", "paper"], "src_node_id": 7.0, "dest_node_id": "p1"}],  # 7.0 == 7, not an id
    [{"edge_type": ["venue", "has", "paper"], "src_node_id": "v1", "dest_node_id": "p1"}],  # no venue nodes
])
def test_edges_that_are_not_exactly_payload_nodes_keep_their_ids(edges) -> None:
    doc = _payload(edges=edges)
    read = read_arrow(payload_to_arrow(doc))
    assert all(m.endpoints is None for m in read.edges.values())
    assert read.to_document()["graph"]["edges"] == edges


def test_a_type_with_a_node_listed_twice_keeps_its_edges_ids() -> None:
    nodes = [{"node_type": "paper", "node_id": "p1"}, {"node_type": "paper", "node_id": "p1"}]
    edges = [{"edge_type": ["paper", "cites", "paper"], "src_node_id": "p1", "dest_node_id": "p1"}]
    read = read_arrow(payload_to_arrow(_payload(nodes=nodes, edges=edges)))
    assert read.edges[("paper", "cites", "paper")].endpoints is None


def test_the_request_metadata_is_read_as_a_json_body_is() -> None:
    # Integers beyond 64 bits become floats (orjson's reading, which the JSON path keeps), NaN reads.
    doc = {**_payload(), "targets": [{"node_type": "paper", "node_id": 2**64}], "extra": [float("nan"), 10**400]}
    back = read_arrow(payload_to_arrow(doc)).to_document()
    assert back["targets"] == [{"node_type": "paper", "node_id": float(2**64)}]
    assert back["extra"][0] != back["extra"][0] and back["extra"][1] == float("inf")


def test_targets_of_any_json_form_are_carried_exactly() -> None:
    doc = {**_payload(), "targets": [{"node_type": "paper", "node_id": "p1"}, {"node_id": 3}, "odd"]}
    assert read_arrow(payload_to_arrow(doc)).to_document()["targets"] == doc["targets"]


def _rewrite(body: bytes, edit: Callable[[dict, dict, list], None]) -> bytes:
    """A v2 body with its request, layout or columns changed by ``edit(request, layout, columns)``
    (``columns``: the one-row list arrays, in order)."""
    batch = pa.ipc.open_stream(body).read_next_batch()
    meta = batch.schema.metadata
    request, layout = json.loads(meta[b"gs_request"]), json.loads(meta[b"gs_layout"])
    arrays = list(batch.columns)
    edit(request, layout, arrays)
    out = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
    out = out.replace_schema_metadata({"gs_format": ARROW_FORMAT, "gs_request": json.dumps(request),
                                       "gs_layout": json.dumps(layout)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, out.schema) as writer:
        writer.write_batch(out)
    return sink.getvalue().to_pybytes()


def _one_row(values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array([0, len(values)], pa.int32()), values)


def _set_positions(key: str, values: pa.Array) -> Callable[[dict, dict, list], None]:
    def edit(request: dict, layout: dict, arrays: list) -> None:
        arrays[layout["edges"][0][key]] = _one_row(values)
    return edit


def _layout(change: Callable[[dict], None]) -> Callable[[dict, dict, list], None]:
    return lambda request, layout, arrays: change(layout)


@pytest.mark.parametrize("edit, error", [
    (_set_positions("src_index", pa.array([1], pa.int64())), "src_index holds a position outside node type author's 1"),
    (_set_positions("dest_index", pa.array([-1], pa.int64())), "dest_index holds a position outside node type paper"),
    (_set_positions("src_index", pa.array([2**64 - 1], pa.uint64())), "src_index holds a position outside"),
    (_set_positions("src_index", pa.array([0.0])), "src_index is not an integer column without nulls"),
    (_set_positions("src_index", pa.array([None], pa.int64())), "src_index is not an integer column without nulls"),
    (_set_positions("src_index", pa.array([0, 0], pa.int64())), "src_index and dest_index differ in length"),
    (_layout(lambda lo: lo["nodes"][0]["features"].update(year=lo["nodes"][0]["node_id"] + 100)),
     "is not a column position"),
    (_layout(lambda lo: lo["nodes"][0].update(features={"year": lo["edges"][0]["src_index"]})),
     "feature 'year' has 1 values for 2 members"),
    (_layout(lambda lo: lo["edges"][0].update(src_node_id=0)), "the endpoints are src_index and dest_index"),
    (_layout(lambda lo: lo["edges"][0].pop("dest_index")), "the endpoints are src_index and dest_index"),
    (_layout(lambda lo: lo["nodes"].pop(1)), "src_index points into node type 'author', which has no nodes"),
    (_layout(lambda lo: lo["nodes"].append(dict(lo["nodes"][0]))), r"names node type 'paper' \(twice"),
    (_layout(lambda lo: lo["edges"][0].update(edge_type="writes")), "edge_type is not three strings"),
    (_layout(lambda lo: lo.pop("edges")), "gs_layout metadata is not a JSON object"),
    (lambda request, layout, arrays: request.pop("targets"), "with a 'targets' list"),
    (lambda request, layout, arrays: arrays.__setitem__(0, pa.array(["p1"])), "is not a list column"),
    (lambda request, layout, arrays: arrays.__setitem__(0, pa.array([None], pa.list_(pa.string()))), "is null"),
])
def test_a_malformed_v2_body_is_a_400_without_an_id(edit, error) -> None:
    body = _rewrite(payload_to_arrow(_payload()), edit)
    with pytest.raises(UnreadableBodyError, match=error) as err:
        decode(body, ARROW_STREAM_CONTENT_TYPE, RequestLimits())
    assert error_uid(body, err.value) == ""


def test_read_arrow_alone_refuses_a_position_outside_its_node_type_when_read_out() -> None:
    body = _rewrite(payload_to_arrow(_payload()), _set_positions("src_index", pa.array([5], pa.int64())))
    with pytest.raises(ArrowConversionError, match="outside its node type"):
        read_arrow(body).to_document()


@pytest.mark.parametrize("extra", ["batch", "stream"])
def test_a_v2_body_is_exactly_one_stream_of_one_batch(extra) -> None:
    body = payload_to_arrow(_payload())
    batch = pa.ipc.open_stream(body).read_next_batch()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
        if extra == "batch":
            writer.write_batch(batch)
    doubled = sink.getvalue().to_pybytes() + (body if extra == "stream" else b"")
    with pytest.raises(UnreadableBodyError, match="one record batch|nothing after it"):
        decode(doubled, ARROW_STREAM_CONTENT_TYPE, RequestLimits())


def test_an_empty_graph_converts_and_reads_back() -> None:
    doc = _payload(nodes=[], edges=[])
    assert read_arrow(payload_to_arrow(doc)).to_document() == doc


def test_an_edge_feature_error_names_the_edge_through_positions_as_through_json() -> None:
    # A NaN edge feature (411): the Arrow relation carries positions, and the error text names
    # the edge by its ids, looked up from them, exactly as the JSON path does.
    predictor = RealtimePredictor.from_artifacts(artifacts_dir("rgat_nc_efeat"))
    doc = orjson.loads((FIXTURES_DIR / "rgat_nc_efeat" / "payloads" / "v01_tiny.json").read_bytes())
    edge = [e for e in doc["graph"]["edges"] if "features" in e][-1]
    edge["features"]["contrib"] = [0.5, float("nan")]
    body = payload_to_arrow(doc)
    assert all(m.endpoints is not None for m in read_arrow(body).edges.values())
    as_json = predictor.predict(json.dumps(doc).encode())
    as_arrow = predictor.predict(body, ARROW_STREAM_CONTENT_TYPE)
    assert as_json["status_code"] == 411 and f"{edge['src_node_id']} -> {edge['dest_node_id']}" in as_json["error"]
    assert {**as_arrow, "request_uid": ""} == {**as_json, "request_uid": ""}


def test_a_relation_given_no_positions_is_answered_as_the_document_without_its_edges() -> None:
    # A hand-written body may hold a relation with no edges (payload_to_arrow never writes one):
    # it is read, and answered as the JSON document it stands for.
    predictor = RealtimePredictor.from_artifacts(artifacts_dir("rgcn_nc"))
    doc = orjson.loads((FIXTURES_DIR / "rgcn_nc" / "payloads" / "v01_tiny.json").read_bytes())
    body = payload_to_arrow(doc)

    def empty_first_relation(request: dict, layout: dict, arrays: list) -> None:
        relation = layout["edges"][0]
        for position in [relation["src_index"], relation["dest_index"], *(relation["features"] or {}).values()]:
            arrays[position] = _one_row(arrays[position][0].values.slice(0, 0))

    body = _rewrite(body, empty_first_relation)
    read = read_arrow(body)
    dropped = next(iter(read.edges))
    assert read.edges[dropped].num_rows == 0
    without = {**doc, "graph": {**doc["graph"], "edges": [
        e for e in doc["graph"]["edges"] if tuple(e["edge_type"]) != dropped]}}
    as_arrow = predictor.predict(body, ARROW_STREAM_CONTENT_TYPE)
    as_json = predictor.predict(orjson.dumps(without))
    assert as_arrow["status_code"] == 200
    assert {**as_arrow, "request_uid": ""} == {**as_json, "request_uid": ""}
