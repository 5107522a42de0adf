"""The image definition: hadolint and shellcheck clean, and built from the same scripts that
tests/docker/test_entrypoint.py runs on the host; the build/push scripts' flags (GraphStorm's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
BIN = Path(sys.executable).parent


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_hadolint_clean() -> None:
    proc = subprocess.run([str(BIN / "hadolint"), str(DOCKER / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_clean() -> None:
    scripts = sorted(str(p) for p in DOCKER.glob("*.sh"))
    proc = subprocess.run([str(BIN / "shellcheck"), *scripts], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_image_runs_the_tested_entrypoint() -> None:
    """The image starts docker/entrypoint.sh serve (as the host test does), with the files it needs."""
    ins = _instructions()
    assert ("ENTRYPOINT", json.dumps(["/opt/gs-torchserve/docker/entrypoint.sh"])) in ins
    assert ("CMD", json.dumps(["serve"])) in ins
    assert ("ARG", "DEVICE=cpu") in ins
    assert ("EXPOSE", "8080") in ins
    copies = [args.split()[0] for kind, args in ins if kind == "COPY"]
    for source in copies:
        assert (REPO / source).exists(), source
    assert "." in copies  # the project, as .dockerignore lists it
    # serve.py reads serving_config/sagemaker.properties and docker/log4j2.xml beside it.
    allowed = {line[1:].strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.startswith("!")}
    assert {"docker", "serving_config", "handler", "mar_builder", "sagemaker_deploy", "setup.py"} <= allowed
    runs = " ".join(args for kind, args in ins if kind == "RUN")
    assert "docker/install_runtime.sh" in runs
    env = " ".join(args for kind, args in ins if kind == "ENV")
    for setting in ("SM_MODEL_DIR=/opt/ml/model", "SAGEMAKER_BIND_TO_PORT=8080", "GS_BIND_HOST=0.0.0.0"):
        assert setting in env
    # The hub stays off for everything the image runs (language models travel in the model).
    assert "export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1" in (DOCKER / "entrypoint.sh").read_text()
    users = [args for kind, args in ins if kind == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")


def _fake_tools(tmp_path: Path) -> dict[str, str]:
    """docker and aws stand-ins that record their arguments (no engine or AWS account here)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("docker", "aws"):
        script = tools / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls"\n'
                          'case "$*" in *get-caller-identity*) echo 210987654321;; esac\n')
        script.chmod(0o755)
    return {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}


def _run(script: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(DOCKER / script), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_build_image_flags(tmp_path: Path) -> None:
    """GraphStorm's invocation builds docker/Dockerfile with the DEVICE build argument."""
    proc = _run("build_image.sh", "--environment", "sagemaker-endpoint", "--device", "cpu",
                env=_fake_tools(tmp_path))
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [f"docker build -f {REPO}/docker/Dockerfile --build-arg DEVICE=cpu "
                     f"-t gs-torchserve:sagemaker-endpoint-cpu {REPO}"]


def test_suffix_is_appended_as_graphstorm(tmp_path: Path) -> None:
    """GraphStorm's -s/--suffix is appended to <environment>-<device>; -t names the whole tag."""
    env = _fake_tools(tmp_path)
    proc = _run("build_image.sh", "-e", "sagemaker-endpoint", "-d", "cpu", "-s", "-v2", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "-t gs-torchserve:sagemaker-endpoint-cpu-v2 " in (tmp_path / "calls").read_text()
    (tmp_path / "calls").unlink()
    proc = _run("build_image.sh", "-e", "sagemaker-endpoint", "-d", "cpu", "-t", "v7", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "-t gs-torchserve:v7 " in (tmp_path / "calls").read_text()


def test_push_image_flags(tmp_path: Path) -> None:
    """Push logs in to ECR, creates the repository when missing, tags and pushes."""
    proc = _run("push_image.sh", "-e", "sagemaker-endpoint", "-d", "gpu", "--region", "eu-west-1",
                "--image-name", "gs-rt", "--tag", "v1", env=_fake_tools(tmp_path))
    assert proc.returncode == 0, proc.stderr
    remote = "210987654321.dkr.ecr.eu-west-1.amazonaws.com/gs-rt:v1"
    calls = (tmp_path / "calls").read_text()
    assert "aws sts get-caller-identity" in calls
    assert "docker login --username AWS --password-stdin 210987654321.dkr.ecr.eu-west-1.amazonaws.com" in calls
    assert f"docker tag gs-rt:v1 {remote}" in calls
    assert f"docker push {remote}" in calls
    assert f"Pushed {remote}" in proc.stdout


@pytest.mark.parametrize("script", ["build_image.sh", "push_image.sh"])
@pytest.mark.parametrize("args, message", [
    ([], "--environment is required"),
    (["-e", "local"], "--environment must be sagemaker-endpoint"),
    (["-e", "sagemaker-endpoint", "-d", "tpu"], "--device must be cpu or gpu"),
    (["-e", "sagemaker-endpoint", "--use-parmetis"], "unknown argument: --use-parmetis"),
    (["-e"], "-e needs a value"),
])
def test_bad_script_flags(script: str, args: list[str], message: str, tmp_path: Path) -> None:
    proc = _run(script, *args, env=_fake_tools(tmp_path))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "calls").exists()  # nothing was built or pushed


def test_push_rejects_bad_account(tmp_path: Path) -> None:
    proc = _run("push_image.sh", "-e", "sagemaker-endpoint", "-a", "12345", env=_fake_tools(tmp_path))
    assert proc.returncode == 2
    assert "12-digit" in proc.stderr
