"""Errors of the real-time path.

``RealtimeError`` subclasses are request errors: each carries the status code GraphStorm
0.5.1's real-time endpoint answers for that kind of failure (``realtime_http_response.py``)
and the text placed in the envelope's ``error`` field; two conditions GraphStorm has no code
for get HTTP's (413 limits exceeded, 422 float32 overflow; ``docs/reliability.md``). This
module is the only place status codes are decided. ``UnsupportedConfigError`` is a load-time
error: the model artifacts ask for something this server does not implement.
"""

from __future__ import annotations

from typing import Any

# The longest error detail an envelope carries (a JSON-escaped control character takes 6
# bytes, so an error envelope stays within a few KB whatever the payload held).
MAX_DETAIL_CHARS = 600
# The longest rendering of one payload value inside an error text.
MAX_ECHO_CHARS = 80


def echo(value: Any, limit: int = MAX_ECHO_CHARS) -> str:
    """A payload value as an error text shows it: ``repr``, cut to ``limit`` characters.

    Args:
        value: anything decoded from the payload (a huge list is never rendered whole).
        limit: the longest text returned.

    Returns:
        The bounded rendering.
    """
    if isinstance(value, list | dict) and len(value) > limit:
        kind = "list" if isinstance(value, list) else "object"
        return f"<a JSON {kind} of {len(value)} items>"
    if isinstance(value, str) and len(value) > 4 * limit:
        value = value[: 4 * limit]  # repr of a 1 MB string is never built
    try:
        text = repr(value)
    except RecursionError:  # a JSON value nested ~1,000 levels deep
        return f"<a JSON {'list' if isinstance(value, list) else 'object'} nested too deeply to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class UnsupportedConfigError(ValueError):
    """A training-config option changes inference in a way this server does not support.

    Raised while loading artifacts, never while serving a request; the message names the
    option.
    """


class RealtimeError(Exception):
    """A request that cannot be answered with predictions.

    Attributes:
        status_code: the GraphStorm status code of the envelope.
        prefix: GraphStorm's fixed opening of the error text for this status.
        detail: what exactly is wrong and where (node type, id, feature); at most
            ``MAX_DETAIL_CHARS`` characters, so that an error never echoes a payload unbounded.
    """

    status_code: int = 500
    prefix: str = ""

    def __init_subclass__(cls, status_code: int = 0, prefix: str = "", **kwargs: object) -> None:
        # A subclass names its code and prefix in its header: ``class X(RealtimeError,
        # status_code=411, prefix="...")``; a sub-subclass without them keeps its parent's.
        super().__init_subclass__(**kwargs)
        if status_code:
            cls.status_code, cls.prefix = status_code, prefix

    def __init__(self, detail: str) -> None:
        if len(detail) > MAX_DETAIL_CHARS:
            detail = detail[:MAX_DETAIL_CHARS] + " ...(truncated)"
        super().__init__(detail)
        self.detail = detail

    @property
    def error_text(self) -> str:
        """The envelope's ``error`` field: GraphStorm's prefix followed by the detail."""
        return f"{self.prefix}{self.detail}"


class PayloadFormatError(
    RealtimeError, status_code=400,
    prefix="General JSON format error: The input payload has some JSON format error. Details: ",
):
    """400: a malformed payload field (e.g. a target that is not a target object)."""

    @property
    def error_text(self) -> str:
        # GraphStorm closes this message with a period after the details.
        return f"{self.prefix}{self.detail}."


class UnreadableBodyError(PayloadFormatError):
    """400: the body is not JSON text or has an unsupported content type.

    GraphStorm answers these with an empty ``request_uid``: the body was never read as a
    request.
    """


class MissingFieldError(RealtimeError, status_code=401):
    """401: a required top-level field (``targets``) is missing or empty."""

    def __init__(self, field: str) -> None:
        super().__init__(
            f"Missing Required Field: The input payload missed the '{field}' field. Please refer "
            "to the GraphStorm realtime inference documentation for required fields."
        )
        self.field = field


class MissingFieldDataError(RealtimeError, status_code=402):
    """402: a field is present but carries no value (e.g. a null or empty node id)."""

    def __init__(self, field: str, where: str) -> None:
        super().__init__(
            f"Missing Data in Field: The input payload contains the '{field}' field but no "
            f"associated data ({where})."
        )
        self.field = field


class TargetNodeTypeError(RealtimeError, status_code=403, prefix="Mismatched target node type: "):
    """403: a target's node type is absent from the payload or not predicted by the model."""


class TargetNodeIdError(RealtimeError, status_code=404, prefix="Mismatched target node IDs: "):
    """404: a target's node id is not among the payload's nodes of that type."""


class TargetEdgeTypeError(RealtimeError, status_code=403, prefix="Mismatched target edge type: "):
    """403: an edge target's relation is not the one the model predicts (edge and LP models)."""


class MissingModelFeatureError(RealtimeError, status_code=404, prefix="Missing Model Feature: "):
    """404: the payload lacks a node or edge feature the model reads."""


class GraphConstructionError(
    RealtimeError, status_code=411,
    prefix="Graph Construction Failure: Failed to construct a DGL graph from the http payload. Details: ",
):
    """411: the payload cannot be turned into a graph (unknown type, bad value, dangling edge)."""


class RequestTooLargeError(RealtimeError, status_code=413, prefix="Request Too Large: "):
    """413 (not a GraphStorm code): the body, or its nodes, edges or targets, exceed the
    endpoint's configured limits (``handler.contract.limits``); HTTP's "Content Too Large"."""


class UnprocessablePayloadError(RealtimeError, status_code=422, prefix="Unprocessable Payload: "):
    """422 (not a GraphStorm code): a valid payload whose feature values are so large that the
    model's float32 arithmetic overflows (finite inputs, finite weights, non-finite output)."""


class TaskMismatchError(
    RealtimeError, status_code=421,
    prefix="Task Mismatch: Input payload's task mismatches with the endpoint model. Details: ",
):
    """421: ``gml_task`` is missing, not a node task, or not the deployed model's task."""


class InternalError(
    RealtimeError, status_code=500,
    prefix="Internal Server Error: Please contact with your endpoint administrators for this error. ",
):
    """500: the request is well-formed but the server failed to answer it."""

    @property
    def error_text(self) -> str:
        return f"{self.prefix}Details: {self.detail}" if self.detail else self.prefix


class ResponseTooLargeError(RealtimeError, status_code=413, prefix="Response Too Large: "):
    """413 (not a GraphStorm code): the answer would exceed the endpoint's response size limit
    (``max_response_bytes``; above TorchServe's ``max_response_size`` the frontend drops the
    worker's connection and fails the whole batch)."""


class GraphStoreFailureError(RealtimeError, status_code=503, prefix="Graph Store Failure: "):
    """503 (not a GraphStorm code): a targets-only request could not be completed because the
    graph store failed (unreachable, timed out, corrupt); the request itself may be fine and can
    be retried. The detail names the store's error, bounded."""
