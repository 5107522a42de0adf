"""The archive's `model-config.yaml`: TorchServe batching/worker settings plus handler options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from handler.contract.limits import RequestLimits
from handler.contract.settings import ServingOptions

# A model whose workers keep failing to load stays "Healthy" on /ping for this long while
# TorchServe retries (default 300 s); fail fast instead.
MAX_RETRY_TIMEOUT_S = 10


@dataclass(frozen=True)
class ServingSettings:
    """Per-model TorchServe settings written into the archive.

    Attributes:
        batch_size: most requests the handler receives at once.
        max_batch_delay_ms: how long the frontend waits to fill a batch.
        min_workers: workers started when the model is registered.
        max_workers: upper bound for scaling the model's workers.
        response_timeout_s: seconds a worker may take for one batch before it is restarted.
        http_status: set each response's HTTP status to the envelope's status_code (default:
            HTTP 200 with the status in the body, as GraphStorm's SageMaker endpoint).
        limits: the largest request the handler answers (413 envelope beyond).
        torch_threads: torch intra-op threads per worker (None: the handler's default, 1).
        heap_retain_mb: freed C heap (MiB) a worker keeps for its next request (None: the
            handler's default, 64; 0: glibc's own policy).
        graph_store: the graph store that completes targets-only requests: a path or URI, or
            the store's folder inside the archive when ``graph_store_in_archive`` (None: none).
        graph_store_in_archive: the store travels inside the archive.
    """

    batch_size: int = 8
    max_batch_delay_ms: int = 10
    min_workers: int = 1
    max_workers: int = 1
    response_timeout_s: int = 60
    http_status: bool = False
    limits: RequestLimits = RequestLimits()
    torch_threads: int | None = None
    heap_retain_mb: int | None = None
    graph_store: str | None = None
    graph_store_in_archive: bool = False

    def handler_options(self) -> ServingOptions:
        """The handler section's options (the object the handler reads them back with)."""
        given = {name: value for name in ("torch_threads", "heap_retain_mb")
                 if (value := getattr(self, name)) is not None}
        return ServingOptions(limits=self.limits, http_status=self.http_status, graph_store=self.graph_store,
                              graph_store_in_archive=self.graph_store_in_archive, **given)

    def validate(self) -> None:
        """Raises ValueError when a setting is out of range."""
        for name in ("batch_size", "min_workers", "max_workers", "response_timeout_s"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ValueError(f"torch-threads must be >= 1, got {self.torch_threads}")
        if self.max_batch_delay_ms < 0:
            raise ValueError(f"max-batch-delay must be >= 0, got {self.max_batch_delay_ms}")
        if self.max_workers < self.min_workers:
            raise ValueError(
                f"max-workers ({self.max_workers}) must be >= min-workers ({self.min_workers})"
            )
        self.handler_options()  # the handler's own checks


def to_yaml_dict(settings: ServingSettings) -> dict:
    """The model-config.yaml content TorchServe 0.12 reads (frontend keys + `handler` section)."""
    handler = settings.handler_options().as_section()
    if settings.torch_threads is not None:  # written when given, even at its default
        handler["torch_threads"] = settings.torch_threads
    return {
        "minWorkers": settings.min_workers,
        "maxWorkers": settings.max_workers,
        "batchSize": settings.batch_size,
        "maxBatchDelay": settings.max_batch_delay_ms,
        "responseTimeout": settings.response_timeout_s,
        "maxRetryTimeoutInSec": MAX_RETRY_TIMEOUT_S,
        "handler": handler,
    }


def write(settings: ServingSettings, path: Path) -> Path:
    """Writes model-config.yaml for ``settings`` to ``path`` and returns the path."""
    path.write_text(yaml.safe_dump(to_yaml_dict(settings), sort_keys=False))
    return path
