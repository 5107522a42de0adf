"""Soak: a mixed stream of node and edge requests against a real TorchServe on loopback.

Two models are served side by side, each from its own .mar: ``rgcn_nc`` (node
classification) and ``rgcn_ec`` (edge classification). Each gets a stream of its own: every
fixture case of the model (valid ones checked against ``target/``, invalid ones by their
target rule) plus hostile requests (garbage bytes, invalid UTF-8, deep nesting, a graph over
the node limit, an unknown node type, the other kind of target); both streams run at the same
time (``CONCURRENCY`` clients in all), so the server interleaves them. Passing means, for
each model, 0 wrong answers, 0 responses that are not an envelope, 0 worker deaths (the same
worker pids before, during and after) and flat worker RSS. Nothing waits on a timer: every
phase ends when all its answers are in. The short run is in the default suite; the long one
(10,000 requests, figures in docs/reliability.md) is::

    .venv/bin/python -m pytest -m soak tests/serving/test_soak.py -s

(``GS_SOAK_REQUESTS`` changes its size.) Each run prints its figures as one JSON line.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.compare import load_cases
from tests.serving.load import (
    LoadRequest,
    Tally,
    WorkerWatch,
    expected_error,
    fixture_request,
    mixed_plan,
    run_load,
)
from tests.serving.torchserve_process import SLOW_CALL_S, serving

pytestmark = pytest.mark.torchserve

NODE_MODEL, EDGE_MODEL = "rgcn_nc", "rgcn_ec"
MODELS = (NODE_MODEL, EDGE_MODEL)
MAX_NODES = 5000  # above every fixture payload (v06_large_full: 2,920 nodes)
CONCURRENCY = 16  # clients in all, split evenly between the models' streams
SHORT_REQUESTS = 800
LONG_REQUESTS = int(os.environ.get("GS_SOAK_REQUESTS", "10000"))
# Worker RSS may grow while allocator pools fill; beyond this after warm-up it is a leak.
RSS_GROWTH_LIMIT = 48 * 2**20  # per worker
WRITING = ["author", "writing", "paper"]


def hostile_requests(model: str) -> list[LoadRequest]:
    """Requests no client should send, each with the envelope it must get from ``model``."""
    if model == NODE_MODEL:
        tiny = {"version": "gs-realtime-v0.1", "gml_task": "node_classification",
                "targets": [{"node_type": "paper", "node_id": "p0"}]}
        wrong_kind = dict(tiny, targets=[{"edge_type": WRITING, "src_node_id": "a0", "dest_node_id": "p0"}],
                          graph={"nodes": [{"node_type": "paper", "node_id": "p0"}], "edges": []})
        wrong_kind_words = ["node_type", "node_id"]
    else:
        tiny = {"version": "gs-realtime-v0.1", "gml_task": "edge_classification",
                "targets": [{"edge_type": WRITING, "src_node_id": "a0", "dest_node_id": "p0"}]}
        wrong_kind = dict(tiny, targets=[{"node_type": "paper", "node_id": "p0"}],
                          graph={"nodes": [{"node_type": "paper", "node_id": "p0"}], "edges": []})
        wrong_kind_words = ["edge_type", "targets[0]"]
    too_many = dict(tiny, graph={"nodes": [{"node_type": "paper", "node_id": f"p{i}", "features": {}}
                                           for i in range(MAX_NODES + 1)], "edges": []})
    unknown = dict(tiny, graph={"nodes": [{"node_type": "robot", "node_id": "p0"}], "edges": []})
    deep = b'{"graph": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    bad_utf8 = json.dumps(tiny).encode().replace(b"p0", b"p\xff0")
    return [
        expected_error(f"{model}/garbage", b"\x00\xffnot json at all", 400, ["JSON format error"], uid=""),
        expected_error(f"{model}/invalid_utf8", bad_utf8, 400, ["not valid Unicode"], uid=""),
        expected_error(f"{model}/deep_nesting", deep, 400, ["JSON format error"], uid=""),
        expected_error(f"{model}/too_many_nodes", json.dumps(too_many).encode(), 413, ["max_nodes", str(MAX_NODES)]),
        expected_error(f"{model}/unknown_node_type", json.dumps(unknown).encode(), 411, ["robot"]),
        expected_error(f"{model}/other_target_kind", json.dumps(wrong_kind).encode(), 400, wrong_kind_words),
    ]


POOLS = {model: [fixture_request(c) for c in load_cases(model)] + hostile_requests(model) for model in MODELS}


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    store = tmp_path_factory.mktemp("store")
    for model in MODELS:
        mar_builder(model, store, flags=("--batch-size", "8", "--max-batch-delay", "5",
                                         "--max-nodes", str(MAX_NODES)))
    with serving(tmp_path_factory.mktemp("ts"), store, {m: f"{m}.mar" for m in MODELS}) as ts:
        yield ts


def run_streams(ts, plans: dict[str, list[LoadRequest]]) -> dict[str, Tally]:
    """Sends every model's plan to ``/predictions/MODEL``, all streams at once; returns when
    every request has its answer (or its connection error)."""
    tallies = {model: Tally() for model in plans}
    clients = max(1, CONCURRENCY // len(plans))
    with ThreadPoolExecutor(len(plans)) as pool:
        futures = [pool.submit(run_load, ts.inference_port, f"/predictions/{model}", plan, clients,
                               timeout_s=SLOW_CALL_S, tally=tallies[model])
                   for model, plan in plans.items()]
        for future in futures:
            future.result()
    return tallies


def soak(ts, requests: int) -> dict:
    """Runs the soak (``requests`` in all, split between the models) and returns its figures
    (asserting nothing)."""
    def describe() -> list:
        return [m for model in MODELS for m in ts.management("GET", f"/models/{model}").json()]

    per_model = requests // len(MODELS)
    # Warm-up: every pool item at least once, so allocator pools fill before RSS is measured.
    warm = run_streams(ts, {m: mixed_plan(pool, 3 * len(pool), seed=1) for m, pool in POOLS.items()})
    with WorkerWatch(describe) as watch:
        rss_start = watch.worker_rss()
        start = time.monotonic()
        tallies = run_streams(ts, {m: mixed_plan(pool, per_model, seed=2) for m, pool in POOLS.items()})
        elapsed = time.monotonic() - start
        rss_end = watch.worker_rss()
    series = [sum(s.values()) for _, s in watch.samples if s]
    latencies = sorted(ms for t in tallies.values() for ms in t.latencies_ms)
    return {
        "requests": per_model * len(MODELS), "concurrency": CONCURRENCY, "seconds": round(elapsed, 1),
        "req_per_s": round(per_model * len(MODELS) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else 0.0,
        "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 1) if latencies else 0.0,
        "outcomes": {m: dict(t.outcomes) for m, t in tallies.items()},
        "envelope_statuses": {m: dict(sorted(t.statuses.items())) for m, t in tallies.items()},
        "warmup_outcomes": {m: dict(t.outcomes) for m, t in warm.items()},
        "problems": [p for t in tallies.values() for p in t.samples],
        "worker_pids": sorted(watch.pids_seen), "pids_start": sorted(rss_start), "pids_end": sorted(rss_end),
        "rss_mb_start": round(sum(rss_start.values()) / 2**20, 1),
        "rss_mb_end": round(sum(rss_end.values()) / 2**20, 1),
        "rss_mb_max": round(max(series, default=0) / 2**20, 1),
        "rss_mb_mid": round(series[len(series) // 2] / 2**20, 1) if series else 0.0,
    }


def check(report: dict, requests: int) -> None:
    print("SOAK", json.dumps(report))
    per_model = requests // len(MODELS)
    for model in MODELS:
        # Every answer an envelope and right: no "wrong", "non_envelope" or "connection".
        assert report["outcomes"][model] == {"ok": per_model}, report
        assert report["warmup_outcomes"][model] == {"ok": 3 * len(POOLS[model])}, report
    # One worker per model throughout: the same pids before, during and after.
    assert len(report["pids_start"]) == len(MODELS), report
    assert report["pids_start"] == report["pids_end"] == report["worker_pids"], report
    growth = (report["rss_mb_end"] - report["rss_mb_start"]) * 2**20
    assert growth <= RSS_GROWTH_LIMIT * len(MODELS), report


def test_short_soak(server):
    check(soak(server, SHORT_REQUESTS), SHORT_REQUESTS)


@pytest.mark.soak
def test_long_soak(server):
    report = soak(server, LONG_REQUESTS)
    check(report, LONG_REQUESTS)
    # Flat in the second half too: no steady growth per request.
    assert (report["rss_mb_end"] - report["rss_mb_mid"]) * 2**20 <= RSS_GROWTH_LIMIT * len(MODELS) / 2, report
