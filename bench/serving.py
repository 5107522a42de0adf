"""End to end through a real TorchServe on loopback: throughput, latency, memory, cold start.

One TorchServe instance (bench/torchserve_process.py) serves, one at a time, a GraphStorm
model archive and a no-op handler archive for each (batch size, workers) setting; each is
loaded at concurrency 1, 4 and 16. The no-op figures are the server's own overhead, measured
in the same run. Cold start is TorchServe start to the GraphStorm model's worker READY.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil

from bench.fixtures import FIXTURES_DIR
from bench.loadgen import LoadResult, run_load, send_requests
from bench.torchserve_process import TorchServeProcess
from handler.contract.names import NODE_CLASSIFICATION, NODE_REGRESSION, TRAINING_CONFIG_FILE, TRANSFORM_FILE
from mar_builder import model_config
from mar_builder.archiver import run_archiver
from mar_builder.cli import main as gs_build_mar

NOOP_HANDLER = Path(__file__).with_name("noop_handler.py")


@dataclass(frozen=True)
class Setting:
    """TorchServe batching and worker settings of one archive."""

    batch_size: int
    workers: int
    delay_ms: int

    def name(self, kind: str) -> str:
        return f"{kind}_b{self.batch_size}_w{self.workers}"


def build_gs_mar(variant: str, setting: Setting, store: Path) -> str:
    """gs-build-mar of a fixture with ``setting``; returns the model name."""
    art = FIXTURES_DIR / variant / "artifacts"
    name = setting.name("gs")
    argv = [
        "--restore-model-path", str(art),
        "--model-yaml-config-file", str(art / TRAINING_CONFIG_FILE),
        "--graph-json-config-file", str(art / TRANSFORM_FILE),
        "--infer-task-type", NODE_REGRESSION if variant.endswith("_nr") else NODE_CLASSIFICATION,
        "--model-name", name, "--export-path", str(store),
        "--batch-size", str(setting.batch_size), "--max-batch-delay", str(setting.delay_ms),
        "--min-workers", str(setting.workers), "--max-workers", str(setting.workers),
    ]
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the archive path
        status = gs_build_mar(argv)
    if status != 0:
        raise RuntimeError(f"gs-build-mar failed: {argv}")
    return name


def build_noop_mar(setting: Setting, store: Path) -> str:
    """An archive of ``noop_handler.py`` with ``setting``; returns the model name."""
    name = setting.name("noop")
    with tempfile.TemporaryDirectory(prefix="gs-bench-noop-") as tmp:
        extra = Path(tmp) / "extra"
        extra.mkdir()
        config = model_config.write(
            model_config.ServingSettings(batch_size=setting.batch_size, max_batch_delay_ms=setting.delay_ms,
                                         min_workers=setting.workers, max_workers=setting.workers),
            Path(tmp) / "model-config.yaml")
        run_archiver(model_name=name, version="1.0", handler_file=NOOP_HANDLER, extra_files_dir=extra,
                     config_file=config, export_path=store)
    return name


def worker_pids(ts: TorchServeProcess) -> set[int]:
    """Pids of the server's Python model workers."""
    pids = set()
    for child in psutil.Process(ts.proc.pid).children(recursive=True):
        try:
            if any("model_service_worker" in part for part in child.cmdline()):
                pids.add(child.pid)
        except psutil.Error:
            continue
    return pids


def rss_mb(pids: set[int]) -> list[float]:
    """Resident memory (MiB) of each pid."""
    out = []
    for pid in sorted(pids):
        try:
            out.append(psutil.Process(pid).memory_info().rss / 2**20)
        except psutil.Error:
            continue
    return out


def _check_answer(ts: TorchServeProcess, name: str, body: bytes, kind: str) -> None:
    resp = ts.inference("POST", f"/predictions/{name}", body, {"Content-Type": "application/json"})
    if resp.status != 200 or (kind == "gs" and orjson.loads(resp.body).get("status_code") != 200):
        raise RuntimeError(f"{name}: unexpected answer {resp.status} {resp.body[:300]!r}")


def _unregister(ts: TorchServeProcess, name: str, pids: set[int]) -> None:
    ts.management("DELETE", f"/models/{name}?synchronous=true")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and pids & worker_pids(ts):
        time.sleep(0.2)


def run_serving(variant: str, case: str, settings: list[Setting], concurrencies: list[int],
                seconds: float, warmup_s: float, memory_requests: int, workdir: Path,
                tool: str = "auto", log: Callable[[str], None] = print) -> dict:
    """Runs every (handler, setting, concurrency) point; see the module docstring.

    Args:
        variant: fixture whose model is served.
        case: payload of that fixture every request sends.
        settings: batching/worker settings to compare.
        concurrencies: load levels.
        seconds: duration of each load point.
        warmup_s: load before measuring each archive.
        memory_requests: requests sent before the second RSS reading.
        workdir: scratch folder (model store, server files).
        tool: load generator (``auto``, ``wrk``, ``python``).
        log: progress printer.

    Returns:
        ``{"points": [...], "memory": {...}, "cold_start_s": float, ...}``.
    """
    body_file = FIXTURES_DIR / variant / "payloads" / f"{case}.json"
    body = body_file.read_bytes()
    store = workdir / "store"
    store.mkdir(parents=True, exist_ok=True)
    archives = []
    for setting in settings:
        archives.append(("gs", setting, build_gs_mar(variant, setting, store)))
        archives.append(("noop", setting, build_noop_mar(setting, store)))
    first = archives[0][2]
    # The bench registers its archives one after another: model API on for this loopback-only,
    # bench-lifetime server (the default local config has it off; docs/serving.md).
    ts = TorchServeProcess(workdir / "ts", store, [f"{first}={first}.mar"],
                           extra_config={"enable_model_api": "true"})
    (workdir / "ts").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    ts.start()
    points, memory = [], {}
    try:
        ts.wait_ready(first, workers=archives[0][1].workers)
        cold_start_s = time.perf_counter() - started
        log(f"  cold start (torchserve start -> {first} READY): {cold_start_s:.1f} s")
        for kind, setting, name in archives:
            before = worker_pids(ts)
            if name != first:
                resp = ts.register(f"{name}.mar", workers=setting.workers)
                if resp.status != 200:
                    raise RuntimeError(f"register {name}: {resp.status} {resp.body!r}")
                ts.wait_ready(name, workers=setting.workers)
            pids = worker_pids(ts) - before if name != first else worker_pids(ts)
            _check_answer(ts, name, body, kind)
            run_load(ts.inference_port, f"/predictions/{name}", body_file, 4, warmup_s, tool)
            if kind == "gs" and not memory:
                memory["after_warmup_mb"] = rss_mb(pids)
                sent = send_requests(ts.inference_port, f"/predictions/{name}", body, memory_requests, 16)
                memory["after_requests_mb"] = rss_mb(pids)
                memory["requests"] = sent.requests
                memory["errors"] = sent.errors
                memory["model"] = name
                log(f"  worker RSS {memory['after_warmup_mb']} -> {memory['after_requests_mb']} MiB "
                    f"after {sent.requests} requests")
            for conc in concurrencies:
                res: LoadResult = run_load(ts.inference_port, f"/predictions/{name}", body_file, conc,
                                           seconds, tool)
                points.append({"handler": kind, "batch_size": setting.batch_size,
                               "workers": setting.workers, "delay_ms": setting.delay_ms, **res.to_dict()})
                log(f"  {name} c={conc}: {res.rps:.0f} req/s p50 {res.p50_ms:.2f} ms "
                    f"p99 {res.p99_ms:.2f} ms errors {res.errors}")
            _unregister(ts, name, pids)
    finally:
        ts.stop()
    return {"variant": variant, "case": case, "body_bytes": len(body), "cold_start_s": cold_start_s,
            "memory": memory, "points": points}
