"""Per-request limits: body bytes, payload nodes, edges and targets.

A request over a limit gets a 413 envelope naming the limit, its value and the option that
sets it, before any work proportional to its size beyond reading it (the byte limit is
checked before JSON parsing, the counts before the graph is built). Limits are options of
``RealtimePredictor`` and of the ``handler`` section of a .mar's ``model-config.yaml``
(``gs-build-mar --max-request-bytes/--max-nodes/--max-edges/--max-targets``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from handler.envelope import request_uid
from handler.errors import RequestTooLargeError

logger = logging.getLogger(__name__)

# GraphStorm 0.5.1 logs a warning above this many targets of one node type
# (dataloading.GS_WARNING_REALTIME_BATCH_SIZE) and answers anyway; so do we.
WARN_TARGETS = 100


@dataclass(frozen=True)
class RequestLimits:
    """The largest request the endpoint answers.

    Attributes:
        max_request_bytes: body size; 100 MiB, TorchServe's ``max_request_size`` in
            ``serving_config/config.properties``.
        max_nodes: nodes listed in ``graph.nodes``.
        max_edges: edges listed in ``graph.edges``.
        max_targets: entries of ``targets`` (10x the count above which GraphStorm warns).
    """

    max_request_bytes: int = 100 * 1024 * 1024
    max_nodes: int = 100_000
    max_edges: int = 1_000_000
    max_targets: int = 1_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> RequestLimits:
        """Limits from a mapping (e.g. model-config.yaml's ``handler`` section).

        Args:
            options: may hold any of the attribute names; other keys are ignored, missing
                ones keep their defaults.

        Returns:
            The limits.

        Raises:
            ValueError: a limit is not a positive integer.
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (options or {}).items() if k in names})

    def as_options(self) -> dict[str, int]:
        """The limits as a mapping ``from_options`` reads back."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def check_body(self, body: bytes) -> None:
        """Raises RequestTooLargeError when the body exceeds ``max_request_bytes``."""
        if len(body) > self.max_request_bytes:
            err = RequestTooLargeError(
                f"the body has {len(body)} bytes; this endpoint accepts at most "
                f"{self.max_request_bytes} (limit max_request_bytes)"
            )
            # The id of the exact bytes, as for any request.
            err.request_uid = request_uid(body if isinstance(body, bytes) else str(body).encode())
            raise err

    def check_counts(self, payload: dict[str, Any], uid: str) -> None:
        """Raises RequestTooLargeError when nodes, edges or targets exceed their limits.

        Args:
            payload: the decoded request (``graph`` may be malformed: the graph builder
                reports that).
            uid: the request id, for the log.
        """
        graph = payload.get("graph")
        counts = {"targets": payload.get("targets"), "nodes": None, "edges": None}
        if isinstance(graph, dict):
            counts["nodes"], counts["edges"] = graph.get("nodes"), graph.get("edges")
        for what, items in counts.items():
            limit = getattr(self, f"max_{what}")
            if isinstance(items, list) and len(items) > limit:
                raise RequestTooLargeError(
                    f"the payload has {len(items)} {what}; this endpoint accepts at most {limit} "
                    f"(limit max_{what}). Split the request into smaller ones."
                )
        targets = counts["targets"]
        if isinstance(targets, list) and len(targets) > WARN_TARGETS:
            logger.warning("request %s: %d targets; GraphStorm advises at most %d per request",
                           uid, len(targets), WARN_TARGETS)
