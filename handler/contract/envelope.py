"""GraphStorm's response envelope as a typed value: the last stage of the request path.

Field order and texts follow ``GSRealTimeInferenceResponseMessage.to_dict``: ``status_code``,
``request_uid``, ``message``, ``error``, ``data``. Bodies are serialized once, with orjson,
which has no NaN/Infinity tokens: a non-finite number can never reach a client as invalid JSON
(the forward stage answers a non-finite prediction with a 422 before it gets here). An envelope
whose ``media_type`` is the Arrow stream type (the client asked for it with ``Accept``) is
serialized as our Arrow response instead (``handler.contract.arrow_response``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from handler.contract.errors import RealtimeError
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE

SUCCESS_MESSAGE = "Request processed successfully."


def request_uid(body: bytes) -> str:
    """The request id GraphStorm derives from the body: the last 16 hex digits of its sha256."""
    return uid_of_sha256(hashlib.sha256(body).hexdigest())


def uid_of_sha256(hexdigest: str) -> str:
    """The request id of a body whose sha256, in hex, is ``hexdigest``."""
    return hexdigest[-16:]


@dataclass(frozen=True)
class Envelope:
    """One response envelope.

    Attributes:
        status_code: GraphStorm's status (200 on success).
        request_uid: the request id ("" for a body never read as a request).
        message: GraphStorm's success message, "" for errors.
        error: the error text, "" on success.
        results: one dict per listed target (``node_type``/``node_id`` or ``edge_type``/
            ``src_node_id``/``dest_node_id``, then ``prediction``); empty for errors.
        media_type: the format of its bytes: ``JSON_CONTENT_TYPE`` or, when the client's
            ``Accept`` asked for it, ``ARROW_STREAM_CONTENT_TYPE``.
    """

    status_code: int
    request_uid: str
    message: str = ""
    error: str = ""
    results: Sequence[dict[str, Any]] = field(default=(), repr=False)
    media_type: str = JSON_CONTENT_TYPE

    @classmethod
    def success(cls, uid: str, results: Sequence[dict[str, Any]]) -> Envelope:
        """A 200 envelope carrying ``results``."""
        return cls(200, uid, SUCCESS_MESSAGE, "", results)

    @classmethod
    def from_error(cls, uid: str, err: RealtimeError) -> Envelope:
        """An error envelope carrying ``err``'s status code and text, with empty ``data``."""
        return cls(err.status_code, uid, "", err.error_text)

    def as_dict(self) -> dict[str, Any]:
        """The envelope as GraphStorm's ``to_dict`` lays it out."""
        data: dict[str, Any] = {"results": list(self.results)} if self.status_code == 200 else {}
        return {
            "status_code": self.status_code,
            "request_uid": self.request_uid,
            "message": self.message,
            "error": self.error,
            "data": data,
        }

    def to_bytes(self) -> bytes:
        """The body in ``media_type``: UTF-8 JSON (never NaN/Infinity), or our Arrow response.

        Raises:
            ArrowConversionError: an Arrow body without pyarrow, or of results with different keys.
        """
        if self.media_type == ARROW_STREAM_CONTENT_TYPE:
            # Imported here: arrow_response builds on this module (and pyarrow loads only when used).
            from handler.contract.arrow_response import envelope_to_arrow

            return envelope_to_arrow(self)
        return dumps(self.as_dict())


def dumps(document: dict[str, Any]) -> bytes:
    """Serializes an envelope dict (or any JSON-able dict) to UTF-8 JSON, never NaN/Infinity."""
    try:
        return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        # A string holding a lone surrogate (sent as a "\ud800" escape, which JSON allows) is
        # not UTF-8: echo it escaped, as GraphStorm's json.dumps does.
        return json.dumps(document, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()
