"""HTTP load on loopback: wrk when installed (scripts/bench.sh installs it), else Python threads.

Both keep connections alive and POST the same body at a fixed concurrency for a fixed time, and
report requests/s, p50/p99 latency and errors (non-2xx or socket errors).
"""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# wrk's Lua hooks: POST the file named by the first script argument; print a JSON summary.
_WRK_SCRIPT = r"""
local path = nil
function init(args)
  path = args[1]
  local f = assert(io.open(path, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass
class LoadResult:
    """One load point.

    Attributes:
        tool: ``wrk`` or ``python``.
        concurrency: open connections.
        requests: completed requests.
        seconds: measured duration.
        rps: requests per second.
        p50_ms / p99_ms: latency percentiles.
        errors: failed requests (non-2xx status or socket errors).
    """

    tool: str
    concurrency: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def to_dict(self) -> dict:
        return asdict(self)


def wrk_available() -> bool:
    """Whether the wrk binary is on PATH."""
    return shutil.which("wrk") is not None


def run_load(port: int, path: str, body_file: Path, concurrency: int, seconds: float,
             tool: str = "auto") -> LoadResult:
    """POSTs ``body_file`` to ``127.0.0.1:port/path`` at ``concurrency`` for ``seconds``.

    Args:
        port: inference port.
        path: request path, e.g. ``/predictions/NAME``.
        body_file: request body.
        concurrency: connections kept busy.
        seconds: duration.
        tool: ``wrk``, ``python`` or ``auto`` (wrk when installed).

    Returns:
        The load result.
    """
    if tool == "wrk" or (tool == "auto" and wrk_available()):
        return _run_wrk(port, path, body_file, concurrency, seconds)
    return _run_python(port, path, body_file.read_bytes(), concurrency, seconds)


def _run_wrk(port: int, path: str, body_file: Path, concurrency: int, seconds: float) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT)
    try:
        cmd = ["wrk", "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{seconds:g}s",
               "--timeout", "30s", "-s", script.name, f"http://127.0.0.1:{port}{path}", "--",
               str(body_file)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    finally:
        Path(script.name).unlink(missing_ok=True)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    data = json.loads(line[len("WRKJSON "):])
    secs = data["duration_us"] / 1e6
    return LoadResult("wrk", concurrency, data["requests"], secs, data["requests"] / secs,
                      data["p50_us"] / 1000, data["p99_us"] / 1000, data["errors"])


def _run_python(port: int, path: str, body: bytes, concurrency: int, seconds: float,
                max_requests: int | None = None) -> LoadResult:
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop_at = time.perf_counter() + seconds
    budget = [max_requests] if max_requests is not None else None
    lock = threading.Lock()

    def take() -> bool:
        if budget is None:
            return time.perf_counter() < stop_at
        with lock:
            budget[0] -= 1
            return budget[0] >= 0

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json"}
        while take():
            start = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = 200 <= resp.status < 300
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            latencies[i].append((time.perf_counter() - start) * 1000)
            errors[i] += not ok
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    begin = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - begin
    flat = sorted(x for lat in latencies for x in lat)
    p99 = flat[min(len(flat) - 1, round(0.99 * (len(flat) - 1)))] if flat else 0.0
    return LoadResult("python", concurrency, len(flat), secs, len(flat) / secs,
                      statistics.median(flat) if flat else 0.0, p99, sum(errors))


def send_requests(port: int, path: str, body: bytes, count: int, concurrency: int = 4) -> LoadResult:
    """Sends exactly ``count`` requests (Python client), e.g. for memory-growth checks."""
    return _run_python(port, path, body, concurrency, seconds=float("inf"), max_requests=count)
