"""Errors of the real-time path.

``RealtimeError`` subclasses are request errors: each carries the status code GraphStorm
0.5.1's real-time endpoint answers for that kind of failure (``realtime_http_response.py``)
and the text placed in the envelope's ``error`` field; two conditions GraphStorm has no code
for get HTTP's (413 limits exceeded, 422 float32 overflow; ``docs/reliability.md``). This
module is the only place status codes are decided. ``UnsupportedConfigError`` is a load-time error: the model artifacts ask
for something this server does not implement.
"""

from __future__ import annotations


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
        detail: what exactly is wrong and where (node type, id, feature).
        request_uid: the request id to answer with, set by whoever knows it ("" until then,
            which is also GraphStorm's id for a body that is not JSON).
    """

    status_code: int = 500
    prefix: str = ""
    request_uid: str = ""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def error_text(self) -> str:
        """The envelope's ``error`` field: GraphStorm's prefix followed by the detail."""
        return f"{self.prefix}{self.detail}"


class PayloadFormatError(RealtimeError):
    """400: the body is not JSON, has an unsupported content type, or a malformed target."""

    status_code = 400
    prefix = "General JSON format error: The input payload has some JSON format error. Details: "

    @property
    def error_text(self) -> str:
        # GraphStorm closes this message with a period after the details.
        return f"{self.prefix}{self.detail}."


class MissingFieldError(RealtimeError):
    """401: a required top-level field (``targets``) is missing or empty."""

    status_code = 401

    def __init__(self, field: str) -> None:
        super().__init__(
            f"Missing Required Field: The input payload missed the '{field}' field. Please refer "
            "to the GraphStorm realtime inference documentation for required fields."
        )
        self.field = field


class MissingFieldDataError(RealtimeError):
    """402: a field is present but carries no value (e.g. a null or empty node id)."""

    status_code = 402

    def __init__(self, field: str, where: str) -> None:
        super().__init__(
            f"Missing Data in Field: The input payload contains the '{field}' field but no "
            f"associated data ({where})."
        )
        self.field = field


class TargetNodeTypeError(RealtimeError):
    """403: a target's node type is absent from the payload or not predicted by the model."""

    status_code = 403
    prefix = "Mismatched target node type: "


class TargetNodeIdError(RealtimeError):
    """404: a target's node id is not among the payload's nodes of that type."""

    status_code = 404
    prefix = "Mismatched target node IDs: "


class MissingModelFeatureError(RealtimeError):
    """404: the payload lacks a node or edge feature the model reads."""

    status_code = 404
    prefix = "Missing Model Feature: "


class GraphConstructionError(RealtimeError):
    """411: the payload cannot be turned into a graph (unknown type, bad value, dangling edge)."""

    status_code = 411
    prefix = "Graph Construction Failure: Failed to construct a DGL graph from the http payload. Details: "


class RequestTooLargeError(RealtimeError):
    """413 (not a GraphStorm code): the body, or its nodes, edges or targets, exceed the
    endpoint's configured limits (``handler.limits``); HTTP's "Content Too Large"."""

    status_code = 413
    prefix = "Request Too Large: "


class UnprocessablePayloadError(RealtimeError):
    """422 (not a GraphStorm code): a valid payload whose feature values are so large that the
    model's float32 arithmetic overflows (finite inputs, finite weights, non-finite output)."""

    status_code = 422
    prefix = "Unprocessable Payload: "


class TaskMismatchError(RealtimeError):
    """421: ``gml_task`` is missing, not a node task, or not the deployed model's task."""

    status_code = 421
    prefix = "Task Mismatch: Input payload's task mismatches with the endpoint model. Details: "


class InternalError(RealtimeError):
    """500: the request is well-formed but the server failed to answer it."""

    status_code = 500
    prefix = "Internal Server Error: Please contact with your endpoint administrators for this error. "

    @property
    def error_text(self) -> str:
        return f"{self.prefix}Details: {self.detail}" if self.detail else self.prefix
