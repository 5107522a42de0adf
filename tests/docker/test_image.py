"""The real SageMaker endpoint image, run as SageMaker runs it (opt-in: marker ``image``).

Run by ``bash scripts/test_image.sh`` (which starts a Docker engine and builds the image) or, for
an image already built, ``GS_IMAGE=gs-torchserve:image-test pytest -m image tests/docker/test_image.py``.

Twice ``docker run --network host IMAGE serve``: once with the rgcn_nc fixture's raw GraphStorm
artifacts mounted read-only at /opt/ml/model, once with a .mar built by gs-build-mar there (and
GS_EMF_METRICS=true). Each run: cold start (``docker start`` to the first ``/ping`` 200, with the
phases read from the container's log, and to the first answer), every fixture case through
``/invocations`` against target/ (and two with ``Accept`` asking for the Arrow response), the
server's user (not root), ``docker stop`` (exit status 0 well inside SageMaker's 30 s).
The image size and the figures go to ``$GS_IMAGE_SUMMARY``, whose last line reads
``image: <ok>/<total> cases ok, <size> MB, cold start <s> s`` (the raw-artifacts run's cold start).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from handler.contract.arrow_response import arrow_response_to_envelope
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE
from tests.compare import FixtureCase, artifacts_dir, assert_matches_target, load_cases
from tests.mar_builder.build_mar import build_mar

pytestmark = pytest.mark.image

IMAGE = os.environ.get("GS_IMAGE", "")
VARIANT = "rgcn_nc"
# SageMaker's container start-up health check waits this long at most for a /ping 200 (the
# ContainerStartupHealthCheckTimeoutInSeconds default and ceiling is 3600 s; the first /ping
# SageMaker sends needs an answer within its 2 s per-call limit, so /ping itself must be quick).
PING_DEADLINE_S = 600
STOP_GRACE_S = 30  # SageMaker's SIGTERM-to-SIGKILL interval


def _docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=check)


def _engine_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def _free_ports(count: int) -> list[int]:
    """Ports free on the host now (the container shares the host's network)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _readable(path: Path) -> Path:
    """Makes a folder tree readable by the container's uid 1000 (pytest's tmp folders are 0700)."""
    for p in [path, *path.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    for parent in path.parents:
        if parent == Path(parent.anchor):
            break
        parent.chmod(parent.stat().st_mode | 0o005)
    return path


class Container:
    """One ``docker run IMAGE serve`` with a model directory mounted at /opt/ml/model."""

    def __init__(self, name: str, model_dir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port, *others = _free_ports(5)
        self.env = {"SAGEMAKER_BIND_TO_PORT": str(self.port), "GS_MANAGEMENT_PORT": str(others[0]),
                    "GS_METRICS_PORT": str(others[1]), "GS_GRPC_INFERENCE_PORT": str(others[2]),
                    "GS_GRPC_MANAGEMENT_PORT": str(others[3]), **env}
        self.model_dir = model_dir
        self.started_at = 0.0
        self.cold_start_s: float | None = None
        self.create_s: float | None = None

    def run(self) -> None:
        """``docker run`` as create + start: the cold start counts from the start, because creating
        the container's file system is a full copy of the 6 GB image under the vfs storage driver
        used here (a minute or more), where SageMaker's overlay driver takes about a second."""
        _docker("rm", "-f", self.name, check=False)
        env_args = [arg for key, value in self.env.items() for arg in ("-e", f"{key}={value}")]
        created = time.time()
        _docker("create", "--network", "host", "--name", self.name, *env_args,
                "-v", f"{self.model_dir}:/opt/ml/model:ro", IMAGE, "serve", timeout=600)
        self.create_s = round(time.time() - created, 1)
        self.started_at = time.time()
        _docker("start", self.name)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ping(self) -> float:
        """Seconds from ``docker start`` to the first /ping 200."""
        while time.time() - self.started_at < PING_DEADLINE_S:
            try:
                with urllib.request.urlopen(self.url("/ping"), timeout=2) as resp:
                    if resp.status == 200:
                        self.cold_start_s = time.time() - self.started_at
                        return self.cold_start_s
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            state = _docker("inspect", "-f", "{{.State.Running}}", self.name).stdout.strip()
            assert state == "true", f"container exited before /ping 200:\n{self.logs()}"
            time.sleep(0.1)
        raise AssertionError(f"no /ping 200 within {PING_DEADLINE_S} s:\n{self.logs()}")

    def invoke(self, case: FixtureCase) -> tuple[int, bytes]:
        status, body, _ = self.invoke_typed(case)
        return status, body

    def invoke_typed(self, case: FixtureCase, accept: str | None = None) -> tuple[int, bytes, str]:
        """Status, body and response Content-Type of one case through /invocations."""
        headers = {"Content-Type": case.content_type, **({"Accept": accept} if accept else {})}
        request = urllib.request.Request(self.url("/invocations"), data=case.body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as resp:
                return resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as err:
            return err.code, err.read(), err.headers.get("Content-Type", "")

    def logs(self, timestamps: bool = False) -> str:
        proc = _docker("logs", *(["-t"] if timestamps else []), self.name, check=False)
        return proc.stdout + proc.stderr

    def phases(self) -> dict[str, float]:
        """Seconds from ``docker start`` to milestones of the container's log (docker's timestamps)."""
        marks = {"serve.py started": "gs-serve: ", "TorchServe starting": "gs-serve: starting TorchServe",
                 "frontend up": "Model server started"}
        found: dict[str, float] = {}
        for line in self.logs(timestamps=True).splitlines():
            stamp, _, text = line.partition(" ")
            for label, needle in marks.items():
                if label not in found and needle in text:
                    when = datetime.fromisoformat(stamp[:26].rstrip("Z")).timestamp()
                    # docker's timestamps are UTC
                    when += datetime.now().astimezone().utcoffset().total_seconds()
                    found[label] = round(when - self.started_at, 1)
        if self.cold_start_s is not None:
            found["first /ping 200"] = round(self.cold_start_s, 1)
        return found

    def remove(self) -> None:
        _docker("rm", "-f", self.name, check=False)


@pytest.fixture(scope="module")
def report() -> Iterator[dict]:
    """Figures of every run; written to $GS_IMAGE_SUMMARY at the end (the last line the verdict)."""
    if not IMAGE:
        pytest.skip("GS_IMAGE is not set (run bash scripts/test_image.sh)")
    if not _engine_ready():
        pytest.skip("no Docker engine (bash scripts/test_image.sh starts one)")
    if _docker("image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.skip(f"image {IMAGE} is not built (bash scripts/test_image.sh builds it)")
    size = int(_docker("image", "inspect", "-f", "{{.Size}}", IMAGE).stdout.strip())
    data: dict = {"size_mb": round(size / 1e6), "ok": 0, "total": 0, "runs": {}}
    yield data
    lines = [f"{run}: {json.dumps(figures)}" for run, figures in data["runs"].items()]
    cold = data["runs"].get("raw artifacts", {}).get("phases", {}).get("first /ping 200", "n/a")
    lines.append(f"image: {data['ok']}/{data['total']} cases ok, {data['size_mb']} MB, cold start {cold} s")
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    if os.environ.get("GS_IMAGE_SUMMARY"):
        Path(os.environ["GS_IMAGE_SUMMARY"]).write_text(text)


def _serve_and_check(container: Container, report: dict, run: str) -> Container:
    """Starts the container, checks /ping, every case, the user and the stop; records the figures."""
    cases = load_cases(VARIANT)
    figures: dict = {}
    report["runs"][run] = figures
    report["total"] += len(cases)
    try:
        container.run()
        container.wait_ping()
        figures["docker_create_s"] = container.create_s
        failed = []
        for idx, case in enumerate(cases):
            status, body = container.invoke(case)
            if idx == 0:  # TorchServe's /ping is 200 once workers run, before their model is loaded
                first_answer_s = round(time.time() - container.started_at, 1)
            try:
                assert status == 200, (case.id, status, body[:300])  # GraphStorm: 200, status in the body
                assert_matches_target(case, json.loads(body), body)
                report["ok"] += 1
            except AssertionError as err:
                failed.append(str(err)[:500])
        # SageMaker passes the client's Accept on: the Arrow response, read back, is the JSON one.
        for case in (next(c for c in cases if c.kind != "invalid"), next(c for c in cases if c.kind == "invalid")):
            _, json_body = container.invoke(case)
            status, body, content_type = container.invoke_typed(case, ARROW_STREAM_CONTENT_TYPE)
            try:
                assert status == 200 and content_type.startswith(ARROW_STREAM_CONTENT_TYPE), (case.id, content_type)
                assert arrow_response_to_envelope(body) == json.loads(json_body), case.id
            except AssertionError as err:
                failed.append(f"Accept arrow: {str(err)[:400]}")
        figures["phases"] = {**container.phases(), "first answer": first_answer_s}
        figures["cases_ok"] = f"{len(cases) - len(failed)}/{len(cases)}"
        uid = _docker("exec", container.name, "id", "-u").stdout.strip()
        figures["uid"] = uid
        started = time.time()
        _docker("stop", "-t", str(STOP_GRACE_S), container.name, timeout=STOP_GRACE_S + 30)
        figures["stop_s"] = round(time.time() - started, 1)
        state = json.loads(_docker("inspect", "-f", "{{json .State}}", container.name).stdout)
        figures["exit_code"] = state["ExitCode"]
        assert not failed, failed
        assert uid not in ("", "0"), "the server runs as root"
        assert state["ExitCode"] == 0 and figures["stop_s"] < STOP_GRACE_S, (state, container.logs()[-3000:])
        assert "received SIGTERM" in container.logs()
        return container
    except BaseException:
        print(container.logs()[-5000:])
        raise


def test_serves_raw_artifacts(report: dict) -> None:
    """GraphStorm's raw model files at /opt/ml/model (an artifacts tarball of gs-launch-endpoint)."""
    container = Container("gs-image-test-raw", artifacts_dir(VARIANT).resolve(), {})
    try:
        _serve_and_check(container, report, "raw artifacts")
    finally:
        container.remove()


def test_serves_a_mar_with_emf_metrics(report: dict, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A .mar built by gs-build-mar at /opt/ml/model; GS_EMF_METRICS=true puts EMF JSON lines on stdout."""
    store = tmp_path_factory.mktemp("mar")
    assert build_mar(store, VARIANT, model_name="gs-image-test") == 0
    container = Container("gs-image-test-mar", _readable(store), {"GS_EMF_METRICS": "true"})
    try:
        _serve_and_check(container, report, "mar")
        emf = [json.loads(line) for line in container.logs().splitlines() if line.startswith('{"_aws":')]
        assert emf, "no EMF line in the container's stdout"
        assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"]
    finally:
        container.remove()
