"""The deploy tools alone in a fresh Python 3.9 environment (opt-in: marker ``py39``).

    DGLBACKEND=pytorch .venv/bin/python -m pytest -m py39 tests/sagemaker_deploy/test_py39_install.py

A new venv of Python 3.9 gets ``pip install <project>`` (boto3 and pyyaml only, from PyPI), then
runs ``gs-launch-endpoint --help`` and a launch against this session's moto server (reached over
loopback; moto itself is not installed there, so the environment holds only the deploy tools).

Python 3.9 comes from ``$GS_PY39`` (a python3.9 executable), else ``python3.9`` on PATH, else
(as root) a Debian bullseye root file system at ``$GS_PY39_ROOT`` (default
/var/tmp/gs-py39-root), used with chroot; made once with:

    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \\
        bullseye /var/tmp/gs-py39-root http://deb.debian.org/debian
    cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" /var/tmp/gs-py39-root/etc/ssl/certs/ca-certificates.crt
    cp /etc/resolv.conf /var/tmp/gs-py39-root/etc/resolv.conf

Without any of them the test is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from tests.sagemaker_deploy.moto_env import FIXTURES, IMAGE_URI, REGION, ROLE_ARN

pytestmark = pytest.mark.py39

REPO = Path(__file__).resolve().parents[2]
CHROOT_PYTHON = "/usr/bin/python3.9"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


@dataclass(frozen=True)
class Python39:
    """A Python 3.9 to run: directly, or inside a chroot (``root``; paths are then the chroot's)."""

    python: str
    root: Path | None = None

    def host_path(self, path: str) -> Path:
        """Where a path of this Python's file system is on the host."""
        return self.root / path.lstrip("/") if self.root else Path(path)

    def run(self, args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
        cmd = [shutil.which("chroot") or "/usr/sbin/chroot", str(self.root), *args] if self.root else args
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _is_python39(py: Python39) -> bool:
    """Whether the candidate runs and is 3.9 (a pyenv shim without that version does not run)."""
    try:
        proc = py.run([py.python, "--version"], {"PATH": "/usr/bin:/bin"}, timeout=30)
    except OSError:
        return False
    return proc.returncode == 0 and proc.stdout.startswith("Python 3.9")


def _find_python39() -> Python39 | None:
    candidates = []
    if os.environ.get("GS_PY39"):
        candidates.append(Python39(os.environ["GS_PY39"]))
    if shutil.which("python3.9"):
        candidates.append(Python39(shutil.which("python3.9")))
    root = Path(os.environ.get("GS_PY39_ROOT", "/var/tmp/gs-py39-root"))
    if os.geteuid() == 0 and (root / CHROOT_PYTHON.lstrip("/")).is_file() and shutil.which("chroot"):
        candidates.append(Python39(CHROOT_PYTHON, root))
    return next((py for py in candidates if _is_python39(py)), None)


@pytest.fixture(scope="module")
def py39() -> Python39:
    found = _find_python39()
    if found is None:
        pytest.skip("no Python 3.9 (GS_PY39, python3.9 on PATH, or a chroot at GS_PY39_ROOT)")
    return found


def _base_env(py: Python39) -> dict[str, str]:
    """PATH, the proxy settings and the CA bundle (inside a chroot: its own copy of the bundle)."""
    keep = ("PATH", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
            "PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT", "PIP_DISABLE_PIP_VERSION_CHECK")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin" if py.root else env.get("PATH", "/usr/bin:/bin")
    ca = CA_BUNDLE if py.root else os.environ.get("PIP_CERT", CA_BUNDLE)
    env.update(PIP_CERT=ca, SSL_CERT_FILE=ca, REQUESTS_CA_BUNDLE=ca, AWS_CA_BUNDLE=ca, HOME="/tmp")
    return env


def test_deploy_tools_install_and_launch_on_python39(py39: Python39, aws_env: dict[str, str],
                                                     bucket: str) -> None:
    work = f"/tmp/gs-py39-{uuid.uuid4().hex[:8]}"
    host_work = py39.host_path(work)
    host_work.mkdir(parents=True)
    try:
        src = host_work / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for package in ("sagemaker_deploy", "handler", "mar_builder"):
            shutil.copytree(REPO / package, src / package, ignore=ignore)
        shutil.copy2(REPO / "setup.py", src / "setup.py")
        shutil.copytree(FIXTURES / "rgcn_nc" / "artifacts", host_work / "art")
        env = _base_env(py39)

        venv = f"{work}/venv"
        proc = py39.run([py39.python, "-m", "venv", venv], env)
        assert proc.returncode == 0, proc.stderr
        proc = py39.run([f"{venv}/bin/pip", "install", "-q", f"{work}/src"], env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        freeze = py39.run([f"{venv}/bin/pip", "freeze"], env).stdout.lower()
        for serving in ("torch", "dgl", "torchserve", "transformers", "moto"):
            assert f"\n{serving}==" not in f"\n{freeze}", f"{serving} installed: {freeze}"

        proc = py39.run([f"{venv}/bin/gs-launch-endpoint", "--help"], env)
        assert proc.returncode == 0, proc.stderr
        assert "--restore-model-path" in proc.stdout and "--lm-model" in proc.stdout

        aws = {**aws_env, "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
        art = f"{work}/art"
        proc = py39.run([
            f"{venv}/bin/gs-launch-endpoint", "--image-uri", IMAGE_URI, "--role", ROLE_ARN,
            "--region", REGION, "--instance-type", "ml.c5.xlarge", "--restore-model-path", art,
            "--model-yaml-config-file", f"{art}/GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml",
            "--graph-json-config-file", f"{art}/data_transform_new.json",
            "--upload-tarfile-s3", f"s3://{bucket}/py39", "--infer-task-type", "node_classification",
            "--model-name", "gs-py39", "--poll-interval", "0.05",
        ], {**env, **aws})
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "GraphStorm artifacts" in proc.stdout  # no serving stack there: raw artifacts packed

        sm = boto3.client("sagemaker")
        [endpoint] = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]
                      if e["EndpointName"].startswith("gs-py39-Endpoint-")]
        assert sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
        proc = py39.run([f"{venv}/bin/gs-delete-endpoint", "--endpoint-name", endpoint, "--region", REGION,
                         "--delete-model-artifacts"], {**env, **aws})
        assert proc.returncode == 0, proc.stdout + proc.stderr
    finally:
        shutil.rmtree(host_work, ignore_errors=True)
