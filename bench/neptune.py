"""Neptune path cost: ``python -m bench.neptune [--runs N]``.

Builds the fixture graph's embedded store (``tests/fixtures/graph_store/acm``, model ``rgcn_nc``),
exports it with ``gs-load-graph --neptune-csv``'s writer and serves that CSV from the loopback
fake Neptune server in its own process (``tests/handler/graph_store/neptune_server.py``, run as a
program: the bench imports nothing from tests/). Then times the same payload builds through the
embedded store and through real boto3 clients (``neptune-db+http``, ``neptune-graph+http``):
wall time per request (p50 / p99), this process's CPU per request (signing, JSON encoding and
parsing, boto3; the server's work is in the other process), round trips per request, and one
trivial query's round trip. Figures in docs/graph_store.md ("Amazon Neptune", "Cost of the Neptune path").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from handler.contract.graph_schema import GraphSchema
from handler.graph_store.layout import META_KEY, META_TABLE, quote
from handler.graph_store.loader import load_graph
from handler.graph_store.neptune_csv import export_store
from handler.graph_store.payload import PayloadBuilder, dumps
from handler.graph_store.store_uri import open_store

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "rgcn_nc"
TABLES = ROOT / "tests" / "fixtures" / "graph_store" / "acm"
CASES = ("v01_tiny", "v02_small", "v05_multi8_sampled", "v04_medium_full")
# Fake credentials: botocore signs every request (SigV4) as it would against AWS.
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "AKIDBENCH", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _time(call: Callable[[], Any], runs: int) -> tuple[list[float], list[float]]:
    """Wall and this-process CPU milliseconds of each run (after two warm-up calls)."""
    call()
    call()
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.neptune", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per case and store (default 30)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    args = parser.parse_args(argv)
    os.environ.update(FAKE_AWS)
    with tempfile.TemporaryDirectory(prefix="bench-neptune-") as tmp:
        schema = GraphSchema.from_file(FIXTURE / "artifacts" / "data_transform_new.json")
        load_graph(schema, TABLES, Path(tmp) / "store")
        export_store(Path(tmp) / "store", Path(tmp) / "csv")
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.handler.graph_store.neptune_server", "--csv", str(Path(tmp) / "csv")],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            uris = {"embedded": str(Path(tmp) / "store"),
                    "neptune-db": f"neptune-db+http://127.0.0.1:{port}",
                    "neptune-graph": f"neptune-graph+http://127.0.0.1:{port}/g-bench"}
            rows = _measure(uris, args.runs)
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=30)
    print(json.dumps(rows, indent=1) if args.json else _table(rows))
    return 0


def _measure(uris: dict[str, str], runs: int) -> list[dict[str, Any]]:
    rows = []
    runners = {name: open_store(uri) for name, uri in uris.items()}
    builders = {name: PayloadBuilder.from_model_dir(r, FIXTURE / "artifacts") for name, r in runners.items()}
    try:
        for case in CASES:
            targets = json.loads((FIXTURE / "payloads" / f"{case}.json").read_text())["targets"]
            for fanout in (None, "full"):
                want = dumps(builders["embedded"].payload(targets, fanout, seed=1))
                for name, builder in builders.items():
                    assert dumps(builder.payload(targets, fanout, seed=1)) == want, (name, case)
                    before = getattr(runners[name], "round_trips", None)
                    wall, cpu = _time(lambda b=builder, t=targets, f=fanout: b.payload(t, f, seed=1), runs)
                    after = getattr(runners[name], "round_trips", None)
                    trips = None if before is None else (after - before) / (runs + 2)
                    rows.append({"case": case, "fanout": fanout or "model", "store": name, "bytes": len(want),
                                 "p50_ms": statistics.median(wall), "p99_ms": _percentile(wall, 0.99),
                                 "cpu_ms": statistics.median(cpu), "round_trips": trips})
        for name, runner in runners.items():
            key = quote(runner.dialect.key_property)
            text = f"MATCH (m:{quote(META_TABLE)} {{{key}: $key}}) RETURN m.`json` AS json"
            wall, cpu = _time(lambda r=runner, t=text: r.run(t, {"key": META_KEY}), runs * 5)
            rows.append({"case": "one key lookup", "fanout": "-", "store": name, "bytes": 0,
                         "p50_ms": statistics.median(wall), "p99_ms": _percentile(wall, 0.99),
                         "cpu_ms": statistics.median(cpu), "round_trips": 1.0})
    finally:
        for runner in runners.values():
            runner.close()
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    lines = ["| case | fanout | store | payload bytes | p50 ms | p99 ms | client CPU ms | round trips |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        trips = "-" if r["round_trips"] is None else f"{r['round_trips']:.0f}"
        lines.append(f"| {r['case']} | {r['fanout']} | {r['store']} | {r['bytes']} | {r['p50_ms']:.1f} | "
                     f"{r['p99_ms']:.1f} | {r['cpu_ms']:.1f} | {trips} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
