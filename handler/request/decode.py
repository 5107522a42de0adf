"""Stage 1, ``decode``: request bytes to a JSON document (or columns), and the request id.

GraphStorm 0.5.1's order (``node_prediction_entry.transform_fn``): content type (400), JSON
(400); both answer with ``request_uid`` "" (the body was never read as a request). Before
either, a body over ``max_request_bytes`` is a 413 carrying the id of its exact bytes.

A well-formed JSON request with a graph, and an Arrow request in the form pyarrow's writer gives
it, are read straight from the bytes into columns by the C extension
(``handler.native.json_columns``, ``handler.native.arrow_columns``: per type, ids and one array
per feature; no Python object per value, no pyarrow) and take the columns' route through
``parse``. That route only ever answers successes: where it fails (``parse`` finds the columns
are not a clean graph: ``ColumnsDeclined``; or any later stage raises), the predictor reads the
same body again the reference way (``decode(..., columns_first=False)``: a JSON document, or
pyarrow's reading of the Arrow body), whose stages decide the error and its text. The predictor
asks for columns first (``RawRequest.columns_first``); other callers of ``decode`` get the
reference reading unless they ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handler.contract.arrow_payload import ArrowConversionError, read_arrow
from handler.contract.envelope import request_uid
from handler.contract.errors import RealtimeError, RequestTooLargeError, UnreadableBodyError
from handler.contract.graph_columns import GraphColumns
from handler.contract.json_text import read_json
from handler.contract.limits import RequestLimits
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, COMPLETE_FIELD, JSON_CONTENT_TYPE
from handler.native import arrow_columns, json_columns
from handler.request.columnar import index_endpoints
from handler.request.request_uid import RequestUid


@dataclass(frozen=True)
class DecodedRequest:
    """A body read as JSON, or as our Arrow request format (or a targets-only request completed
    from the graph store by ``expand``).

    Attributes:
        uid: ``request_uid``: the last 16 hex digits of the body's sha256 (being hashed on a
            helper thread for a large body: ``RequestUid``).
        document: the decoded JSON value (any JSON type; ``parse`` checks it); None when the
            request comes as ``columns``.
        columns: an Arrow body's typed columns, a graph-store extraction's (``parse`` groups
            them, or reads them as the JSON document they stand for), or the extension's of a
            JSON or Arrow body (``native_columns``); None for a JSON document.
        native_columns: the extension read the columns from the body: if they are not a clean
            graph, or a later stage fails, the body is read again the reference way (the module
            docstring).
    """

    uid: RequestUid
    document: Any
    columns: GraphColumns | None = None
    native_columns: bool = False


class ColumnsDeclined(Exception):
    """A body the extension read as columns is not a clean graph (``parse``): read it again the
    reference way (a JSON document, or pyarrow's reading of an Arrow body)."""


def error_uid(body: bytes, err: RealtimeError) -> str:
    """The ``request_uid`` of a request that failed to decode: "" unless it was JSON-readable.

    Args:
        body: the exact request bytes.
        err: what ``decode`` raised.

    Returns:
        The id to answer with.
    """
    return "" if isinstance(err, UnreadableBodyError) else request_uid(body)


def decode(body: bytes, content_type: str | None, limits: RequestLimits,
           columns_first: bool = False) -> DecodedRequest:
    """Reads a request body.

    Args:
        body: the exact request bytes.
        content_type: the request's content type; ``application/json`` (parameters such as
            ``; charset=utf-8`` allowed), or our Arrow request format
            ``application/vnd.apache.arrow.stream`` (``handler.contract.arrow_payload``).
        limits: the endpoint's request limits (``max_request_bytes``).
        columns_first: a JSON body that is a well-formed request with a graph, or an Arrow body
            in pyarrow's writer's form, comes as the extension's columns (``native_columns``; the
            caller reads it again with ``columns_first=False`` when a later stage fails); False
            (default): a JSON document, or pyarrow's reading of an Arrow body, always.

    Returns:
        The decoded request.

    Raises:
        RequestTooLargeError: 413, the body is over ``max_request_bytes``.
        UnreadableBodyError: 400, wrong content type, not JSON text (not an Arrow request), or
            nested too deeply.
    """
    if len(body) > limits.max_request_bytes:
        raise RequestTooLargeError(
            f"the body has {len(body)} bytes; this endpoint accepts at most "
            f"{limits.max_request_bytes} (limit max_request_bytes)"
        )
    media_type = _media_type(content_type)
    if media_type == ARROW_STREAM_CONTENT_TYPE:
        columns = arrow_columns(body) if columns_first else None
        if columns is not None:
            return DecodedRequest(uid=RequestUid.of_body(body), document=None, columns=columns, native_columns=True)
        return DecodedRequest(uid=RequestUid.of_body(body), document=None, columns=_decode_arrow(body))
    if media_type != JSON_CONTENT_TYPE:
        shown = content_type if content_type is None else content_type[:100]
        raise UnreadableBodyError(
            f'Unsupported content type: {shown}. Supported content type: "application/json"'
        )
    if columns_first:
        columns = json_columns(body)
        if columns is not None and COMPLETE_FIELD not in columns.envelope:
            return DecodedRequest(uid=RequestUid.of_body(body), document=None, columns=columns, native_columns=True)
    return DecodedRequest(uid=RequestUid.of_body(body), document=read_json(body))


def _media_type(content_type: str | None) -> str | None:
    """The content type without parameters, lower case (None when there is none)."""
    if not isinstance(content_type, str):
        return None
    return content_type.split(";", 1)[0].strip().lower()


def _decode_arrow(body: bytes) -> GraphColumns:
    """An Arrow request body's columns (400 when it is not an Arrow request, or an endpoint
    position is outside its node type's nodes)."""
    try:
        columns = read_arrow(body).columns()
    except ArrowConversionError as exc:
        raise UnreadableBodyError(str(exc)[:300]) from None
    index_endpoints(columns)
    return columns
