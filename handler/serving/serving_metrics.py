"""The project's own TorchServe metrics, emitted by the handler through `context.metrics`.

TorchServe forwards them from the worker to its Prometheus endpoint when `metrics_mode=prometheus`
and `model_metrics_auto_detect=true` (serving_config/config.properties). Every metric carries
TorchServe's `ModelName` and `Level` labels (plus `Hostname`); names below are what Prometheus
shows.

| metric | type | unit | per | extra label |
| --- | --- | --- | --- | --- |
| GsGraphNodes / GsGraphEdges | histogram | count | valid request | |
| GsPreprocessTime | histogram | ms | request (stages decode + parse + build) | |
| GsInferenceTime | histogram | ms | valid request (stage forward: its batch's forward) | |
| GsPostprocessTime | histogram | ms | request (stage envelope: serialisation) | |
| GsRequestErrors | counter | count | request answered with status != 200 | StatusCode |
| GsBatches | counter | count | handler call | BatchSize |
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from ts.metrics.dimension import Dimension
from ts.metrics.metric_type_enum import MetricTypes

from handler.serving.predictor import RequestOutcome

logger = logging.getLogger(__name__)
# The logger TorchServe's metric objects print their `[METRICS]` lines with (ts 0.12).
TS_METRICS_LOGGER = "ts.metrics.caching_metric"


class _Collect(logging.Handler):
    """Keeps the INFO records (metric lines) it receives; passes anything else on.

    Args:
        target: the metrics logger it is attached to (its parent gets the other records).
    """

    def __init__(self, target: logging.Logger) -> None:
        super().__init__(logging.INFO)
        self.target = target
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.INFO:
            self.lines.append(record.getMessage())
        else:  # an update TorchServe refused: keep its error as it was
            parent = self.target.parent  # a named logger's parent is never None (root at least)
            if parent is not None:
                parent.handle(record)


@contextlib.contextmanager
def one_write() -> Iterator[None]:
    """Prints the metric lines emitted inside the block as one log record (one write).

    The worker prints each metric as a line on its stdout, which the frontend reads and parses.
    Printed one by one, each line costs a formatted record, a write and a flush (and wakes the
    frontend's reader thread); printed together, the frontend gets the same lines in the same
    order for one write per batch (about 10 us less per line in the worker).
    """
    log = logging.getLogger(TS_METRICS_LOGGER)
    collect = _Collect(log)
    propagate = log.propagate
    log.addHandler(collect)
    log.propagate = False
    try:
        yield
    finally:
        log.removeHandler(collect)
        log.propagate = propagate
        if collect.lines:
            log.info("\n".join(collect.lines))


def emit_batch(metrics, batch_size: int) -> None:
    """Counts one handler call under its batch size (proves batching from outside).

    Args:
        metrics: TorchServe's `context.metrics` (a MetricsCache).
        batch_size: requests in this call.
    """
    _safely(
        metrics.add_metric, "GsBatches", 1, "count",
        dimensions=[Dimension("BatchSize", str(batch_size))], metric_type=MetricTypes.COUNTER,
    )


def emit_request(metrics, idx: int, outcome: RequestOutcome) -> None:
    """Emits the per-request metrics of request ``idx`` of the current batch.

    Args:
        metrics: TorchServe's `context.metrics`.
        idx: the request's index in the batch (ties the metric log line to its request id).
        outcome: the request's answer, stage timings and graph size.
    """
    stages = outcome.timings_ms
    pre = [stages[s] for s in ("decode", "parse", "build") if s in stages]
    for name, value in (
        ("GsPreprocessTime", sum(pre) if pre else None),
        ("GsInferenceTime", stages.get("forward")),
        ("GsPostprocessTime", stages.get("envelope")),
    ):
        if value is not None:
            _safely(metrics.add_metric, name, round(value, 3), "ms", idx=idx, dimensions=[],
                    metric_type=MetricTypes.HISTOGRAM)
    for name, count in (("GsGraphNodes", outcome.num_nodes), ("GsGraphEdges", outcome.num_edges)):
        if count is not None:
            _safely(metrics.add_metric, name, count, "count", idx=idx, dimensions=[],
                    metric_type=MetricTypes.HISTOGRAM)
    if outcome.status_code != 200:
        _safely(
            metrics.add_metric, "GsRequestErrors", 1, "count", idx=idx,
            dimensions=[Dimension("StatusCode", str(outcome.status_code))],
            metric_type=MetricTypes.COUNTER,
        )


def _safely(fn, *args, **kwargs) -> None:
    """Calls a metrics API; a metrics failure must never fail the requests of a batch."""
    try:
        fn(*args, **kwargs)
    except Exception:
        logger.warning("metric %s not emitted", args[0] if args else "?", exc_info=True)
