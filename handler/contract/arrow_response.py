"""The Arrow response (ours, not GraphStorm's): the JSON envelope as one Arrow IPC stream, sent
only to a client whose ``Accept`` header prefers ``application/vnd.apache.arrow.stream``.

``negotiate_response_type`` decides the format from the ``Accept`` header; everything else gets
GraphStorm's JSON envelope, byte for byte as before (never a 406).

The stream has one schema and one record batch:

* **schema metadata**: ``gs_format`` = ``RESPONSE_FORMAT``, ``gs_part`` = ``response``, and the
  envelope fields ``status_code`` (decimal text), ``request_uid``, ``message``, ``error``.
* **rows**: one per entry of ``data.results``, columns named and ordered as the entries' keys:
  ``node_type``, ``node_id`` (node tasks) or ``edge_type`` (``fixed_size_list<string>[3]``),
  ``src_node_id``, ``dest_node_id`` (edge tasks), then ``prediction`` (``fixed_size_list<double>[k]``
  when every row has ``k`` values, ``list<double>`` otherwise).
* **an error** (any status but 200): zero rows and no columns; ``data`` is ``{}``.

Exactness: ``arrow_response_to_envelope`` gives back the very dict the JSON body decodes to. A
column whose values have no exact Arrow type (node ids mixing strings and numbers, a string
that is not valid Unicode, an integer beyond int64) is a ``string`` column of each value's JSON
text, its field metadata ``gs_encoding`` = ``json``. A metadata text holding a lone surrogate
(a ``"\\ud800"`` escape the request sent and the error echoes) is written as its
``surrogatepass`` bytes.

Torch- and numpy-free; ``pyarrow`` is imported when a function that needs it is called.
"""

from __future__ import annotations

import json
import re
from typing import Any

from handler.contract.arrow_payload import ARROW_FORMAT_V1, ArrowConversionError, import_pyarrow
from handler.contract.envelope import Envelope
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE

# The response layout has not changed since the first Arrow release: it keeps that name.
RESPONSE_FORMAT = ARROW_FORMAT_V1
RESPONSE_PART = "response"
# Field metadata of a column holding each value's JSON text (values with no exact Arrow type).
ENCODING_KEY = "gs_encoding"
JSON_ENCODING = "json"
_ENVELOPE_TEXT_FIELDS = ("request_uid", "message", "error")
_INT64_RANGE = range(-(2**63), 2**63)
# RFC 9110 qvalue: 0 or 1 with at most three decimals.
_QVALUE = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)")
# How specific a media range naming JSON is (RFC 9110 12.5.1: the most specific one counts).
_JSON_RANGES = {JSON_CONTENT_TYPE: 2, "application/*": 1, "*/*": 0}


def negotiate_response_type(accept: str | None) -> str:
    """The response's media type for a request's ``Accept`` header.

    Arrow only when the header names ``application/vnd.apache.arrow.stream`` explicitly with a
    quality above 0 and prefers it over JSON: a higher quality than the most specific range
    matching ``application/json``, or the same quality when JSON is matched only by a wildcard
    (``*/*``, ``application/*``). Anything else (absent, ``*/*``, JSON named as highly, other
    types only, malformed ranges) is JSON: GraphStorm's clients send what they send.

    Args:
        accept: the header's value (None: absent; anything but a string counts as absent).

    Returns:
        ``ARROW_STREAM_CONTENT_TYPE`` or ``JSON_CONTENT_TYPE``.
    """
    if not isinstance(accept, str) or not accept:
        return JSON_CONTENT_TYPE
    arrow_q = 0.0
    json_q, json_specificity = None, -1
    for media_range in accept.split(","):
        media, *params = media_range.split(";")
        media = media.strip().lower()
        q = _quality(params)
        if not media or q is None:
            continue
        if media == ARROW_STREAM_CONTENT_TYPE:
            arrow_q = max(arrow_q, q)
        specificity = _JSON_RANGES.get(media, -1)
        if specificity > json_specificity:
            json_q, json_specificity = q, specificity
        elif specificity == json_specificity >= 0 and json_q is not None:
            json_q = max(json_q, q)
    if arrow_q > 0 and (json_q is None or arrow_q > json_q or (arrow_q == json_q and json_specificity < 2)):
        return ARROW_STREAM_CONTENT_TYPE
    return JSON_CONTENT_TYPE


def _quality(params: list[str]) -> float | None:
    """A media range's ``q`` (1 when absent; None when malformed: the range is ignored)."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            value = value.strip()
            return float(value) if _QVALUE.fullmatch(value) else None
    return 1.0


def envelope_to_arrow(env: Envelope) -> bytes:
    """An envelope as an Arrow response body (see the module docstring).

    Args:
        env: the envelope (its ``results`` are written only for a 200, as ``as_dict`` does).

    Returns:
        One Arrow IPC stream (schema and one record batch).
    """
    pa = import_pyarrow("the Arrow response")
    metadata = {"gs_format": RESPONSE_FORMAT, "gs_part": RESPONSE_PART, "status_code": str(env.status_code)}
    meta_bytes = {k.encode(): v.encode() for k, v in metadata.items()}
    for name in _ENVELOPE_TEXT_FIELDS:
        meta_bytes[name.encode()] = getattr(env, name).encode("utf-8", "surrogatepass")
    results = list(env.results) if env.status_code == 200 else []
    keys = list(results[0]) if results else []
    if any(list(r) != keys for r in results):
        raise ArrowConversionError("the results' entries differ in keys")
    fields, arrays = [], []
    for key in keys:
        values = [r[key] for r in results]
        array = _prediction_column(pa, values) if key == "prediction" else _exact_column(pa, values)
        if array is None:  # no exact Arrow type: each value's JSON text
            array = pa.array([json.dumps(v, ensure_ascii=True, allow_nan=False) for v in values], pa.string())
            fields.append(pa.field(key, array.type, metadata={ENCODING_KEY: JSON_ENCODING}))
        else:
            fields.append(pa.field(key, array.type))
        arrays.append(array)
    schema = pa.schema(fields, metadata=meta_bytes)
    batch = pa.record_batch(arrays, schema=schema) if arrays else pa.record_batch([], schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _prediction_column(pa: Any, values: list[Any]) -> Any:
    """Predictions as a list-of-double column (fixed size when every row has as many values);
    None unless every value is a float (an int would read back as a float)."""
    if not all(isinstance(p, list) and all(type(v) is float for v in p) for p in values):
        return None
    widths = {len(p) for p in values}
    value_type = pa.list_(pa.float64(), widths.pop()) if len(widths) == 1 else pa.list_(pa.float64())
    return pa.array(values, value_type)


def _exact_column(pa: Any, values: list[Any]) -> Any:
    """A column of ids or type names of one exact Arrow type; None when there is none."""
    if all(type(v) is str for v in values):
        try:
            return pa.array(values, pa.string())
        except (UnicodeEncodeError, pa.ArrowException):  # a lone surrogate: not UTF-8
            return None
    if all(type(v) is int and v in _INT64_RANGE for v in values):
        return pa.array(values, pa.int64())
    if all(type(v) is float for v in values):
        return pa.array(values, pa.float64())
    if all(isinstance(v, list) and len(v) == 3 and all(type(p) is str for p in v) for v in values):
        try:
            return pa.array(values, pa.list_(pa.string(), 3))
        except (UnicodeEncodeError, pa.ArrowException):
            return None
    return None


def arrow_response_to_envelope(body: bytes) -> dict[str, Any]:
    """An Arrow response body as the envelope dict its JSON form decodes to.

    Args:
        body: the response bytes.

    Returns:
        ``status_code``, ``request_uid``, ``message``, ``error``, ``data`` (``{"results": [...]}``
        for a 200, ``{}`` otherwise), equal to ``json.loads`` of the JSON body.

    Raises:
        ArrowConversionError: the bytes are not an Arrow response of this format.
    """
    pa = import_pyarrow("the Arrow response")
    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
        table.validate(full=True)  # before any value is read: pyarrow trusts a stream's offsets
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise ArrowConversionError(f"the body is not a valid Arrow IPC stream ({str(exc)[:200]})") from None
    meta = table.schema.metadata or {}
    if meta.get(b"gs_format") != RESPONSE_FORMAT.encode() or meta.get(b"gs_part") != RESPONSE_PART.encode():
        raise ArrowConversionError(f"the body is not a {RESPONSE_FORMAT} response stream")
    try:
        status_code = int(meta[b"status_code"])
        texts = {name: meta[name.encode()].decode("utf-8", "surrogatepass") for name in _ENVELOPE_TEXT_FIELDS}
    except (KeyError, ValueError) as exc:
        raise ArrowConversionError(f"the response stream's envelope metadata is incomplete ({exc})") from None
    columns = []
    for field in table.schema:
        values = table.column(field.name).to_pylist()
        if (field.metadata or {}).get(ENCODING_KEY.encode()) == JSON_ENCODING.encode():
            values = [json.loads(v) for v in values]
        columns.append((field.name, values))
    results = [{name: values[row] for name, values in columns} for row in range(table.num_rows)]
    return Envelope(status_code, texts["request_uid"], texts["message"], texts["error"], results).as_dict()
