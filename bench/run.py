"""The benchmark: ``python -m bench.run [--quick]`` (or ``bash scripts/bench.sh``).

Prints the tables and writes ``bench/results/<UTC time>.json`` (and ``latest.json``): in-process
latency per fixture payload with its stage breakdown, floor and GraphStorm 0.5.1's recorded
figure; then TorchServe end to end (GraphStorm handler vs no-op handler), worker memory and cold
start. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import psutil
import torch

from bench import report
from bench.inprocess import VALID_CASES, run_inprocess
from bench.loadgen import wrk_available
from bench.serving import Setting, run_serving
from handler.contract.settings import DEFAULT_HEAP_RETAIN_MB
from handler.serving.heap import retain_freed_heap

RESULTS = Path(__file__).with_name("results")
DEFAULT_VARIANTS = ("rgcn_nc", "hgt_nc", "rgat_nc", "sage_homo_nc", "rgcn_ec", "hgt_er", "rgcn_lp")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer runs and shorter load points (~2 min): a smoke run, not for figures")
    p.add_argument("--variants", nargs="+", default=list(DEFAULT_VARIANTS), help="fixtures to time in-process")
    p.add_argument("--cases", nargs="+", default=list(VALID_CASES), help="payloads of each fixture")
    p.add_argument("--runs", type=int, default=None, help="timed runs per payload (default 60; quick 20)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch.set_num_threads for in-process runs (default 1, as the TorchServe handler)")
    p.add_argument("--heap-retain-mb", type=int, default=DEFAULT_HEAP_RETAIN_MB,
                   help="MiB of freed C heap kept for the next request in in-process runs (handler option "
                        f"heap_retain_mb; default {DEFAULT_HEAP_RETAIN_MB}, as the TorchServe handler; "
                        "0: glibc's policy)")
    p.add_argument("--skip-inprocess", action="store_true")
    p.add_argument("--skip-serving", action="store_true")
    p.add_argument("--serve-variant", default="rgcn_nc", help="fixture served through TorchServe")
    p.add_argument("--serve-case", default="v02_small", help="payload every served request sends")
    p.add_argument("--seconds", type=float, default=None, help="per load point (default 5; quick 2)")
    p.add_argument("--batch-delay-ms", type=int, default=5, help="max_batch_delay of the batch-8 archives")
    p.add_argument("--memory-requests", type=int, default=None,
                   help="requests before the second worker RSS reading (default 10000; quick 1000)")
    p.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    return p.parse_args(argv)


def environment() -> dict:
    """What the figures depend on."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"python": platform.python_version(), "torch": torch.__version__, "cpu": cpu,
            "nproc": os.cpu_count(), "torch_num_threads": torch.get_num_threads(),
            "wrk": wrk_available(), "git_commit": commit}


class LoadMeter:
    """CPU used by OTHER processes while a section runs (0 = quiet machine, 1 = all cores busy)."""

    def __init__(self) -> None:
        self.start_cpu = psutil.cpu_times()
        self.start_own = self._own()
        self.start = time.perf_counter()
        self.load_start = os.getloadavg()

    @staticmethod
    def _own() -> float:
        me = psutil.Process()
        total = sum(me.cpu_times()[:4])
        for child in me.children(recursive=True):
            try:
                total += sum(child.cpu_times()[:2])
            except psutil.Error:
                pass
        return total

    def stop(self) -> dict:
        end_cpu = psutil.cpu_times()
        busy = lambda t: t.user + t.nice + t.system + t.irq + t.softirq + t.steal  # noqa: E731
        wall = time.perf_counter() - self.start
        others = busy(end_cpu) - busy(self.start_cpu) - (self._own() - self.start_own)
        return {"loadavg_start": self.load_start, "loadavg_end": os.getloadavg(),
                "other_processes_cpu_share": max(0.0, others) / (wall * (os.cpu_count() or 1)),
                "wall_s": wall}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = args.runs or (20 if args.quick else 60)
    seconds = args.seconds or (2.0 if args.quick else 5.0)
    memory_requests = args.memory_requests or (1000 if args.quick else 10000)
    torch.set_num_threads(args.torch_threads)
    heap_retained = retain_freed_heap(args.heap_retain_mb)
    results: dict = {"environment": {**environment(), "heap_retain_mb": args.heap_retain_mb if heap_retained else 0},
                     "quick": args.quick, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    out = []
    if not args.skip_inprocess:
        print(f"in-process: {len(args.variants)} models x {len(args.cases)} payloads, {runs} runs each",
              flush=True)
        meter = LoadMeter()
        cases = run_inprocess(args.variants, args.cases, runs, args.warmup)
        machine_load = meter.stop()
        quiet, quality = report.run_quality(cases, machine_load)
        results["inprocess"] = {"runs": runs, "warmup": args.warmup, "machine_load": machine_load,
                                "quiet": quiet, "cases": [asdict(c) for c in cases]}
        out.append("In-process predict (ms; stages are medians; floor = JSON parse + one forward)\n"
                   + report.inprocess_table(cases))
        out.append("Goals (issue 22), per payload\n" + report.goals_table(cases))
        out.append(report.goals_summary(cases))
        out.append(quality)
    if not args.skip_serving:
        settings = [Setting(1, 1, 0), Setting(8, 1, args.batch_delay_ms),
                    Setting(1, 2, 0), Setting(8, 2, args.batch_delay_ms)]
        print(f"TorchServe: {args.serve_variant}/{args.serve_case}, {len(settings)} settings x "
              f"(GraphStorm, no-op) x concurrency 1/4/16, {seconds:g} s each", flush=True)
        meter = LoadMeter()
        with tempfile.TemporaryDirectory(prefix="gs-bench-") as tmp:
            serving = run_serving(args.serve_variant, args.serve_case, settings, [1, 4, 16], seconds,
                                  min(seconds, 2.0), memory_requests, Path(tmp), args.loadgen)
        # The server and wrk are this run's own load here, so only the load averages mean much.
        serving["machine_load"] = {k: v for k, v in meter.stop().items() if k != "other_processes_cpu_share"}
        results["serving"] = serving
        mem = serving["memory"]
        out.append(f"TorchServe end to end ({serving['variant']}/{serving['case']}, "
                   f"{serving['body_bytes']} bytes per request; load generator "
                   f"{serving['points'][0]['tool']})\n" + report.serving_table(serving))
        out.extend(report.batching_summary(serving))
        out.append(f"worker RSS: {', '.join(f'{m:.0f}' for m in mem['after_warmup_mb'])} MiB after warm-up, "
                   f"{', '.join(f'{m:.0f}' for m in mem['after_requests_mb'])} MiB after "
                   f"{mem['requests']} more requests; cold start (torchserve start -> READY): "
                   f"{serving['cold_start_s']:.1f} s")
    print("\n\n".join(out))
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for name in (f"{stamp}{'-quick' if args.quick else ''}.json", "latest.json"):
        (RESULTS / name).write_text(json.dumps(results, indent=1))
    print(f"\nwrote {RESULTS / f'{stamp}.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
