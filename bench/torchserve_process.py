"""A real `torchserve` process on free loopback ports, isolated per instance, for the bench and the tests.

Each instance has its own workdir holding TMPDIR/TEMP (pid file, worker sockets), logs, the
generated config.properties and the launcher's output (a file, never a pipe: the JVM inherits
it and a pipe nobody drains blocks it). The server runs with `--foreground` in a new session,
so `stop()` can end it *and* its Python workers by killing the process group.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
BASE_CONFIG = REPO / "serving_config" / "config.properties"
# The versioning recipe: model API on, token authorisation on (docs/serving.md, section 5).
VERSIONING_CONFIG = REPO / "serving_config" / "versioning.properties"
LOG_CONFIG = REPO / "serving_config" / "log4j2.xml"
TORCHSERVE = Path(sys.executable).parent / "torchserve"
# Client timeout of calls that wait for workers to start (synchronous register/scale) or for a
# long batch delay: generous, so a loaded machine slows a test down but never fails it.
SLOW_CALL_S = 600.0


@dataclass
class Response:
    """An HTTP response: status, headers (lower-case names) and raw body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 60.0) -> Response:
    """One HTTP/1.1 request to 127.0.0.1:``port``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


@dataclass
class TorchServeProcess:
    """One TorchServe instance.

    Attributes:
        workdir: private folder of this instance (tmp/, logs/, config.properties, launcher.log).
        model_store: folder of the .mar files.
        models: the `--models` startup list (NAME=FILE.mar), also what /invocations serves.
        base_config: the config.properties this instance's config is made from (ports and store
            replaced): the default local config, or `VERSIONING_CONFIG`.
        extra_config: further settings that replace or add to ``base_config``'s.
    """

    workdir: Path
    model_store: Path
    models: list[str]
    base_config: Path = BASE_CONFIG
    extra_config: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        (self.inference_port, self.management_port, self.metrics_port,
         self.grpc_inference_port, self.grpc_management_port) = free_ports(5)

    def _write_config(self) -> Path:
        """The local config.properties with this instance's ports and store."""
        overrides = {
            "inference_address": f"http://127.0.0.1:{self.inference_port}",
            "management_address": f"http://127.0.0.1:{self.management_port}",
            "metrics_address": f"http://127.0.0.1:{self.metrics_port}",
            "grpc_inference_port": str(self.grpc_inference_port),
            "grpc_management_port": str(self.grpc_management_port),
            "model_store": str(self.model_store),
            **self.extra_config,
        }
        lines = []
        for line in self.base_config.read_text().splitlines():
            key = line.split("=", 1)[0].strip()
            if not line.startswith("#") and key in overrides:
                continue
            lines.append(line)
        lines += [f"{k}={v}" for k, v in overrides.items()]
        path = self.workdir / "config.properties"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        """Launches the server (returns at once; see `wait_ready`)."""
        tmp = self.workdir / "tmp"
        logs = self.workdir / "logs"
        tmp.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp),
                   LOG_LOCATION=str(logs), METRICS_LOCATION=str(logs))
        env.pop("PYTHONPATH", None)  # workers must import the handler from the archive only
        cmd = [str(TORCHSERVE), "--start", "--foreground", "--ncs",
               "--ts-config", str(self._write_config()),
               "--model-store", str(self.model_store),
               "--log-config", str(LOG_CONFIG)]  # token auth as the config says
        if self.models:
            cmd += ["--models", *self.models]
        with open(self.workdir / "launcher.log", "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=self.workdir, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def stop(self) -> None:
        """Ends the server and its workers (the whole process group); idempotent."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # session leader: its pid is the group id
        for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and self._group_alive(pgid):
                time.sleep(0.2)
            if not self._group_alive(pgid):
                break
        self.proc = None

    def _group_alive(self, pgid: int) -> bool:
        """Whether a non-zombie process of group ``pgid`` remains (our exited child reaped)."""
        self.proc.poll()
        for proc in psutil.process_iter(["status"]):
            try:
                if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                    return True
            except (OSError, psutil.Error):
                continue
        return False

    def logs(self) -> str:
        """Launcher output and the server's logs, for failure messages."""
        parts = []
        for path in [self.workdir / "launcher.log", *sorted((self.workdir / "logs").glob("*.log"))]:
            if path.is_file():
                parts.append(f"==> {path.name} <==\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def keys(self) -> dict[str, str]:
        """The token authorisation keys ("management", "inference", "API") of this server.

        TorchServe writes them to ``key_file.json`` in its working directory (our workdir) at
        startup when token authorisation is on; empty while there is no such file.
        """
        try:
            written = json.loads((self.workdir / "key_file.json").read_text())
        except (OSError, ValueError):
            return {}
        return {name: entry["key"] for name, entry in written.items()}

    def _authorised(self, key: str, headers: dict[str, str] | None) -> dict[str, str]:
        """``headers`` plus the bearer token of ``key`` when token authorisation is on."""
        token = self.keys().get(key)
        return {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}

    # -- HTTP helpers (each sends the right key when token authorisation is on) ----------------
    def inference(self, method: str, path: str, body: bytes | None = None,
                  headers: dict[str, str] | None = None, timeout: float = 60.0) -> Response:
        return http_request(self.inference_port, method, path, body,
                            self._authorised("inference", headers), timeout)

    def management(self, method: str, path: str, body: bytes | None = None,
                   timeout: float = 60.0) -> Response:
        return http_request(self.management_port, method, path, body,
                            self._authorised("management", None), timeout)

    def metrics(self) -> str:
        return http_request(self.metrics_port, "GET", "/metrics").body.decode()

    def register(self, mar: str, workers: int = 1) -> Response:
        """Registers ``mar`` (a file in the model store) and waits for its workers."""
        # synchronous=true answers once the workers have loaded the model: minutes on a busy box.
        return self.management(
            "POST", f"/models?url={mar}&initial_workers={workers}&synchronous=true",
            timeout=SLOW_CALL_S)

    def ready_workers(self, name: str, version: str | None = None) -> int:
        """READY workers of model ``name`` (its default version, or ``version``)."""
        path = f"/models/{name}" + (f"/{version}" if version else "")
        try:
            resp = self.management("GET", path)
        except OSError:
            return 0
        if resp.status != 200:
            return 0
        return sum(w.get("status") == "READY" for m in resp.json() for w in m.get("workers", []))

    def wait_ready(self, name: str, version: str | None = None, workers: int = 1,
                   timeout_s: float = 180) -> None:
        """Blocks until ``name`` has ``workers`` READY workers; raises with the logs otherwise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"torchserve exited\n{self.logs()}")
            if self.ready_workers(name, version) >= workers:
                return
            time.sleep(0.3)
        raise TimeoutError(f"{name} not READY after {timeout_s}s\n{self.logs()}")


@contextmanager
def serving(workdir: Path, model_store: Path, models: dict[str, str],
            workers: dict[str, int] | None = None,
            base_config: Path = BASE_CONFIG) -> Iterator[TorchServeProcess]:
    """A started TorchServe whose startup models are READY; always stopped on exit.

    Args:
        workdir: private folder for this instance.
        model_store: folder of the .mar files.
        models: startup models, name -> .mar file name in ``model_store``.
        workers: READY workers to wait for per model (default 1 each).
        base_config: the server config (default: the local one; `VERSIONING_CONFIG` for the
            model API with token authorisation).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    ts = TorchServeProcess(workdir, model_store, [f"{n}={f}" for n, f in models.items()],
                           base_config=base_config)
    ts.start()
    try:
        for name in models:
            ts.wait_ready(name, workers=(workers or {}).get(name, 1))
        yield ts
    finally:
        ts.stop()


def prometheus_value(text: str, metric: str, **labels: str) -> float:
    """Sum of the samples of ``metric`` whose labels include ``labels`` (0.0 when none)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(metric + "{"):
            continue
        label_text, value = line[len(metric) + 1:].rsplit("}", 1)
        if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            total += float(value)
    return total
