"""The Arrow response: content negotiation over real Accept headers, and envelopes of every
result shape converted back to exactly the dict their JSON body decodes to."""

from __future__ import annotations

import dataclasses
import json

import orjson
import pyarrow as pa
import pyarrow.ipc  # noqa: F401  (the submodule, for pa.ipc)
import pytest

from handler.contract.arrow_payload import ArrowConversionError
from handler.contract.arrow_response import (
    arrow_response_to_envelope,
    envelope_to_arrow,
    negotiate_response_type,
)
from handler.contract.envelope import Envelope
from handler.contract.errors import PayloadFormatError, ResponseTooLargeError
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE

ARROW, JSON = ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE

NEGOTIATION = [
    (None, JSON),
    ("", JSON),
    (b"application/vnd.apache.arrow.stream", JSON),  # not a header value: a caller's bug, never a failure
    ("*/*", JSON),
    ("application/json", JSON),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),  # a browser
    ("application/*", JSON),
    ("application/vnd.apache.arrow.file", JSON),
    ("application/vnd.apache.arrow.stream", ARROW),
    ("Application/Vnd.Apache.Arrow.Stream", ARROW),
    ("  application/vnd.apache.arrow.stream  ", ARROW),
    ("application/vnd.apache.arrow.stream;q=0", JSON),
    ("application/vnd.apache.arrow.stream; q=0.000", JSON),
    ("application/vnd.apache.arrow.stream, */*", ARROW),  # Arrow named, JSON only as a fallback
    ("application/vnd.apache.arrow.stream, application/*;q=1", ARROW),
    ("*/*;q=0.1, application/vnd.apache.arrow.stream", ARROW),
    ("application/vnd.apache.arrow.stream, application/json", JSON),  # a tie: the default
    ("application/json, application/vnd.apache.arrow.stream", JSON),
    ("application/json;q=0.9, application/vnd.apache.arrow.stream", ARROW),
    ("application/vnd.apache.arrow.stream;q=0.5, application/json;q=0.9", JSON),
    ("application/vnd.apache.arrow.stream;q=0.5, */*;q=0.9", JSON),
    ("application/json;q=0, application/vnd.apache.arrow.stream;q=0.1", ARROW),
    # The most specific range matching JSON decides JSON's quality, not the wildcard.
    ("application/json;q=0.2, */*;q=1, application/vnd.apache.arrow.stream;q=0.5", ARROW),
    ("application/vnd.apache.arrow.stream;charset=binary;q=1.0", ARROW),
    ("application/vnd.apache.arrow.stream;Q=0.7, application/json;q=0.6", ARROW),
    # Malformed ranges are ignored (never a 406, never Arrow by accident).
    ("application/vnd.apache.arrow.stream;q=2", JSON),
    ("application/vnd.apache.arrow.stream;q=abc", JSON),
    ("application/vnd.apache.arrow.stream;q=0.1234, */*;q=0.1", JSON),
    ("application/vnd.apache.arrow.stream;q=1.5, application/json;q=0.1", JSON),
    (",,;,application/vnd.apache.arrow.stream", ARROW),
    ("application/vnd.apache.arrow.streaming", JSON),
]


@pytest.mark.parametrize(("accept", "expected"), NEGOTIATION, ids=[repr(a) for a, _ in NEGOTIATION])
def test_negotiation(accept, expected):
    assert negotiate_response_type(accept) == expected


NODE_RESULTS = [
    {"node_type": "paper", "node_id": "p1", "prediction": [0.1, -2.5, 3.0000000000000004]},
    {"node_type": "paper", "node_id": "p2", "prediction": [1e-300, 0.0, -0.0]},
]
EDGE_RESULTS = [
    {"edge_type": ["author", "writing", "paper"], "src_node_id": "a1", "dest_node_id": "p1", "prediction": [0.7]},
    {"edge_type": ["author", "writing", "paper"], "src_node_id": "a2", "dest_node_id": "p1", "prediction": [-1.25]},
]
ENVELOPES = {
    "node_classification": Envelope.success("0123456789abcdef", NODE_RESULTS),
    "node_regression": Envelope.success("u", [{"node_type": "paper", "node_id": 7, "prediction": [2.0]}]),
    "float_ids": Envelope.success("u", [{"node_type": "paper", "node_id": 7.5, "prediction": [2.0]}]),
    "edge_tasks": Envelope.success("u", EDGE_RESULTS),
    "mixed_ids": Envelope.success("u", [{"node_type": "p", "node_id": "7", "prediction": [1.0]},
                                        {"node_type": "p", "node_id": 7, "prediction": [1.0]}]),
    "big_int_id": Envelope.success("u", [{"node_type": "p", "node_id": 2**70, "prediction": [1.0]}]),
    "surrogate_id": Envelope.success("u", [{"node_type": "p", "node_id": "\ud800x", "prediction": [1.0]}]),
    "ragged_predictions": Envelope.success("u", [{"node_type": "a", "node_id": 1, "prediction": [1.0, 2.0]},
                                                 {"node_type": "b", "node_id": 2, "prediction": [3.0]}]),
    "error": Envelope.from_error("0123456789abcdef", PayloadFormatError("bad 'ü' \"x\"")),
    "error_no_uid": Envelope.from_error("", ResponseTooLargeError("too large")),
    "error_with_surrogate": Envelope.from_error("u", PayloadFormatError("node id \ud800")),
}


@pytest.mark.parametrize("name", list(ENVELOPES))
def test_arrow_response_converts_back_to_the_json_envelope(name):
    env = ENVELOPES[name]
    # json, not orjson: the body of a lone surrogate escapes it ("\\ud800"), which orjson refuses.
    assert arrow_response_to_envelope(envelope_to_arrow(env)) == json.loads(env.to_bytes())


def test_media_type_selects_the_body():
    env = ENVELOPES["node_classification"]
    assert dataclasses.replace(env, media_type=ARROW).to_bytes() == envelope_to_arrow(env)
    assert env.to_bytes() == orjson.dumps(env.as_dict())


def _read(body: bytes) -> pa.Table:
    reader = pa.ipc.open_stream(pa.py_buffer(body))
    batches = list(reader)
    assert len(batches) == 1  # one stream, one record batch
    return pa.Table.from_batches(batches, reader.schema)


def test_layout_of_a_node_response():
    table = _read(envelope_to_arrow(ENVELOPES["node_classification"]))
    meta = table.schema.metadata
    assert meta[b"status_code"] == b"200" and meta[b"request_uid"] == b"0123456789abcdef"
    assert meta[b"message"] == b"Request processed successfully." and meta[b"error"] == b""
    assert table.column_names == ["node_type", "node_id", "prediction"]
    assert table.schema.field("node_id").type == pa.string()
    assert table.schema.field("prediction").type == pa.list_(pa.float64(), 3)
    assert table.column("prediction").to_pylist() == [r["prediction"] for r in NODE_RESULTS]


def test_layout_of_an_edge_response():
    table = _read(envelope_to_arrow(ENVELOPES["edge_tasks"]))
    assert table.column_names == ["edge_type", "src_node_id", "dest_node_id", "prediction"]
    assert table.schema.field("edge_type").type == pa.list_(pa.string(), 3)
    assert table.schema.field("prediction").type == pa.list_(pa.float64(), 1)


def test_layout_of_an_error_and_of_json_encoded_ids():
    table = _read(envelope_to_arrow(ENVELOPES["error"]))
    assert (table.num_rows, table.num_columns) == (0, 0)
    assert table.schema.metadata[b"status_code"] == b"400"
    assert table.schema.metadata[b"error"].decode() == ENVELOPES["error"].error
    mixed = _read(envelope_to_arrow(ENVELOPES["mixed_ids"]))
    assert mixed.schema.field("node_id").metadata == {b"gs_encoding": b"json"}
    assert mixed.column("node_id").to_pylist() == ['"7"', "7"]
    assert _read(envelope_to_arrow(ENVELOPES["node_regression"])).schema.field("node_id").type == pa.int64()


@pytest.mark.parametrize("body", [b"", b"{}", b"\xff" * 16])
def test_not_an_arrow_response(body):
    with pytest.raises(ArrowConversionError):
        arrow_response_to_envelope(body)


def test_an_arrow_request_is_not_a_response():
    table = pa.table({"x": [1]}, metadata={"gs_format": "gs-realtime-arrow-v1"})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    with pytest.raises(ArrowConversionError, match="not a gs-realtime-arrow-v1 response"):
        arrow_response_to_envelope(sink.getvalue().to_pybytes())
