"""``gs-build-mar`` and ``gs-predict --mar`` over a fixture, as the graph-store archive tests call them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mar_builder import cli as build_cli
from tests.compare import FixtureCase, artifacts_dir, result_key
from tests.handler.serving.targets_only import targets_only

REPO = Path(__file__).resolve().parents[2]


def build_mar(export_path: Path, variant: str, *flags: str, model_name: str = "m") -> int:
    """Runs gs-build-mar for ``variant`` (node classification); its exit code."""
    art = artifacts_dir(variant)
    return build_cli.main([
        "--restore-model-path", str(art),
        "--model-yaml-config-file", str(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"),
        "--graph-json-config-file", str(art / "data_transform_new.json"),
        "--infer-task-type", "node_classification", "--model-name", model_name, "--export-path", str(export_path),
        *flags,
    ])


def predict_targets_only(mar: Path, case: FixtureCase, work: Path, env: dict[str, str] | None = None) -> bytes:
    """Sends ``case``'s targets alone (full fanout) to ``gs-predict --mar`` and checks the answer.

    The predictions must be ``case``'s target/ (same results in the same order, within 1e-5).

    Returns:
        gs-predict's stdout and stderr, for further checks.
    """
    payload = work / "targets.json"
    payload.write_bytes(targets_only(case, fanout="full"))
    proc = subprocess.run([sys.executable, "-m", "mar_builder.predict_cli", "--mar", str(mar), str(payload)],
                          capture_output=True, timeout=300, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    want = {result_key(r): r["prediction"] for r in case.target["data"]["results"]}
    assert [result_key(r) for r in got["data"]["results"]] == list(want)
    for r in got["data"]["results"]:
        assert max(abs(a - b) for a, b in zip(r["prediction"], want[result_key(r)], strict=True)) <= 1e-5
    return proc.stdout + proc.stderr
