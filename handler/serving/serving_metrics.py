"""The project's own TorchServe metrics: the `[METRICS]` lines of each batch, in TorchServe's format.

TorchServe forwards them from the worker to its Prometheus endpoint when `metrics_mode=prometheus`
and `model_metrics_auto_detect=true` (serving_config/config.properties). Every metric carries
TorchServe's `ModelName` and `Level` labels (plus `Hostname`); names below are what Prometheus
shows.

| metric | type | unit | per | extra label |
| --- | --- | --- | --- | --- |
| GsGraphNodes / GsGraphEdges | histogram | count | valid request | |
| GsPreprocessTime | histogram | ms | request (stages decode + parse + transform + build; transform: its batch's) | |
| GsInferenceTime | histogram | ms | valid request (stage forward: its batch's forward) | |
| GsPostprocessTime | histogram | ms | request (stage envelope: serialisation) | |
| GsRequestErrors | counter | count | request answered with status != 200 | StatusCode |
| GsBatches | counter | count | handler call | BatchSize |
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Sequence
from typing import Any

from ts.metrics.unit import Units

from handler.serving.predictor import RequestOutcome

logger = logging.getLogger(__name__)
# The logger TorchServe's metric objects print their `[METRICS]` lines with (ts 0.12).
TS_METRICS_LOGGER = "ts.metrics.caching_metric"
_HISTOGRAM, _COUNTER = "HISTOGRAM", "COUNTER"
# The unit names TorchServe's metric objects print ("ms" -> "Milliseconds", "count" -> "Count").
_UNITS = Units().units


def write_batch(metrics: Any, outcomes: Sequence[RequestOutcome]) -> None:
    """Prints the batch's metric lines (every request's, then the batch's) as one log record.

    The lines are exactly those TorchServe 0.12's metrics cache prints for
    ``metrics.add_metric(...)`` of each metric (``CachingMetric.emit_metrics``: name, unit,
    value, dimensions with ``ModelName`` and ``Level`` added, type, host, time, request id), which
    the frontend parses into Prometheus metrics. They are formatted here once per batch: going
    through the cache costs a metric lookup, dimension objects, a host-name call and a log record
    per metric, ~6 per request, which is what grew with the requests of a batch (py-spy,
    docs/performance.md); printed together, the frontend gets the same lines for one write.

    Args:
        metrics: TorchServe's ``context.metrics`` (its ``model_name`` and ``request_ids``).
        outcomes: the batch's answers, in request order.
    """
    try:
        lines = batch_lines(metrics, outcomes, socket.gethostname(), int(time.time()))
    except Exception:  # metrics must never fail the requests of a batch
        logger.warning("metrics of a batch not emitted", exc_info=True)
        return
    logging.getLogger(TS_METRICS_LOGGER).info("\n".join(lines))


def batch_lines(metrics: Any, outcomes: Sequence[RequestOutcome], hostname: str, stamp: int) -> list[str]:
    """The metric lines of a batch (see ``write_batch``).

    Args:
        metrics: TorchServe's ``context.metrics``.
        outcomes: the batch's answers.
        hostname: the host name the lines carry.
        stamp: the emission time, whole seconds.

    Returns:
        One line per metric: the requests' in request order, then ``GsBatches``.
    """
    ids = getattr(metrics, "request_ids", None)
    every_id = ",".join(ids.values()) if isinstance(ids, dict) else ids
    model_dims = f"ModelName:{metrics.model_name},Level:Model"

    def line(name: str, unit: str, value: Any, kind: str, request_id: Any, dims: str = "") -> str:
        # A metric without a request id is TorchServe's "Level:Error" metric (no model name).
        dimensions = f"{dims}{model_dims}" if request_id is not None else f"{dims}Level:Error"
        text = (f"[METRICS]{name}.{_UNITS.get(unit, unit)}:{value}|#{dimensions}|#type:{kind}"
                f"|#hostname:{hostname},{stamp}")
        return f"{text},{request_id}" if request_id else text

    lines = []
    for idx, outcome in enumerate(outcomes):
        request_id = ids[idx] if isinstance(ids, dict) and idx in ids else every_id
        stages = outcome.timings_ms
        pre = [stages[s] for s in ("decode", "parse", "transform", "build") if s in stages]
        for name, value in (
            ("GsPreprocessTime", sum(pre) if pre else None),
            ("GsInferenceTime", stages.get("forward")),
            ("GsPostprocessTime", stages.get("envelope")),
        ):
            if value is not None:
                lines.append(line(name, "ms", round(value, 3), _HISTOGRAM, request_id))
        for name, count in (("GsGraphNodes", outcome.num_nodes), ("GsGraphEdges", outcome.num_edges)):
            if count is not None:
                lines.append(line(name, "count", count, _HISTOGRAM, request_id))
        if outcome.status_code != 200:
            lines.append(line("GsRequestErrors", "count", 1, _COUNTER, request_id,
                              f"StatusCode:{outcome.status_code},"))
    lines.append(line("GsBatches", "count", 1, _COUNTER, every_id, f"BatchSize:{len(outcomes)},"))
    return lines
