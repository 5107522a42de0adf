"""The Arrow request format: exact round trips, refusals, and what the decode stage answers."""

from __future__ import annotations

import pyarrow as pa
import pytest

from handler.contract.arrow_payload import ARROW_FORMAT, ArrowConversionError, payload_to_arrow, read_arrow
from handler.contract.errors import UnreadableBodyError
from handler.contract.limits import RequestLimits
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE
from handler.request.decode import decode, error_uid


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
    assert read.nodes["paper"].schema.field("features.feat").type == pa.list_(pa.float64(), 2)
    assert read.nodes["paper"].column("features.year").type == pa.int64()
    assert not read.nodes_have_features["term"]
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


def test_tables_written_in_several_record_batches_read_as_one_column_each() -> None:
    doc = _payload()
    body = _body([(table, 1) for table in _tables(payload_to_arrow(doc))])
    columns = read_arrow(body).columns()
    assert all(isinstance(c, pa.Array) for c in columns.nodes["paper"].ids.values())
    assert all(isinstance(c, pa.Array) for c in columns.nodes["paper"].features.values())
    assert read_arrow(body).to_document() == read_arrow(payload_to_arrow(doc)).to_document()


@pytest.mark.parametrize("column", ["node_id", "features.year"])
def test_a_node_table_with_a_column_named_twice_is_a_400(column) -> None:
    tables = _tables(payload_to_arrow(_payload()))
    paper = tables[1]
    tables[1] = paper.append_column(column, paper.column(column)).replace_schema_metadata(paper.schema.metadata)
    with pytest.raises(UnreadableBodyError, match=rf"node type paper: the table has column\(s\) named twice: {column}"):
        decode(_body([(t, None) for t in tables]), ARROW_STREAM_CONTENT_TYPE, RequestLimits())
