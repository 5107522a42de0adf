"""`docker/entrypoint.sh serve` run on the host as SageMaker runs the image (no Docker engine here).

SM_MODEL_DIR holds (a) a `.mar` built by gs-build-mar or (b) GraphStorm's raw artifacts as its
own model tarball has them (model.bin + YAML + JSON + code/). The server listens on a free
loopback port; /ping and /invocations (with SageMaker's headers) must answer the fixture's target
responses, the SAGEMAKER_TS_* settings must reach TorchServe, and SIGTERM must stop TorchServe and
every worker.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.compare import artifacts_dir, assert_matches_target, load_cases
from tests.serving.torchserve_process import free_ports, http_request

pytestmark = pytest.mark.torchserve

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
VARIANT = "rgcn_nc"
SETTINGS = {"SAGEMAKER_TS_BATCH_SIZE": "4", "SAGEMAKER_TS_MAX_BATCH_DELAY": "7",
            "SAGEMAKER_TS_MIN_WORKERS": "1", "SAGEMAKER_TS_MAX_WORKERS": "2",
            "SAGEMAKER_TS_RESPONSE_TIMEOUT": "45"}


@dataclass
class Served:
    """A running entrypoint: its process, ports, model name and output file."""

    proc: subprocess.Popen
    port: int
    management_port: int
    model_name: str
    output: Path

    def log(self) -> str:
        return self.output.read_text(errors="replace")[-6000:]


def _build_mar(model_dir: Path, name: str, tmp: Path) -> None:
    """gs-build-mar of the fixture into the model directory, as gs-launch-endpoint packs it."""
    art = artifacts_dir(VARIANT)
    cmd = [str(Path(sys.executable).parent / "gs-build-mar"), "--restore-model-path", str(art),
           "--model-yaml-config-file", str(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"),
           "--graph-json-config-file", str(art / "data_transform_new.json"),
           "--infer-task-type", "node_classification", "--model-name", name,
           "--export-path", str(model_dir)]
    subprocess.run(cmd, env={**os.environ, "TMPDIR": str(tmp)}, check=True, capture_output=True)


def _raw_artifacts(model_dir: Path) -> None:
    """GraphStorm's model tarball layout: the three artifacts at the root, its entry point in code/."""
    shutil.copytree(artifacts_dir(VARIANT), model_dir, dirs_exist_ok=True)
    (model_dir / "code").mkdir()
    (model_dir / "code" / "node_prediction_entry.py").write_text("# GraphStorm's entry point\n")


def _wait_ready(served: Served, timeout_s: float = 240) -> None:
    """Until /ping is 200 and the model has a READY worker; fails with the output otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if served.proc.poll() is not None:
            pytest.fail(f"entrypoint exited with {served.proc.returncode}:\n{served.log()}")
        try:
            ping = http_request(served.port, "GET", "/ping", timeout=2)
            models = http_request(served.management_port, "GET", f"/models/{served.model_name}", timeout=2)
            if ping.status == 200 and models.status == 200 and any(
                    w["status"] == "READY" for m in models.json() for w in m["workers"]):
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"not ready after {timeout_s}s:\n{served.log()}")


def _stop(proc: subprocess.Popen) -> None:
    """Test cleanup: SIGTERM, then SIGKILL the whole group if anything is left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@pytest.fixture(scope="module", params=["mar", "raw"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The entrypoint serving the fixture model from a .mar or from raw GraphStorm artifacts."""
    base = tmp_path_factory.mktemp(f"sagemaker-{request.param}")
    model_dir, tmp, logs = base / "opt-ml-model", base / "tmp", base / "logs"
    for d in (model_dir, tmp, logs):
        d.mkdir()
    if request.param == "mar":
        name = "gs-rgcn-nc"
        _build_mar(model_dir, name, tmp)
    else:
        name = "model"  # the entrypoint's default name for raw artifacts
        _raw_artifacts(model_dir)
    port, mgmt, metrics, grpc_i, grpc_m = free_ports(5)
    env = {**os.environ, **SETTINGS, "SM_MODEL_DIR": str(model_dir), "SAGEMAKER_BIND_TO_PORT": str(port),
           "GS_BIND_HOST": "127.0.0.1", "GS_MANAGEMENT_PORT": str(mgmt), "GS_METRICS_PORT": str(metrics),
           "GS_GRPC_INFERENCE_PORT": str(grpc_i), "GS_GRPC_MANAGEMENT_PORT": str(grpc_m),
           "GS_PYTHON": sys.executable, "TMPDIR": str(tmp), "TEMP": str(tmp), "LOG_LOCATION": str(logs)}
    output = base / "entrypoint.log"
    with open(output, "wb") as out:  # a file, not a pipe: the JVM inherits it
        proc = subprocess.Popen([str(ENTRYPOINT), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    served = Served(proc, port, mgmt, name, output)
    try:
        _wait_ready(served)
        yield served
    finally:
        _stop(proc)


def test_ping(served: Served) -> None:
    """SageMaker's health check answers 200."""
    assert http_request(served.port, "GET", "/ping").status == 200


@pytest.mark.parametrize("case", load_cases(VARIANT), ids=lambda c: c.name)
def test_invocations_match_target(served: Served, case) -> None:
    """POST /invocations as SageMaker sends it returns the fixture's target envelope."""
    response = http_request(served.port, "POST", "/invocations", body=case.body,
                            headers={"Content-Type": case.content_type, "Accept": "application/json"})
    assert response.status == 200, response.body[:500]
    assert_matches_target(case, response.json(), response.body)


def test_sagemaker_settings_reach_torchserve(served: Served) -> None:
    """SAGEMAKER_TS_* batching, worker and timeout settings are the model's live settings."""
    [model] = http_request(served.management_port, "GET", f"/models/{served.model_name}").json()
    assert model["batchSize"] == 4
    assert model["maxBatchDelay"] == 7
    assert model["minWorkers"] == 1
    assert model["maxWorkers"] == 2
    assert model["responseTimeout"] == 45


def test_bodies_up_to_the_sagemaker_limit_reach_the_handler(served: Served) -> None:
    """A body of exactly 6 MiB (SageMaker's InvokeEndpoint limit, sagemaker.properties' and the
    handler's default) gets the handler's envelope (here a 400: not JSON), not TorchServe's bare 413."""
    body = b"x" * (6 * 1024 * 1024)
    response = http_request(served.port, "POST", "/invocations", body=body,
                            headers={"Content-Type": "application/json"}, timeout=120)
    assert response.status == 200, response.body[:200]
    assert response.json()["status_code"] == 400


def test_sigterm_stops_torchserve_and_workers(served: Served) -> None:
    """SIGTERM (what SageMaker sends) ends the entrypoint, TorchServe and every worker, in time."""
    descendants = psutil.Process(served.proc.pid).children(recursive=True)
    commands = [" ".join(p.cmdline()) for p in descendants]
    assert any("org.pytorch.serve.ModelServer" in c for c in commands), commands
    assert any("model_service_worker" in c for c in commands), commands
    started = time.monotonic()
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=30) == 0, served.log()
    assert time.monotonic() - started < 30  # SageMaker sends SIGKILL 30 s after SIGTERM
    time.sleep(0.5)
    left = []
    for p in descendants:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                left.append((p.pid, p.name(), p.cmdline()[:3]))
        except psutil.NoSuchProcess:
            continue
    assert not left, left


def test_empty_model_dir_fails_fast(tmp_path: Path) -> None:
    """No .mar and no model.bin: exit 2 with the reason, without starting TorchServe."""
    env = {**os.environ, "SM_MODEL_DIR": str(tmp_path), "GS_PYTHON": sys.executable, "TMPDIR": str(tmp_path)}
    proc = subprocess.run([str(ENTRYPOINT), "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "neither a .mar nor GraphStorm artifacts" in proc.stdout
