"""GraphStorm's response envelope: ``status_code``, ``request_uid``, ``message``, ``error``, ``data``.

Field order and texts follow ``GSRealTimeInferenceResponseMessage.to_dict``. Bodies are
serialized with orjson, which has no NaN/Infinity tokens: a non-finite number can never reach
a client as invalid JSON (the predictor turns non-finite predictions into a 500 first; orjson
would otherwise write ``null``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import orjson

from handler.errors import RealtimeError

SUCCESS_MESSAGE = "Request processed successfully."


def request_uid(body: bytes) -> str:
    """The request id GraphStorm derives from the body: the last 16 hex digits of its sha256."""
    return hashlib.sha256(body).hexdigest()[-16:]


def success(uid: str, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A 200 envelope.

    Args:
        uid: the request id.
        results: one ``{"node_type", "node_id", "prediction"}`` dict per listed target.

    Returns:
        The envelope as a dict.
    """
    return {
        "status_code": 200,
        "request_uid": uid,
        "message": SUCCESS_MESSAGE,
        "error": "",
        "data": {"results": list(results)},
    }


def from_error(uid: str, err: RealtimeError) -> dict[str, Any]:
    """An error envelope carrying ``err``'s status code and text, with empty ``data``."""
    return {
        "status_code": err.status_code,
        "request_uid": uid,
        "message": "",
        "error": err.error_text,
        "data": {},
    }


def dumps(envelope: dict[str, Any]) -> bytes:
    """Serializes an envelope (or any JSON-able dict) to UTF-8 JSON bytes, never NaN/Infinity."""
    try:
        return orjson.dumps(envelope, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        # A string holding a lone surrogate (sent as a "\ud800" escape, which JSON allows) is
        # not UTF-8: echo it escaped, as GraphStorm's json.dumps does.
        return json.dumps(envelope, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()
