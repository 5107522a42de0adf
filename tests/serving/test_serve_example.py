"""The README's serve command: scripts/serve_example.sh, its printed curl call, stop_example.sh."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import psutil
import pytest

from tests.serving.torchserve_process import REPO, free_ports

pytestmark = pytest.mark.torchserve


def test_serve_example_prints_a_working_curl_call_and_stops(tmp_path):
    ports = free_ports(5)
    env = dict(os.environ, GS_SERVE_DIR=str(tmp_path / "serve"),
               **{f"GS_{name}_PORT": str(port) for name, port in zip(
                   ("INFERENCE", "MANAGEMENT", "METRICS", "GRPC_INFERENCE", "GRPC_MANAGEMENT"), ports, strict=True)})
    env.pop("PYTHONPATH", None)
    pid_file = tmp_path / "serve" / "tmp" / ".model_server.pid"
    try:
        started = subprocess.run(["bash", "scripts/serve_example.sh"], cwd=REPO, env=env,
                                 capture_output=True, text=True, timeout=300)
        assert started.returncode == 0, started.stderr
        pid = int(pid_file.read_text())
        command = re.search(r"^\s*(curl -s -X POST .*?\\\n.*)$", started.stdout, re.M).group(1)
        assert f"127.0.0.1:{ports[0]}/predictions/acm_rgcn" in command
        if shutil.which("curl"):
            answer = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, timeout=60)
            assert answer.returncode == 0, answer.stderr
            got = json.loads(answer.stdout)
            want = json.loads((REPO / "examples/acm_rgcn/responses/tiny.json").read_text())
            assert got["status_code"] == 200
            assert got["request_uid"] == want["request_uid"]
            assert [r["node_id"] for r in got["data"]["results"]] == ["p4724"]
    finally:
        stopped = subprocess.run(["bash", "scripts/stop_example.sh"], cwd=REPO, env=env,
                                 capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
