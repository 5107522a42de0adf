"""serving_metrics with TorchServe's own metrics cache: the lines the worker prints."""

from __future__ import annotations

import logging
import os
import re

import pytest
import ts
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl

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


def _emit(metrics) -> None:
    ok = RequestOutcome(Envelope.success("u0", []), timings_ms={
        "decode": 0.5, "parse": 0.5, "build": 0.5, "forward": 2.0, "envelope": 0.1}, num_nodes=11, num_edges=20)
    rejected = RequestOutcome(Envelope.from_error("u1", TargetNodeIdError("x")),
                              timings_ms={"decode": 0.3, "parse": 0.4, "envelope": 0.1})
    serving_metrics.emit_request(metrics, 0, ok)
    serving_metrics.emit_request(metrics, 1, rejected)
    serving_metrics.emit_batch(metrics, 2)


def _lines(records: list[logging.LogRecord]) -> list[str]:
    return [_TIME.sub(",T,", line) for r in records if r.name == TS_METRICS_LOGGER
            for line in r.getMessage().split("\n")]


def test_one_write_prints_the_same_lines_in_one_record(metrics, caplog):
    caplog.set_level(logging.INFO)
    _emit(metrics)
    separate = [r for r in caplog.records if r.name == TS_METRICS_LOGGER]
    caplog.clear()
    with serving_metrics.one_write():
        _emit(metrics)
    batched = [r for r in caplog.records if r.name == TS_METRICS_LOGGER]
    assert len(separate) == 9  # 5 of the valid request, 3 of the 404, 1 of the batch
    assert len(batched) == 1
    assert _lines(batched) == _lines(separate)
    assert all(line.startswith("[METRICS]Gs") for line in _lines(batched))


def test_one_write_restores_the_logger_and_prints_nothing_when_empty(caplog):
    caplog.set_level(logging.INFO)
    log = logging.getLogger(TS_METRICS_LOGGER)
    handlers, propagate = list(log.handlers), log.propagate
    with serving_metrics.one_write():
        pass
    assert log.handlers == handlers and log.propagate == propagate
    assert not [r for r in caplog.records if r.name == TS_METRICS_LOGGER]
