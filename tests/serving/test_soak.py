"""Soak: many requests at concurrency 16 against a real TorchServe on loopback.

The mix is every rgcn_nc fixture case (valid ones checked against ``target/``, invalid ones by
their target rule) plus hostile requests (garbage bytes, invalid UTF-8, deep nesting, a graph
over the node limit, an unknown node type). Passing means 0 wrong answers, 0 responses that are
not an envelope, 0 worker deaths and flat worker RSS. The short run is in the default suite;
the long one (10,000 requests, figures in docs/reliability.md) is::

    .venv/bin/python -m pytest -m soak tests/serving/test_soak.py -s

(``GS_SOAK_REQUESTS`` changes its size.) Each run prints its figures as one JSON line.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.compare import load_cases
from tests.serving.load import WorkerWatch, expected_error, fixture_request, mixed_plan, run_load
from tests.serving.torchserve_process import SLOW_CALL_S, serving

pytestmark = pytest.mark.torchserve

MODEL = "rgcn_nc"
MAX_NODES = 5000  # above every fixture payload (v06_large_full: 2,920 nodes)
CONCURRENCY = 16
SHORT_REQUESTS = 800
LONG_REQUESTS = int(os.environ.get("GS_SOAK_REQUESTS", "10000"))
# Worker RSS may grow while allocator pools fill; beyond this after warm-up it is a leak.
RSS_GROWTH_LIMIT = 48 * 2**20


def hostile_requests() -> list:
    tiny = {"version": "gs-realtime-v0.1", "gml_task": "node_classification",
            "targets": [{"node_type": "paper", "node_id": "p0"}]}
    too_many = dict(tiny, graph={"nodes": [{"node_type": "paper", "node_id": f"p{i}", "features": {}}
                                           for i in range(MAX_NODES + 1)], "edges": []})
    unknown = dict(tiny, graph={"nodes": [{"node_type": "robot", "node_id": "p0"}], "edges": []})
    deep = b'{"graph": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    bad_utf8 = json.dumps(tiny).encode().replace(b"p0", b"p\xff0")
    return [
        expected_error("garbage", b"\x00\xffnot json at all", 400, ["JSON format error"], uid=""),
        expected_error("invalid_utf8", bad_utf8, 400, ["not valid Unicode"], uid=""),
        expected_error("deep_nesting", deep, 400, ["JSON format error"], uid=""),
        expected_error("too_many_nodes", json.dumps(too_many).encode(), 413, ["max_nodes", str(MAX_NODES)]),
        expected_error("unknown_node_type", json.dumps(unknown).encode(), 411, ["robot"]),
    ]


POOL = [fixture_request(c) for c in load_cases(MODEL)] + hostile_requests()


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    store = tmp_path_factory.mktemp("store")
    mar_builder(MODEL, store, flags=("--batch-size", "8", "--max-batch-delay", "5",
                                     "--max-nodes", str(MAX_NODES)))
    with serving(tmp_path_factory.mktemp("ts"), store, {MODEL: f"{MODEL}.mar"}) as ts:
        yield ts


def soak(ts, requests: int) -> dict:
    """Runs the soak and returns its figures (asserting nothing)."""
    describe = lambda: ts.management("GET", f"/models/{MODEL}").json()  # noqa: E731
    path = f"/predictions/{MODEL}"
    # Client timeout: generous, so a loaded machine makes the soak slower, never failed.
    warm = run_load(ts.inference_port, path, mixed_plan(POOL, 3 * len(POOL), seed=1), CONCURRENCY,
                    timeout_s=SLOW_CALL_S)
    with WorkerWatch(describe) as watch:
        rss_start = watch.worker_rss()
        start = time.monotonic()
        tally = run_load(ts.inference_port, path, mixed_plan(POOL, requests, seed=2), CONCURRENCY,
                         timeout_s=SLOW_CALL_S)
        elapsed = time.monotonic() - start
        rss_end = watch.worker_rss()
    series = [sum(s.values()) for _, s in watch.samples if s]
    return {
        "requests": requests, "concurrency": CONCURRENCY, "seconds": round(elapsed, 1),
        "req_per_s": round(requests / elapsed, 1),
        "p50_ms": round(tally.percentile(0.5), 1), "p99_ms": round(tally.percentile(0.99), 1),
        "outcomes": dict(tally.outcomes), "envelope_statuses": dict(sorted(tally.statuses.items())),
        "warmup_outcomes": dict(warm.outcomes), "problems": tally.samples,
        "worker_pids": sorted(watch.pids_seen), "pids_start": sorted(rss_start), "pids_end": sorted(rss_end),
        "rss_mb_start": round(sum(rss_start.values()) / 2**20, 1),
        "rss_mb_end": round(sum(rss_end.values()) / 2**20, 1),
        "rss_mb_max": round(max(series, default=0) / 2**20, 1),
        "rss_mb_mid": round(series[len(series) // 2] / 2**20, 1) if series else 0.0,
    }


def check(report: dict, requests: int) -> None:
    print("SOAK", json.dumps(report))
    assert report["outcomes"].get("ok", 0) == requests, report
    assert report["warmup_outcomes"] == {"ok": 3 * len(POOL)}, report
    # One worker throughout: the same pid before, during and after.
    assert report["pids_start"] == report["pids_end"] == report["worker_pids"], report
    growth = (report["rss_mb_end"] - report["rss_mb_start"]) * 2**20
    assert growth <= RSS_GROWTH_LIMIT, report


def test_short_soak(server):
    check(soak(server, SHORT_REQUESTS), SHORT_REQUESTS)


@pytest.mark.soak
def test_long_soak(server):
    report = soak(server, LONG_REQUESTS)
    check(report, LONG_REQUESTS)
    # Flat in the second half too: no steady growth per request.
    assert (report["rss_mb_end"] - report["rss_mb_mid"]) * 2**20 <= RSS_GROWTH_LIMIT / 2, report
