"""The endpoint's size limits: per request (body, nodes, edges, targets, response) and per batch.

A request over a limit gets a 413 envelope naming the limit, its value and the option that
sets it, before any work proportional to its size beyond reading it: ``decode`` checks the
bytes before JSON parsing, ``parse`` the counts before walking the lists. The batch budget
bounds one forward: ``forward`` splits a batch whose requests together exceed it into
several forwards. Limits are options of ``RealtimePredictor`` and of the ``handler`` section
of a .mar's ``model-config.yaml`` (``gs-build-mar --max-request-bytes`` etc.); reasons for
the defaults: ``docs/reliability.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

# GraphStorm 0.5.1 logs a warning above this many targets of one node type
# (dataloading.GS_WARNING_REALTIME_BATCH_SIZE) and answers anyway; so do we.
WARN_TARGETS = 100
# SageMaker's InvokeEndpoint accepts request and response bodies of at most 6 MiB
# (API reference: Body, maximum length 6291456); a real-time endpoint never sees more.
SAGEMAKER_PAYLOAD_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class RequestLimits:
    """The largest request, response and batch the endpoint handles.

    Attributes:
        max_request_bytes: body size (SageMaker's InvokeEndpoint limit).
        max_response_bytes: envelope size; a larger answer is a 413 envelope instead
            (SageMaker's limit; TorchServe's ``max_response_size`` must be at least this).
        max_nodes: nodes listed in ``graph.nodes``.
        max_edges: edges listed in ``graph.edges``.
        max_targets: entries of ``targets`` (10x the count above which GraphStorm warns).
        max_batch_nodes: payload nodes in one forward; a batch with more is split.
        max_batch_edges: payload edges in one forward; a batch with more is split.
    """

    max_request_bytes: int = SAGEMAKER_PAYLOAD_BYTES
    max_response_bytes: int = SAGEMAKER_PAYLOAD_BYTES
    max_nodes: int = 100_000
    max_edges: int = 500_000
    max_targets: int = 1_000
    max_batch_nodes: int = 200_000
    max_batch_edges: int = 1_000_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")
        # One request must fit one forward.
        if self.max_batch_nodes < self.max_nodes or self.max_batch_edges < self.max_edges:
            raise ValueError("max_batch_nodes / max_batch_edges must be at least max_nodes / max_edges")

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
