"""Batching, worker settings and the project's Prometheus metrics on a real TorchServe."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.compare import FIXTURES_DIR, assert_matches_target, load_cases
from tests.serving.torchserve_process import prometheus_value, serving

pytestmark = pytest.mark.torchserve

MODEL = "rgcn_nc"
BATCH = 4
# Long enough that BATCH concurrent requests always meet in one batch: a full batch leaves at
# once, so the tests never wait for this delay.
DELAY_MS = 5000
CASES = {c.name: c for c in load_cases(MODEL)}
MANIFEST = {c["name"]: c for c in json.loads((FIXTURES_DIR / MODEL / "payloads" / "manifest.json").read_text())["cases"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    store = tmp_path_factory.mktemp("store")
    mar_builder(MODEL, store, flags=(
        "--batch-size", str(BATCH), "--max-batch-delay", str(DELAY_MS),
        "--min-workers", "2", "--max-workers", "3", "--response-timeout", "30"))
    with serving(tmp_path_factory.mktemp("ts"), store, {MODEL: f"{MODEL}.mar"},
                 workers={MODEL: 2}) as ts:
        yield ts


def _describe(ts) -> dict:
    resp = ts.management("GET", f"/models/{MODEL}")
    assert resp.status == 200, resp.body
    return resp.json()[0]


def _scale(ts, workers: int) -> None:
    """Sets the worker count (TorchServe removes workers only above max_worker)."""
    resp = ts.management(
        "PUT", f"/models/{MODEL}?min_worker={workers}&max_worker={workers}&synchronous=true")
    assert resp.status == 200, resp.body
    deadline = time.monotonic() + 60
    while len(_describe(ts)["workers"]) != workers:
        assert time.monotonic() < deadline, _describe(ts)
        time.sleep(0.3)
    ts.wait_ready(MODEL, workers=workers)


def _concurrently(ts, cases) -> list:
    """POSTs ``cases`` at the same moment; responses in order."""
    responses = [None] * len(cases)
    barrier = threading.Barrier(len(cases))

    def post(i: int) -> None:
        barrier.wait()
        responses[i] = ts.inference("POST", f"/predictions/{MODEL}", cases[i].body,
                                    {"Content-Type": cases[i].content_type})

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return responses


def test_model_config_settings_are_applied(server):
    described = _describe(server)
    assert described["batchSize"] == BATCH
    assert described["maxBatchDelay"] == DELAY_MS
    assert described["minWorkers"] == 2
    assert described["maxWorkers"] == 3
    assert described["responseTimeout"] == 30
    assert len(described["workers"]) == 2


def test_worker_count_follows_scaling(server):
    _scale(server, 3)
    assert len(_describe(server)["workers"]) == 3
    _scale(server, 1)
    assert len(_describe(server)["workers"]) == 1


def test_concurrent_requests_arrive_as_one_batch(server):
    _scale(server, 1)  # one worker: the batch cannot be split between workers
    before = prometheus_value(server.metrics(), "GsBatches", BatchSize=str(BATCH), ModelName=MODEL)
    cases = [CASES["v01_tiny"], CASES["v02_small"], CASES["x03_unknown_target_id"], CASES["v04_medium_full"]]
    responses = _concurrently(server, cases)
    for case, resp in zip(cases, responses, strict=True):
        assert_matches_target(case, resp.json(), raw_body=resp.body)
    after = prometheus_value(server.metrics(), "GsBatches", BatchSize=str(BATCH), ModelName=MODEL)
    assert after == before + 1


def test_prometheus_shows_project_metrics(server):
    _scale(server, 1)
    text = server.metrics()
    before = {name: prometheus_value(text, name, ModelName=MODEL) for name in (
        "GsGraphNodes_count", "GsGraphNodes_sum", "GsGraphEdges_count", "GsGraphEdges_sum",
        "GsPreprocessTime_count",
        "GsInferenceTime_count", "GsPostprocessTime_count")}
    errors_before = prometheus_value(text, "GsRequestErrors", StatusCode="404", ModelName=MODEL)
    tiny, missing = CASES["v01_tiny"], CASES["x03_unknown_target_id"]
    _concurrently(server, [tiny, tiny, tiny, missing])
    text = server.metrics()
    delta = {name: prometheus_value(text, name, ModelName=MODEL) - value for name, value in before.items()}
    assert delta["GsGraphNodes_count"] == 3
    assert delta["GsGraphEdges_count"] == 3
    assert delta["GsInferenceTime_count"] == 3  # the 404 never reaches the model
    assert delta["GsPreprocessTime_count"] == 4
    assert delta["GsPostprocessTime_count"] == 4
    assert delta["GsGraphNodes_sum"] == 3 * MANIFEST["v01_tiny"]["num_nodes"]
    assert delta["GsGraphEdges_sum"] == 3 * MANIFEST["v01_tiny"]["num_edges"]
    assert prometheus_value(text, "GsRequestErrors", StatusCode="404", ModelName=MODEL) == errors_before + 1
