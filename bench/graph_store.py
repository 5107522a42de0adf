"""Graph-store benchmark (issue 20): load time and extraction latency, printed.

Two graphs:

* ``fixture``: the ACM-like fixture graph (7.5k nodes, 69k edges; tables under
  ``tests/fixtures/graph_store/acm``) with the ``rgcn_nc`` model (2 layers, 6 relations);
* ``powerlaw``: a generated graph of N ``user`` nodes (16 float32 features each) and E
  ``follows`` edges, sources uniform, destinations drawn with probability proportional to
  1/rank (Zipf, exponent 1): with 1M nodes / 10M edges the top nodes have in-degrees of several
  100k (the printout lists them). Written to Parquet, loaded with ``gs-load-graph``'s loader.

For each graph: load seconds; then extraction (``PayloadBuilder.payload``: every query, the
sampling and the payload dict) p50 / p99 in ms of wall time, and the p50 of the process's CPU
time (on a shared machine the wall time includes waiting for a core), for 1 and 8 targets at fanouts ``full``,
``10,10`` and ``25,25``; targets are random nodes, and separately hub targets (the highest
in-degrees; the 8-target case holds 1 hub + 7 random nodes). ``full`` is measured on random
targets only (a hub's full neighbourhood is the whole hub list by definition), and skipped for
8 targets on the generated graph when a target's 2-hop neighbourhood exceeds --full-edge-cap.
Also the targets-only request in process (``RealtimePredictor``: expand + parse + build +
forward) on the fixture graph, with its stage times, and what its extraction costs from
``expand``'s hand-over to a built graph as columns (what ``expand`` hands ``parse``) against the
same extraction as the JSON document a client would send (issue 22: the columnar route).

    .venv/bin/python -m bench.graph_store                    # fixture + 1M/10M graph (~5 min)
    .venv/bin/python -m bench.graph_store --skip-powerlaw --torchserve   # fixture + TorchServe
    .venv/bin/python -m bench.graph_store --nodes 100000 --edges 1000000   # smaller
    bash scripts/bench.sh --graph-store [options]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.fixtures import FIXTURES_DIR as FIXTURES
from handler.contract.graph_schema import GraphSchema
from handler.contract.model_config import ModelConfig
from handler.contract.names import JSON_CONTENT_TYPE
from handler.graph_store.extract import ExtractionTooLargeError
from handler.graph_store.ladybug_store import open_ladybug
from handler.graph_store.loader import load_graph
from handler.graph_store.payload import PayloadBuilder
from handler.request.decode import DecodedRequest
from handler.request.request_uid import RequestUid

FANOUTS = ("full", "10,10", "25,25")


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50 / p99 / max of milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50": statistics.median(ordered), "p99": p99, "max": ordered[-1], "runs": len(ordered)}


def timed(func: Callable[[], Any]) -> float:
    start = time.perf_counter()
    func()
    return (time.perf_counter() - start) * 1000


def extraction_rows(builder: PayloadBuilder, ntype: str, random_ids: list[str], hubs: list[str],
                    runs: int, full_edge_cap: int) -> list[dict[str, Any]]:
    """p50/p99 per (target kind, target count, fanout)."""
    rng = random.Random(7)
    rows = []
    for count in (1, 8):
        for kind in ("random", "hub"):
            for fanout in FANOUTS:
                if kind == "hub" and fanout == "full":
                    continue
                samples, cpu, sizes, skipped = [], [], [], 0
                for run in range(runs + 3):
                    ids = rng.sample(random_ids, count)
                    if kind == "hub":
                        ids[0] = hubs[run % len(hubs)]
                    targets = [{"node_type": ntype, "node_id": i} for i in ids]
                    start, cpu_start = time.perf_counter(), time.process_time()
                    try:
                        if fanout == "full":
                            found = builder.extract(targets, fanout, seed=run, max_edges=full_edge_cap)
                            payload = {"graph": builder.graph(found)}
                        else:
                            payload = builder.payload(targets, fanout, seed=run)
                    except ExtractionTooLargeError:
                        skipped += 1
                        continue
                    elapsed = (time.perf_counter() - start) * 1000
                    if run >= 3:  # warm-up
                        samples.append(elapsed)
                        cpu.append((time.process_time() - cpu_start) * 1000)
                        sizes.append((len(payload["graph"]["nodes"]), len(payload["graph"]["edges"])))
                if not samples:
                    continue
                row = {"targets": count, "kind": kind, "fanout": fanout, **percentiles(samples),
                       "cpu_p50": statistics.median(cpu),
                       "nodes_p50": statistics.median(n for n, _ in sizes),
                       "edges_p50": statistics.median(e for _, e in sizes), "skipped_over_cap": skipped}
                rows.append(row)
                print(f"  {count} target(s) {kind:6s} fanout {fanout:5s}: p50 {row['p50']:7.2f} ms  "
                      f"p99 {row['p99']:7.2f} ms  max {row['max']:7.2f} ms  cpu p50 {row['cpu_p50']:6.2f} ms  "
                      f"(~{row['nodes_p50']:.0f} nodes, "
                      f"~{row['edges_p50']:.0f} edges{f', {skipped} over the cap' if skipped else ''})",
                      flush=True)
    return rows


def load_average() -> float:
    """The 1-minute load average (how busy the machine was)."""
    return os.getloadavg()[0]


def fixture_bench(work: Path, runs: int) -> dict[str, Any]:
    """The ACM-like fixture graph with the rgcn_nc model."""
    art = FIXTURES / "rgcn_nc" / "artifacts"
    schema = GraphSchema.from_file(art / "data_transform_new.json")
    load_s = timed(lambda: load_graph(schema, FIXTURES / "graph_store" / "acm", work / "fixture")) / 1000
    print(f"fixture graph: load {load_s:.2f} s", flush=True)
    runner = open_ladybug(work / "fixture")
    builder = PayloadBuilder.from_model_dir(runner, art)
    papers = [f"p{i}" for i in range(5000)]
    hubs = ["p2509"] + [f"p{i}" for i in range(10)]
    rows = extraction_rows(builder, "paper", papers, hubs, runs, full_edge_cap=500_000)
    runner.close()
    from handler import RealtimePredictor

    predictor = RealtimePredictor.from_artifacts(art, graph_store=str(work / "fixture"))
    e2e: list[float] = []
    stages: dict[str, list[float]] = {}
    for run in range(runs + 3):
        body = json.dumps({"version": "gs-realtime-v0.1", "gml_task": "node_classification", "seed": run,
                           "targets": [{"node_type": "paper", "node_id": papers[run * 37 % 5000]}]}).encode()
        start = time.perf_counter()
        outcome = predictor.answer([(body, JSON_CONTENT_TYPE)])[0]
        elapsed = (time.perf_counter() - start) * 1000
        if outcome.status_code != 200:
            raise RuntimeError(f"targets-only request: {outcome.body[:300]!r}")
        if run >= 3:
            e2e.append(elapsed)
            for stage, ms in outcome.timings_ms.items():
                stages.setdefault(stage, []).append(ms)
    request = {**percentiles(e2e), "stages_p50": {stage: statistics.median(ms) for stage, ms in stages.items()}}
    print(f"  targets-only request in process (1 target, model fanout 10,10): p50 {request['p50']:.2f} ms "
          f"p99 {request['p99']:.2f} ms; stage p50s: "
          + ", ".join(f"{stage} {ms:.2f}" for stage, ms in request["stages_p50"].items()), flush=True)
    routes = route_rows(predictor, papers, runs)
    predictor.expander.close()  # type: ignore[union-attr]
    return {"load_s": load_s, "extraction": rows, "request_in_process": request, "columns_vs_document": routes}


def route_rows(predictor: Any, papers: list[str], runs: int) -> list[dict[str, Any]]:
    """What a targets-only request's extraction costs from ``expand``'s hand-over to a built graph,
    as columns (``PayloadBuilder.columns``, what ``expand`` does) and as the JSON document a client
    would send (``PayloadBuilder.graph``): the same extraction, the two routes interleaved, ms of
    (hand-over + parse + build), fastest and median of ``runs``."""
    builder = predictor.expander.builder
    rows = []
    for fanout, count in (("10,10", 1), ("10,10", 8), ("25,25", 8), ("full", 1)):
        samples: dict[str, list[tuple[float, float, float]]] = {"columns": [], "document": []}
        for run in range(runs + 3):
            doc = {"version": "gs-realtime-v0.1", "gml_task": "node_classification",
                   "targets": [{"node_type": "paper", "node_id": papers[(run * 37 + 11 * k) % 5000]}
                               for k in range(count)]}
            found = builder.extract(doc["targets"], fanout, seed=run)
            for route in (("columns", "document") if run % 2 else ("document", "columns")):
                start = time.perf_counter()
                if route == "columns":
                    decoded = DecodedRequest(RequestUid("bench"), None, builder.columns(found, {
                        k: v for k, v in doc.items() if k != "targets"}, doc["targets"]))
                else:
                    decoded = DecodedRequest(RequestUid("bench"), {**doc, "graph": builder.graph(found)})
                handed = time.perf_counter()
                parsed = predictor.parse(decoded)
                parse_end = time.perf_counter()
                predictor.build(parsed)
                end = time.perf_counter()
                if run >= 3:
                    samples[route].append(((handed - start) * 1000, (parse_end - handed) * 1000,
                                           (end - parse_end) * 1000))
        row: dict[str, Any] = {"fanout": fanout, "targets": count, "nodes": len(found.nodes), "edges": len(found.edges)}
        for route, parts in samples.items():
            totals = [sum(p) for p in parts]
            row[route] = {"min": min(totals), "p50": statistics.median(totals),
                          **{f"{stage}_p50": statistics.median(p[i] for p in parts)
                             for i, stage in enumerate(("hand_over", "parse", "build"))}}
        row["ratio_min"] = row["document"]["min"] / row["columns"]["min"]
        row["ratio_p50"] = row["document"]["p50"] / row["columns"]["p50"]
        rows.append(row)
        print(f"  columns vs document, {count} target(s) fanout {fanout:5s} (~{row['nodes']} nodes, "
              f"~{row['edges']} edges): hand-over+parse+build fastest {row['columns']['min']:.2f} vs "
              f"{row['document']['min']:.2f} ms ({row['ratio_min']:.2f}x), p50 {row['columns']['p50']:.2f} vs "
              f"{row['document']['p50']:.2f} ms ({row['ratio_p50']:.2f}x); p50 hand-over/parse/build "
              f"{row['columns']['hand_over_p50']:.2f}/{row['columns']['parse_p50']:.2f}/"
              f"{row['columns']['build_p50']:.2f} vs {row['document']['hand_over_p50']:.2f}/"
              f"{row['document']['parse_p50']:.2f}/{row['document']['build_p50']:.2f}", flush=True)
    return rows


def torchserve_bench(work: Path, runs: int) -> dict[str, Any]:
    """A targets-only request end to end through a real TorchServe (loopback, 1 worker, batch 1):
    the fixture model archived with its store embedded; sequential requests, 1 target each, the
    model's fanout (10,10), a new seed per request; beside it the same model answering a graph
    request of similar size (the fixture's v03_medium_sampled payload) on the same server."""
    import contextlib
    import io

    from bench.torchserve_process import serving
    from mar_builder.cli import main as gs_build_mar

    art = FIXTURES / "rgcn_nc" / "artifacts"
    model_store = work / "mars"
    model_store.mkdir()
    argv = ["--restore-model-path", str(art),
            "--model-yaml-config-file", str(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"),
            "--graph-json-config-file", str(art / "data_transform_new.json"),
            "--infer-task-type", "node_classification", "--model-name", "gs", "--export-path", str(model_store),
            "--batch-size", "1", "--graph-store", str(work / "fixture"), "--embed-graph-store"]
    with contextlib.redirect_stdout(io.StringIO()):
        if gs_build_mar(argv) != 0:
            raise RuntimeError("gs-build-mar failed")
    graph_body = (FIXTURES / "rgcn_nc" / "payloads" / "v03_medium_sampled.json").read_bytes()
    out: dict[str, Any] = {}
    with serving(work / "ts", model_store, {"gs": "gs.mar"}) as ts:
        for kind in ("targets_only", "graph_v03"):
            samples = []
            for run in range(runs + 10):
                body = graph_body if kind == "graph_v03" else json.dumps(
                    {"version": "gs-realtime-v0.1", "gml_task": "node_classification", "seed": run,
                     "targets": [{"node_type": "paper", "node_id": f"p{run * 37 % 5000}"}]}).encode()
                start = time.perf_counter()
                resp = ts.inference("POST", "/predictions/gs", body, {"Content-Type": "application/json"})
                elapsed = (time.perf_counter() - start) * 1000
                if resp.json()["status_code"] != 200:
                    raise RuntimeError(f"{kind}: {resp.body[:300]!r}")
                if run >= 10:
                    samples.append(elapsed)
            out[kind] = percentiles(samples)
            print(f"  TorchServe {kind:12s}: p50 {out[kind]['p50']:.2f} ms  p99 {out[kind]['p99']:.2f} ms",
                  flush=True)
    return out


def generate(folder: Path, num_nodes: int, num_edges: int, dim: int, seed: int) -> list[str]:
    """Writes users.parquet and follows.parquet; returns the ids by falling in-degree (top 20)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = pa.array([f"u{i}" for i in rng.permutation(num_nodes)])  # hubs anywhere in id order
    feats = rng.standard_normal((num_nodes, dim), dtype=np.float32)
    vec = pa.FixedSizeListArray.from_arrays(pa.array(feats.reshape(-1)), dim)
    pq.write_table(pa.table({"uid": ids, "feat": vec}), folder / "users.parquet")
    weights = 1.0 / np.arange(1, num_nodes + 1)
    dst = rng.choice(num_nodes, size=num_edges, p=weights / weights.sum())
    src = rng.integers(0, num_nodes, size=num_edges)
    pq.write_table(pa.table({"src": ids.take(pa.array(src)), "dst": ids.take(pa.array(dst))}),
                   folder / "follows.parquet")
    return [ids[i].as_py() for i in range(20)]


POWERLAW_CONFIG = {
    "version": "gconstruct-runtime-v0.1",
    "nodes": [{"node_type": "user", "node_id_col": "uid", "format": {"name": "parquet"},
               "files": ["users.parquet"], "features": [{"feature_col": "feat", "feature_name": "feat"}]}],
    "edges": [{"relation": ["user", "follows", "user"], "source_id_col": "src", "dest_id_col": "dst",
               "format": {"name": "parquet"}, "files": ["follows.parquet"]}],
}


def powerlaw_bench(work: Path, num_nodes: int, num_edges: int, runs: int, full_edge_cap: int) -> dict[str, Any]:
    """The generated power-law graph."""
    start = time.perf_counter()
    top = generate(work / "tables", num_nodes, num_edges, 16, seed=1)
    print(f"power-law graph: {num_nodes} nodes, {num_edges} edges generated in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    schema = GraphSchema.from_dict(POWERLAW_CONFIG)
    report = load_graph(schema, work / "tables", work / "powerlaw", progress=lambda line: print("  " + line))
    print(f"  load: {report.seconds:.1f} s; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB",
          flush=True)
    config = ModelConfig.from_dict({"gsf": {
        "basic": {"model_encoder_type": "rgcn"},
        "gnn": {"num_layers": 2, "hidden_size": 16, "fanout": "10,10", "node_feat_name": ["user:feat"]},
        "node_classification": {"target_ntype": "user", "num_classes": 2}}})
    runner = open_ladybug(work / "powerlaw", timeout_ms=60_000)
    builder = PayloadBuilder(runner, schema, config)
    degrees = runner.run("UNWIND $ids AS id MATCH (n:`user` {`~id`: id}) RETURN n.`~id` AS id, "
                         "n.`gs_in_deg_0` AS deg", {"ids": top})
    hubs = sorted(degrees, key=lambda r: -r["deg"])
    big = [h["id"] for h in hubs if h["deg"] >= 100_000] or [hubs[0]["id"]]
    print(f"  top in-degrees: {[h['deg'] for h in hubs[:8]]}; {len(big)} hub(s) >= 100k used as hub targets",
          flush=True)
    rng = random.Random(3)
    random_ids = [f"u{rng.randrange(num_nodes)}" for _ in range(5000)]
    rows = extraction_rows(builder, "user", random_ids, big, runs, full_edge_cap)
    runner.close()
    store_mb = sum(p.stat().st_size for p in (work / "powerlaw").rglob("*") if p.is_file()) / 1e6
    return {"nodes": num_nodes, "edges": num_edges, "load_s": report.seconds, "store_mb": store_mb,
            "top_in_degrees": [h["deg"] for h in hubs[:8]], "extraction": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.graph_store", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=100, help="timed extractions per row")
    parser.add_argument("--full-edge-cap", type=int, default=200_000,
                        help="skip a full-fanout extraction reaching more edges than this")
    parser.add_argument("--skip-fixture", action="store_true")
    parser.add_argument("--skip-powerlaw", action="store_true")
    parser.add_argument("--torchserve", action="store_true",
                        help="also a targets-only request end to end through TorchServe (fixture graph)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/graph_store.json"))
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="gs-bench-store-"))
    results: dict[str, Any] = {}
    try:
        if not args.skip_fixture:
            results["fixture"] = fixture_bench(work, args.runs)
            if args.torchserve:
                results["torchserve"] = torchserve_bench(work, args.runs)
        if not args.skip_powerlaw:
            results["powerlaw"] = powerlaw_bench(work, args.nodes, args.edges, args.runs, args.full_edge_cap)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results["load_average_at_end"] = load_average()
    print(f"1-minute load average at the end: {results['load_average_at_end']:.1f} (on {os.cpu_count()} cores)")
    args.out.write_text(json.dumps(results, indent=1))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
