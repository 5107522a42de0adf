"""In-process latency of ``RealtimePredictor.predict`` per fixture payload, by stage, with its floor.

Three measurements per payload, each ``runs`` times after ``warmup`` calls:

* ``total``: ``envelope.dumps(predictor.predict(body))``, the whole request path (GraphStorm's
  recorded figure, ``transform_fn``, also returns the serialized response);
* ``stages``: the stage timings ``RealtimePredictor.answer`` itself records (decode, parse,
  build, forward, envelope), the same ones the TorchServe handler reports;
* ``floor``: ``orjson.loads(body)`` plus one ``model.predict`` on the already-built graph,
  i.e. what no implementation of this request path can avoid (each timed call gets the graph
  afresh, so its index plans are computed as every request's are: a plan remembered from the
  previous call on the same graph object would leave out work no request can skip);
* ``arrow``: the same request as our Arrow content type (the body made from the JSON payload by
  ``payload_to_arrow``), the whole request path as ``total``.

Goals (issue 22): within ``FLOOR_TARGET`` of the floor; at least ``SPEEDUP_TARGET`` times
GraphStorm's recorded median up to ``LARGE_NODES`` nodes and ``LARGE_SPEEDUP_TARGET`` above; the
Arrow path below the JSON floor above ``ARROW_NODES`` nodes.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.fixtures import FIXTURES_DIR
from handler import RealtimePredictor
from handler.contract import envelope
from handler.contract.arrow_payload import ArrowConversionError, payload_to_arrow
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE
from handler.serving.predictor import STAGES, disjoint_union

VALID_CASES = ("v01_tiny", "v02_small", "v03_medium_sampled", "v04_medium_full",
               "v05_multi8_sampled", "v06_large_full")
SPEEDUP_TARGET = 10.0
LARGE_NODES = 700
LARGE_SPEEDUP_TARGET = 5.0
FLOOR_TARGET = 1.5
ARROW_NODES = 300


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """min / median / p99 / mean of a list of milliseconds."""
    ordered = sorted(samples_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"min": ordered[0], "median": statistics.median(ordered), "p99": p99,
            "mean": statistics.fmean(ordered), "runs": len(ordered)}


def time_calls(func: Callable[[], Any], runs: int, warmup: int) -> list[float]:
    """Wall milliseconds of ``runs`` calls of ``func`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        func()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


@dataclass
class CaseResult:
    """Figures of one payload.

    Attributes:
        variant / case: fixture and payload.
        num_nodes / num_edges / body_bytes: payload size.
        total: summary of the whole request path (ms).
        stages: stage -> summary (ms).
        floor: ``{"json_parse", "forward", "sum"}`` medians (ms).
        graphstorm_median_ms: GraphStorm 0.5.1's recorded median for the payload.
        arrow: summary of the whole request path with the Arrow body (ms); None when the
            payload has no Arrow form.
        arrow_body_bytes: the Arrow body's size.
    """

    variant: str
    case: str
    num_nodes: int
    num_edges: int
    body_bytes: int
    total: dict[str, float]
    stages: dict[str, dict[str, float]]
    floor: dict[str, float]
    graphstorm_median_ms: float | None
    arrow: dict[str, float] | None = None
    arrow_body_bytes: int | None = None
    checks: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        median = self.total["median"]
        if self.graphstorm_median_ms:
            speedup = self.graphstorm_median_ms / median
            self.checks["speedup_vs_graphstorm"] = speedup
            self.checks["speedup_target"] = self.speedup_target
            self.checks["speedup_target_met"] = speedup >= self.speedup_target
        vs_floor = median / self.floor["sum"]
        self.checks["ratio_to_floor"] = vs_floor
        self.checks["floor_target_met"] = vs_floor <= FLOOR_TARGET
        if self.arrow is not None:
            self.checks["arrow_to_floor"] = self.arrow["median"] / self.floor["sum"]
            if self.num_nodes > ARROW_NODES:
                self.checks["arrow_below_floor_met"] = self.arrow["median"] < self.floor["sum"]

    @property
    def speedup_target(self) -> float:
        """The speed-up over GraphStorm this payload must reach."""
        return SPEEDUP_TARGET if self.num_nodes <= LARGE_NODES else LARGE_SPEEDUP_TARGET


def graphstorm_medians(variant: str) -> dict[str, float]:
    """case -> GraphStorm's recorded median ms (``timings.json`` of the fixture)."""
    path = FIXTURES_DIR / variant / "timings.json"
    if not path.is_file():
        return {}
    return {c["case"]: c["median_ms"] for c in json.loads(path.read_text())["cases"]}


def bench_case(predictor: RealtimePredictor, variant: str, case: str, runs: int, warmup: int,
               gs_medians: dict[str, float]) -> CaseResult:
    """Measures one payload (see the module docstring)."""
    body = (FIXTURES_DIR / variant / "payloads" / f"{case}.json").read_bytes()
    request = [(body, JSON_CONTENT_TYPE)]
    total = time_calls(lambda: envelope.dumps(predictor.predict(body)), runs, warmup)
    stage_samples: dict[str, list[float]] = {s: [] for s in STAGES}
    for _ in range(warmup):
        predictor.answer(request)
    for _ in range(runs):
        (outcome,) = predictor.answer(request)
        if outcome.status_code != 200:
            raise AssertionError(f"{variant}/{case}: answered {outcome.status_code}")
        for stage in STAGES:
            stage_samples[stage].append(outcome.timings_ms[stage])

    graph = predictor.build(predictor.parse(predictor.decode(body, JSON_CONTENT_TYPE)))
    parse = time_calls(lambda: orjson.loads(body), runs, warmup)
    forward = time_calls(lambda: predictor.run_model(disjoint_union([graph])), runs, warmup)
    floor = {"json_parse": statistics.median(parse), "forward": statistics.median(forward)}
    floor["sum"] = floor["json_parse"] + floor["forward"]
    arrow, arrow_body = None, None
    try:
        arrow_body = payload_to_arrow(orjson.loads(body))
    except ArrowConversionError:
        pass
    if arrow_body is not None:
        arrow_request = [(arrow_body, ARROW_STREAM_CONTENT_TYPE)]
        (outcome,) = predictor.answer(arrow_request)
        if outcome.status_code != 200:
            raise AssertionError(f"{variant}/{case} as Arrow: answered {outcome.status_code}")
        arrow = summarize(time_calls(lambda: predictor.answer(arrow_request)[0].body, runs, warmup))
    return CaseResult(
        variant=variant, case=case, num_nodes=graph.num_nodes, num_edges=graph.num_edges,
        body_bytes=len(body), total=summarize(total),
        stages={s: summarize(v) for s, v in stage_samples.items()},
        floor=floor, graphstorm_median_ms=gs_medians.get(case),
        arrow=arrow, arrow_body_bytes=None if arrow_body is None else len(arrow_body),
    )


def run_inprocess(variants: list[str], cases: list[str], runs: int, warmup: int,
                  log: Callable[[str], None] = print) -> list[CaseResult]:
    """Every (variant, case) pair, one predictor per variant."""
    results = []
    for variant in variants:
        lm_root = FIXTURES_DIR / variant / "lm"  # text fixtures ship their language model
        lm_models = {p.name: p for p in lm_root.iterdir()} if lm_root.is_dir() else None
        predictor = RealtimePredictor.from_artifacts(FIXTURES_DIR / variant / "artifacts", lm_models=lm_models)
        gs = graphstorm_medians(variant)
        for case in cases:
            result = bench_case(predictor, variant, case, runs, warmup, gs)
            log(f"  {variant}/{case}: median {result.total['median']:.3f} ms")
            results.append(result)
    return results
