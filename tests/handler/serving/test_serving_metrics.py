"""serving_metrics with TorchServe's own metrics cache: the lines the worker prints."""

from __future__ import annotations

import logging
import os
import re

import pytest
import ts
from ts.metrics.dimension import Dimension
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl
from ts.metrics.metric_type_enum import MetricTypes

from handler.contract.envelope import Envelope
from handler.contract.errors import TargetNodeIdError
from handler.serving import serving_metrics
from handler.serving.predictor import RequestOutcome
from handler.serving.serving_metrics import TS_METRICS_LOGGER

# The emission time (whole seconds) is the only field that may differ between two emissions.
_TIME = re.compile(r",\d+,")


@pytest.fixture()
def metrics() -> MetricsCacheYamlImpl:
    cache = MetricsCacheYamlImpl(os.path.join(os.path.dirname(ts.__file__), "configs", "metrics.yaml"))
    cache.initialize_cache()
    cache.model_name = "rgcn_nc"
    cache.set_request_ids({0: "req0", 1: "req1"})
    return cache


OUTCOMES = [
    RequestOutcome(Envelope.success("u0", []), timings_ms={
        "decode": 0.5, "parse": 0.5, "build": 0.5, "forward": 2.0, "envelope": 0.1}, num_nodes=11, num_edges=20),
    RequestOutcome(Envelope.from_error("u1", TargetNodeIdError("x")),
                   timings_ms={"decode": 0.3, "parse": 0.4, "envelope": 0.1}),
]


def _emit_through_torchserve(metrics) -> None:
    """What the lines mean: each metric through TorchServe's own metrics cache, which prints
    one line per metric (the handler's lines must be exactly these)."""
    for idx, outcome in enumerate(OUTCOMES):
        stages = outcome.timings_ms
        pre = round(sum(stages[s] for s in ("decode", "parse", "transform", "build") if s in stages), 3)
        metrics.add_metric("GsPreprocessTime", pre, "ms", idx=idx, dimensions=[], metric_type=MetricTypes.HISTOGRAM)
        if "forward" in stages:
            metrics.add_metric("GsInferenceTime", stages["forward"], "ms", idx=idx, dimensions=[],
                               metric_type=MetricTypes.HISTOGRAM)
        metrics.add_metric("GsPostprocessTime", stages["envelope"], "ms", idx=idx, dimensions=[],
                           metric_type=MetricTypes.HISTOGRAM)
        for name, count in (("GsGraphNodes", outcome.num_nodes), ("GsGraphEdges", outcome.num_edges)):
            if count is not None:
                metrics.add_metric(name, count, "count", idx=idx, dimensions=[], metric_type=MetricTypes.HISTOGRAM)
        if outcome.status_code != 200:
            metrics.add_metric("GsRequestErrors", 1, "count", idx=idx,
                               dimensions=[Dimension("StatusCode", str(outcome.status_code))],
                               metric_type=MetricTypes.COUNTER)
    metrics.add_metric("GsBatches", 1, "count", dimensions=[Dimension("BatchSize", str(len(OUTCOMES)))],
                       metric_type=MetricTypes.COUNTER)


def _lines(records: list[logging.LogRecord]) -> list[str]:
    return [_TIME.sub(",T,", line) for r in records if r.name == TS_METRICS_LOGGER
            for line in r.getMessage().split("\n")]


@pytest.mark.parametrize("request_ids", [{0: "req0", 1: "req1"}, {}, None])
def test_batch_lines_are_torchserves_lines_in_one_record(metrics, caplog, request_ids):
    metrics.set_request_ids(request_ids)
    caplog.set_level(logging.INFO)
    _emit_through_torchserve(metrics)
    separate = [r for r in caplog.records if r.name == TS_METRICS_LOGGER]
    caplog.clear()
    serving_metrics.write_batch(metrics, OUTCOMES)
    batched = [r for r in caplog.records if r.name == TS_METRICS_LOGGER]
    assert len(separate) == 9  # 5 of the valid request, 3 of the 404, 1 of the batch
    assert len(batched) == 1
    assert _lines(batched) == _lines(separate)
    assert all(line.startswith("[METRICS]Gs") for line in _lines(batched))


def test_a_metrics_failure_never_fails_the_batch(caplog):
    caplog.set_level(logging.INFO)
    serving_metrics.write_batch(object(), OUTCOMES)  # no model_name: nothing printed, a warning
    assert not [r for r in caplog.records if r.name == TS_METRICS_LOGGER]
    assert any("not emitted" in r.getMessage() for r in caplog.records)
