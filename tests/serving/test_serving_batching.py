"""Batching, worker settings and the project's Prometheus metrics on a real TorchServe.

Nothing here depends on timing: the batch delay is so long that a batch closes only when it is
full (every request-sending test sends exactly BATCH requests at once), clients wait longer
than that delay, and metrics are read once they account for every request sent (the worker's
metric lines reach /metrics asynchronously, after the answers).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from handler.contract.arrow_response import arrow_response_to_envelope
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE
from tests.compare import FIXTURES_DIR, assert_matches_target, load_cases
from tests.serving.torchserve_process import SLOW_CALL_S, prometheus_value, serving

pytestmark = pytest.mark.torchserve

MODEL = "rgcn_nc"
BATCH = 4
# A batch closes when BATCH requests are in it, or this long after its first one: long enough
# that BATCH concurrent requests meet in one batch however slowly a loaded machine sends them.
# A full batch leaves at once, so the tests never wait for this delay.
DELAY_MS = 300_000
METRICS_WAIT_S = 120
CASES = {c.name: c for c in load_cases(MODEL)}
MANIFEST = {c["name"]: c
            for c in json.loads((FIXTURES_DIR / MODEL / "payloads" / "manifest.json").read_text())["cases"]}


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
        "PUT", f"/models/{MODEL}?min_worker={workers}&max_worker={workers}&synchronous=true",
        timeout=SLOW_CALL_S)
    assert resp.status == 200, resp.body
    deadline = time.monotonic() + SLOW_CALL_S
    while len(_describe(ts)["workers"]) != workers:
        assert time.monotonic() < deadline, _describe(ts)
        time.sleep(0.3)
    ts.wait_ready(MODEL, workers=workers)


def _concurrently(ts, cases, extra_headers=None, paths=None) -> list:
    """POSTs ``cases`` at the same moment (to ``paths``, default /predictions/MODEL, each with
    its ``extra_headers``); responses in order."""
    responses = [None] * len(cases)
    barrier = threading.Barrier(len(cases))

    def post(i: int) -> None:
        headers = {"Content-Type": cases[i].content_type, **(extra_headers[i] if extra_headers else {})}
        path = paths[i] if paths else f"/predictions/{MODEL}"
        barrier.wait()
        responses[i] = ts.inference("POST", path, cases[i].body, headers, timeout=SLOW_CALL_S)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return responses


def _batches(text: str) -> dict[int, float]:
    """GsBatches counts of ``MODEL`` by batch size."""
    sizes = {int(line.split('BatchSize="', 1)[1].split('"', 1)[0])
             for line in text.splitlines() if line.startswith("GsBatches{") and 'BatchSize="' in line}
    return {size: prometheus_value(text, "GsBatches", BatchSize=str(size), ModelName=MODEL) for size in sizes}


def _metrics_once(ts, ready) -> str:
    """The /metrics text once ``ready(text)`` holds (the worker's lines arrive after the answers)."""
    deadline = time.monotonic() + METRICS_WAIT_S
    while not ready(text := ts.metrics()):
        assert time.monotonic() < deadline, text
        time.sleep(0.2)
    return text


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
    before = _batches(server.metrics())
    cases = [CASES["v01_tiny"], CASES["v02_small"], CASES["x03_unknown_target_id"], CASES["v04_medium_full"]]
    responses = _concurrently(server, cases)
    for case, resp in zip(cases, responses, strict=True):
        assert_matches_target(case, resp.json(), raw_body=resp.body)

    def new_batches(text: str) -> dict[int, float]:
        after = _batches(text)
        return {size: n - before.get(size, 0) for size, n in after.items() if n != before.get(size, 0)}

    # Wait until the batches holding all BATCH requests are counted, then: one batch of BATCH.
    text = _metrics_once(server, lambda t: sum(size * n for size, n in new_batches(t).items()) >= BATCH)
    assert new_batches(text) == {BATCH: 1}


def test_one_batch_answers_each_request_in_the_format_its_accept_asks(server):
    """JSON and Arrow answers in one batch (one worker, a batch closes only when full), through
    /predictions and SageMaker's /invocations, which passes Accept on; an error answered in
    Arrow to a client that asked Arrow; the response's Content-Type says which format it is."""
    _scale(server, 1)
    cases = [CASES["v02_small"], CASES["v02_small"], CASES["x03_unknown_target_id"], CASES["v01_tiny"]]
    accepts = [{"Accept": ARROW_STREAM_CONTENT_TYPE}, {"Accept": "*/*"},
               {"accept": f"{JSON_CONTENT_TYPE};q=0.5, {ARROW_STREAM_CONTENT_TYPE}"}, {}]
    paths = [f"/predictions/{MODEL}", f"/predictions/{MODEL}", "/invocations", "/invocations"]
    arrow = [True, False, True, False]
    responses = _concurrently(server, cases, accepts, paths)
    for case, resp, is_arrow in zip(cases, responses, arrow, strict=True):
        assert resp.status == 200, resp.body
        assert resp.headers["content-type"] == (ARROW_STREAM_CONTENT_TYPE if is_arrow else JSON_CONTENT_TYPE)
        assert_matches_target(case, arrow_response_to_envelope(resp.body) if is_arrow else resp.json())


def test_prometheus_shows_project_metrics(server):
    _scale(server, 1)
    tiny, missing = CASES["v01_tiny"], CASES["x03_unknown_target_id"]
    want = {  # increase of each series after three tiny requests and one 404, sent together
        ("GsGraphNodes_count", ()): 3, ("GsGraphEdges_count", ()): 3,
        ("GsInferenceTime_count", ()): 3,  # the 404 never reaches the model
        ("GsPreprocessTime_count", ()): 4, ("GsPostprocessTime_count", ()): 4,
        ("GsGraphNodes_sum", ()): 3 * MANIFEST["v01_tiny"]["num_nodes"],
        ("GsGraphEdges_sum", ()): 3 * MANIFEST["v01_tiny"]["num_edges"],
        ("GsRequestErrors", (("StatusCode", "404"),)): 1,
    }

    def values(text: str) -> dict:
        return {(name, labels): prometheus_value(text, name, ModelName=MODEL, **dict(labels))
                for name, labels in want}

    before = values(server.metrics())
    _concurrently(server, [tiny, tiny, tiny, missing])
    text = _metrics_once(server, lambda t: all(
        now - before[key] >= want[key] for key, now in values(t).items()))
    assert {key: now - before[key] for key, now in values(text).items()} == want
