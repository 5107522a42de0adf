"""In-process cost per request of a batch against a request alone (issue 22 item 3, "batching that pays").

``RealtimePredictor.answer`` over ``batch`` copies of one fixture payload and over one copy,
interleaved round after round in one process (one intra-op thread, as a TorchServe worker):
per request, the fastest call of all rounds and the median of the rounds' medians, the ratio
(batch 1 / batch N per request: what batching gains in the handler), the stage medians per
request (a batched stage's time divided by the batch size) and the per-request floor no batch
can share: the JSON parse, the ``request_uid`` hash and the free of the parsed document.

    python -m bench.batching [--variant rgcn_nc] [--case v02_small] [--batch 8]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

import orjson
import torch

from bench.fixtures import FIXTURES_DIR
from handler import RealtimePredictor
from handler.contract.envelope import request_uid
from handler.contract.names import JSON_CONTENT_TYPE
from handler.serving.predictor import RawRequest

BATCHED_STAGES = ("transform", "forward")


def per_request(predictor: RealtimePredictor, body: bytes, size: int, runs: int,
                warmup: int) -> tuple[list[float], dict[str, float]]:
    """Milliseconds per request of ``runs`` calls over ``size`` copies of ``body``, and the
    median per request of each stage."""
    requests = [RawRequest(body, JSON_CONTENT_TYPE)] * size
    for _ in range(warmup):
        predictor.answer(requests)
    samples, stages = [], {}
    for _ in range(runs):
        start = time.perf_counter()
        outcomes = predictor.answer(requests)
        samples.append((time.perf_counter() - start) * 1000 / size)
        for outcome in outcomes:
            for stage, ms in outcome.timings_ms.items():
                stages.setdefault(stage, []).append(ms / size if stage in BATCHED_STAGES else ms)
    return samples, {stage: statistics.median(ms) for stage, ms in stages.items()}


def floor_us(body: bytes, runs: int) -> dict[str, float]:
    """Fastest microseconds of what each request costs whatever the batch: ``orjson.loads``,
    ``request_uid`` and the free of the parsed document (the collector off, as in ``answer``)."""
    parse, uid, free = [], [], []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            document = orjson.loads(body)
            t1 = time.perf_counter()
            request_uid(body)
            t2 = time.perf_counter()
            del document
            t3 = time.perf_counter()
            parse.append(t1 - t0)
            uid.append(t2 - t1)
            free.append(t3 - t2)
    finally:
        if enabled:
            gc.enable()
    return {"json": min(parse) * 1e6, "request_uid": min(uid) * 1e6, "free": min(free) * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.batching", description=__doc__.split("\n")[0])
    parser.add_argument("--variant", default="rgcn_nc")
    parser.add_argument("--case", default="v02_small")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    predictor = RealtimePredictor.from_artifacts(FIXTURES_DIR / args.variant / "artifacts")
    body = (FIXTURES_DIR / args.variant / "payloads" / f"{args.case}.json").read_bytes()
    fastest: dict[int, list[float]] = {1: [], args.batch: []}
    medians: dict[int, list[float]] = {1: [], args.batch: []}
    stages: dict[int, dict[str, float]] = {}
    for _ in range(args.rounds):
        for size in (1, args.batch):
            samples, stages[size] = per_request(predictor, body, size, args.runs, warmup=20)
            fastest[size].append(min(samples))
            medians[size].append(statistics.median(samples))
    print(f"{args.variant}/{args.case}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for size in (1, args.batch):
        shown = ", ".join(f"{stage} {ms:.3f}" for stage, ms in stages[size].items())
        print(f"batch {size}: per request fastest {min(fastest[size]):.3f} ms, median "
              f"{statistics.median(medians[size]):.3f} ms; stages per request: {shown}")
    print(f"batch 1 / batch {args.batch} per request: fastest {min(fastest[1]) / min(fastest[args.batch]):.2f}x, "
          f"median {statistics.median(medians[1]) / statistics.median(medians[args.batch]):.2f}x")
    floor = floor_us(body, args.runs * 5)
    print("per-request floor (us, fastest): " + ", ".join(f"{k} {v:.1f}" for k, v in floor.items()))


if __name__ == "__main__":
    main()
