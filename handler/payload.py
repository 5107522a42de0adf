"""The ``gs-realtime-v0.1`` wire format: body bytes to a ``RealtimeRequest``.

Checks, in GraphStorm 0.5.1's order (``node_prediction_entry.transform_fn``): content type
(400), JSON (400; ``request_uid`` is "" for both, as GraphStorm), ``gml_task`` (421),
``targets`` present and non-empty (401), every target an object with ``node_type`` and
``node_id`` (400). The ``graph`` field is checked later, against the model's graph schema
(``graph_builder``), because GraphStorm checks it after the targets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

from handler.envelope import request_uid
from handler.errors import (
    MissingFieldDataError,
    MissingFieldError,
    PayloadFormatError,
    RealtimeError,
    TaskMismatchError,
)

JSON_CONTENT_TYPE = "application/json"
NODE_TASKS = ("node_classification", "node_regression")

NodeId = str | int | float


@dataclass(frozen=True)
class Target:
    """One entry of ``targets``: a node to predict."""

    node_type: str
    node_id: NodeId


@dataclass(frozen=True)
class RealtimeRequest:
    """A request that passed the model-independent checks.

    Attributes:
        uid: ``request_uid`` (sha256 of the body, last 16 hex digits).
        gml_task: the payload's task.
        targets: the targets in request order (duplicates kept).
        payload: the whole decoded JSON object (``graph`` is read by the graph builder).
    """

    uid: str
    gml_task: str
    targets: tuple[Target, ...]
    payload: dict[str, Any]


def parse_request(
    body: bytes | str, content_type: str = JSON_CONTENT_TYPE, model_task: str | None = None
) -> RealtimeRequest:
    """Decodes and checks a request body.

    Args:
        body: the exact request bytes (``str`` is encoded as UTF-8).
        content_type: the request's content type; ``application/json`` (parameters such as
            ``; charset=utf-8`` allowed).
        model_task: the deployed model's task; when given, a node task other than it is a
            421 (GraphStorm accepts either node task for any node model).

    Returns:
        The request.

    Raises:
        RealtimeError: with ``request_uid`` set ("" when the body was not read as JSON).
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not _is_json_content_type(content_type):
        raise _with_uid(
            PayloadFormatError(
                f'Unsupported content type: {content_type}. Supported content type: "application/json"'
            ),
            "",
        )
    payload = _decode_json(body)
    uid = request_uid(body)
    try:
        if not isinstance(payload, dict):
            raise PayloadFormatError(
                f"the payload must be a JSON object, but got a JSON {type(payload).__name__}"
            )
        gml_task = _check_task(payload.get("gml_task"), model_task)
        targets = _parse_targets(payload.get("targets"))
    except RealtimeError as err:
        raise _with_uid(err, uid) from None
    return RealtimeRequest(uid=uid, gml_task=gml_task, targets=targets, payload=payload)


def _with_uid(err: RealtimeError, uid: str) -> RealtimeError:
    err.request_uid = uid
    return err


def _is_json_content_type(content_type: str | None) -> bool:
    if not isinstance(content_type, str):
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == JSON_CONTENT_TYPE


def _decode_json(body: bytes) -> Any:
    """Parses JSON as Python's ``json`` module does (GraphStorm's parser), orjson first for speed.

    orjson refuses what ``json.loads`` accepts: the tokens NaN/Infinity and numbers beyond the
    double range (``1e999`` -> inf). Those bodies are re-read with ``json`` so that such a
    value reaches the feature check and gets the 411 naming its node and feature. Invalid
    UTF-8 and nesting deeper than the parsers allow are 400s.
    """
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        # Strict decoding: json.loads(bytes) would let UTF-8-encoded surrogates through.
        text = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError as exc:
        raise _with_uid(PayloadFormatError(f"the body is not valid Unicode text ({exc})"), "") from None
    try:
        return json.loads(text, parse_int=_parse_int)
    except (ValueError, RecursionError) as exc:
        raise _with_uid(PayloadFormatError(str(exc)), "") from None


def _parse_int(text: str) -> int | float:
    """A JSON integer as orjson reads it: beyond the 64-bit range, a float (so both parsers
    give the same value, and every integer in an envelope is serializable)."""
    value = int(text)
    return value if -(2**63) <= value < 2**64 else float(value)


def _check_task(gml_task: Any, model_task: str | None) -> str:
    if gml_task is None or not isinstance(gml_task, str) or gml_task not in NODE_TASKS:
        raise TaskMismatchError(
            f"This endpoint is for node prediction task, but got {gml_task} task from the payload. "
            'Supported task types include ["node_classification", "node_regression"]'
        )
    if model_task is not None and gml_task != model_task:
        raise TaskMismatchError(
            f"The payload's gml_task is {gml_task}, but the endpoint's model is a {model_task} "
            "model."
        )
    return gml_task


def _parse_targets(raw: Any) -> tuple[Target, ...]:
    if raw is None or (isinstance(raw, list | dict | str) and len(raw) == 0):
        raise MissingFieldError("targets")
    if not isinstance(raw, list):
        raise PayloadFormatError(
            f'The "targets" field should be a list of node objects, but got {raw!r}'
        )
    targets = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise PayloadFormatError(
                f'The Element of "targets" field should be a dictionary, but got {item!r}'
            )
        if "node_type" not in item or "node_id" not in item:
            raise PayloadFormatError(
                'The Element of "targets" field should be a dictionary that has both "node_type" '
                f'and "node_id" keys, but got {item!r}'
            )
        node_type, node_id = item["node_type"], item["node_id"]
        if not isinstance(node_type, str):
            raise PayloadFormatError(f"targets[{index}].node_type must be a string, but got {node_type!r}")
        if node_id is None or node_id == "":
            raise MissingFieldDataError("node_id", f"targets[{index}], node type {node_type}")
        if isinstance(node_id, bool) or not isinstance(node_id, str | int | float):
            raise PayloadFormatError(
                f"targets[{index}].node_id must be a string or a number, but got {node_id!r}"
            )
        targets.append(Target(node_type, node_id))
    return tuple(targets)
