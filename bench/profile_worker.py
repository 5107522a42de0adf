"""Where a real TorchServe worker's time goes: py-spy on the worker under load, batch 8 vs batch 1.

``python -m bench.profile_worker [--variant rgcn_nc --case v02_small --concurrency 16 --seconds 8]``

One TorchServe on loopback serves ``gs-build-mar`` archives of the fixture with batch size 1 and
8 (one worker each, one at a time). Each is loaded with ``wrk`` at the given concurrency while
``py-spy record --format raw`` samples its worker process; the script prints the throughput and
the share of samples per function (self and inclusive), per archive, and writes the collapsed
stacks to ``bench/results/pyspy_<name>.txt`` (``flamegraph.pl`` or speedscope read them).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.fixtures import FIXTURES_DIR
from bench.loadgen import run_load
from bench.serving import Setting, build_gs_mar, worker_pids
from bench.torchserve_process import TorchServeProcess

RESULTS = Path(__file__).with_name("results")
PY_SPY = Path(sys.executable).parent / "py-spy"


def frame_name(frame: str) -> str:
    """``function (path/file.py:line)`` -> ``file.py:function`` (lines dropped, so a function's
    samples add up)."""
    name, _, where = frame.partition(" (")
    file = where.split(":", 1)[0].rsplit("/", 1)[-1]
    return f"{file}:{name}" if file else name


def summarize(collapsed: str, top: int) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """Samples, top self-time and top inclusive functions of py-spy's raw (collapsed) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    return total, own.most_common(top), inclusive.most_common(top)


def profile(ts: TorchServeProcess, name: str, body_file: Path, concurrency: int, seconds: float,
            top: int) -> str:
    """Loads one registered model, samples its worker, returns the printed report."""
    (pid,) = worker_pids_of(ts, name)
    run_load(ts.inference_port, f"/predictions/{name}", body_file, 4, 2.0)  # warm-up
    out = RESULTS / f"pyspy_{name}.txt"
    spy = subprocess.Popen([str(PY_SPY), "record", "--pid", str(pid), "--format", "raw", "--nonblocking",
                            "--duration", f"{max(1, int(seconds) - 1)}", "--rate", "200", "-o", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        load = run_load(ts.inference_port, f"/predictions/{name}", body_file, concurrency, seconds)
    finally:
        spy.wait(timeout=60)
    total, own, inclusive = summarize(out.read_text() if out.is_file() else "", top)
    lines = [f"{name}: {load.rps:.0f} req/s at concurrency {concurrency}, p50 {load.p50_ms:.1f} ms, "
             f"p99 {load.p99_ms:.1f} ms, errors {load.errors}; {total} samples (worker pid {pid})"]
    if total:
        lines.append("  self:      " + "; ".join(f"{n} {100 * c / total:.0f}%" for n, c in own))
        lines.append("  inclusive: " + "; ".join(f"{n} {100 * c / total:.0f}%" for n, c in inclusive))
    return "\n".join(lines)


def worker_pids_of(ts: TorchServeProcess, name: str, timeout_s: float = 30.0) -> set[int]:
    """The worker pid(s) of the only registered model (waits for TorchServe to report it)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pids = worker_pids(ts)
        if pids:
            return pids
        time.sleep(0.3)
    raise RuntimeError(f"{name}: no worker process")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.profile_worker", description=__doc__.splitlines()[0])
    p.add_argument("--variant", default="rgcn_nc")
    p.add_argument("--case", default="v02_small")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    p.add_argument("--batch-delay-ms", type=int, default=5)
    p.add_argument("--top", type=int, default=14)
    args = p.parse_args(argv)
    if not PY_SPY.is_file() or shutil.which("wrk") is None:
        print("needs py-spy (the bench extra) and wrk", file=sys.stderr)
        return 2
    RESULTS.mkdir(exist_ok=True)
    body_file = FIXTURES_DIR / args.variant / "payloads" / f"{args.case}.json"
    reports = []
    with tempfile.TemporaryDirectory(prefix="gs-pyspy-") as tmp:
        store = Path(tmp) / "store"
        store.mkdir()
        for batch in args.batch_sizes:
            setting = Setting(batch, 1, args.batch_delay_ms if batch > 1 else 0)
            name = build_gs_mar(args.variant, setting, store)
            ts = TorchServeProcess(Path(tmp) / f"ts_{name}", store, [f"{name}={name}.mar"])
            (Path(tmp) / f"ts_{name}").mkdir()
            ts.start()
            try:
                ts.wait_ready(name)
                reports.append(profile(ts, name, body_file, args.concurrency, args.seconds, args.top))
                print(reports[-1], flush=True)
            finally:
                ts.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
