"""gs-build-mar: archive layout, model-config.yaml, self-containment and input validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from handler.contract.limits import RequestLimits
from mar_builder.cli import main
from mar_builder.staging import handler_package_dir
from tests.compare import artifacts_dir, assert_matches_target, load_cases

YAML_NAME = "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"
JSON_NAME = "data_transform_new.json"


def _argv(tmp_path: Path, variant: str = "rgcn_nc", *, model_dir: Path | None = None,
          task: str = "node_classification", extra: tuple[str, ...] = ()) -> list[str]:
    art = artifacts_dir(variant)
    return [
        "--restore-model-path", str(model_dir or art),
        "--model-yaml-config-file", str(art / YAML_NAME),
        "--graph-json-config-file", str(art / JSON_NAME),
        "--infer-task-type", task,
        "--model-name", "gsmodel",
        "--export-path", str(tmp_path / "store"),
        *extra,
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A .mar of rgcn_nc with non-default settings."""
    tmp = tmp_path_factory.mktemp("built")
    argv = _argv(tmp, extra=("--model-version", "3.1", "--batch-size", "16", "--max-batch-delay", "25",
                             "--min-workers", "2", "--max-workers", "4", "--response-timeout", "90",
                             "--http-status", "--max-nodes", "5000", "--max-targets", "64"))
    assert main(argv) == 0
    return tmp / "store" / "gsmodel.mar"


def test_archive_holds_handler_package_and_artifacts(built):
    names = set(zipfile.ZipFile(built).namelist())
    package = handler_package_dir()
    expected = {f"handler/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")}
    assert expected <= names
    assert not any("__pycache__" in n for n in names)
    assert {"torchserve_handler.py", "model-config.yaml", "MAR-INF/MANIFEST.json",
            "artifacts/model.bin", f"artifacts/{YAML_NAME}", f"artifacts/{JSON_NAME}"} <= names
    manifest = json.loads(zipfile.ZipFile(built).read("MAR-INF/MANIFEST.json"))
    assert manifest["model"]["handler"] == "torchserve_handler.py"
    assert manifest["model"]["modelVersion"] == "3.1"
    assert manifest["model"]["configFile"] == "model-config.yaml"


def test_model_config_carries_settings(built):
    config = yaml.safe_load(zipfile.ZipFile(built).read("model-config.yaml"))
    assert config["batchSize"] == 16
    assert config["maxBatchDelay"] == 25
    assert config["minWorkers"] == 2
    assert config["maxWorkers"] == 4
    assert config["responseTimeout"] == 90
    assert config["maxRetryTimeoutInSec"] <= 30
    assert config["handler"] == {"http_status": True, **RequestLimits(max_nodes=5000, max_targets=64).as_options()}


def test_max_workers_defaults_to_min_workers(tmp_path):
    assert main(_argv(tmp_path, extra=("--min-workers", "3"))) == 0
    config = yaml.safe_load(zipfile.ZipFile(tmp_path / "store" / "gsmodel.mar").read("model-config.yaml"))
    assert (config["minWorkers"], config["maxWorkers"], config["batchSize"]) == (3, 3, 8)
    assert config["handler"] == {"http_status": False, **RequestLimits().as_options()}


@pytest.mark.parametrize(("flag", "key", "value", "bad", "refusal"), [
    ("--torch-threads", "torch_threads", 2, "0", "torch-threads must be >= 1"),
    ("--heap-retain-mb", "heap_retain_mb", 0, "-1", "heap_retain_mb must be an integer from 0 to 2047"),
])
def test_a_worker_option_goes_to_the_handler_section(tmp_path, capsys, flag, key, value, bad, refusal):
    assert main(_argv(tmp_path, extra=(flag, str(value)))) == 0
    config = yaml.safe_load(zipfile.ZipFile(tmp_path / "store" / "gsmodel.mar").read("model-config.yaml"))
    assert config["handler"] == {"http_status": False, **RequestLimits().as_options(), key: value}
    assert main(_argv(tmp_path / "bad", extra=(flag, bad))) == 2
    assert refusal in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--max-request-bytes", "--max-nodes", "--max-edges", "--max-targets"])
def test_limits_must_be_positive(tmp_path, flag, capsys):
    assert main(_argv(tmp_path, extra=(flag, "0"))) == 2
    assert "must be a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "store" / "gsmodel.mar").exists()


# Runs the archived handler outside TorchServe, as a worker would: the extracted archive first on
# sys.path, and anything of this project that is not in the archive made unimportable.
_WORKER_SCRIPT = r"""
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"mar_builder", "sagemaker_deploy", "tests"}:
            raise ImportError(f"{name} is not part of the archive")
sys.meta_path.insert(0, Block())
import os
from ts.context import Context, RequestProcessor
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl
import ts, torchserve_handler, handler
root = os.getcwd()
assert handler.__file__.startswith(root), handler.__file__
assert torchserve_handler.__file__.startswith(root), torchserve_handler.__file__
metrics = MetricsCacheYamlImpl(os.path.join(os.path.dirname(ts.__file__), "configs", "metrics.yaml"))
metrics.initialize_cache()
metrics.model_name = "gsmodel"
ctx = Context("gsmodel", root, {}, 8, None, ts.__version__, metrics=metrics,
              model_yaml_config={"handler": {"http_status": True}})
h = torchserve_handler.GraphStormHandler()
h.initialize(ctx)
cases = json.load(sys.stdin)
data = [{"body": bytearray(c["body"].encode())} for c in cases]
ctx.request_processor = [RequestProcessor({"Content-Type": c["content_type"]}) for c in cases]
ctx.request_ids = {i: f"r{i}" for i in range(len(cases))}
metrics.request_ids = ctx.request_ids
out = h.handle(data, ctx)
print(json.dumps({"bodies": [o.decode() for o in out],
                  "status": [ctx.get_response_status(i)[0] for i in range(len(cases))],
                  "ctype": [ctx.get_response_content_type(i) for i in range(len(cases))]}))
"""


def test_archived_handler_runs_from_the_archive_alone(built, tmp_path):
    root = tmp_path / "extracted"
    zipfile.ZipFile(built).extractall(root)
    cases = [c for c in load_cases("rgcn_nc") if c.name in ("v01_tiny", "x03_unknown_target_id",
                                                          "x08_malformed_json", "v05_multi8_sampled")]
    stdin = json.dumps([{"body": c.body.decode(), "content_type": c.content_type} for c in cases])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", _WORKER_SCRIPT], cwd=root, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for case, body, status, ctype in zip(cases, out["bodies"], out["status"], out["ctype"], strict=True):
        assert_matches_target(case, json.loads(body), raw_body=body.encode())
        assert status == case.target["status_code"]
        assert ctype == "application/json"


def _run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_task_type_differs_from_yaml(tmp_path, capsys):
    code, err = _run_cli(_argv(tmp_path, task="node_regression"), capsys)
    assert code == 2
    assert "node_regression" in err and "node_classification" in err
    assert not (tmp_path / "store" / "gsmodel.mar").exists()


def test_model_bin_that_does_not_fit_the_yaml(tmp_path, capsys):
    code, err = _run_cli(_argv(tmp_path, model_dir=artifacts_dir("hgt_nc")), capsys)
    assert code == 2
    assert "cannot be restored" in err
    assert not (tmp_path / "store" / "gsmodel.mar").exists()


@pytest.mark.parametrize("extra, words", [
    (("--min-workers", "2", "--max-workers", "1"), "max-workers"),
    (("--batch-size", "0"), "batch-size"),
    (("--max-batch-delay", "-1"), "max-batch-delay"),
])
def test_bad_settings(tmp_path, capsys, extra, words):
    code, err = _run_cli(_argv(tmp_path, extra=extra), capsys)
    assert code == 2
    assert words in err


def test_missing_model_file(tmp_path, capsys):
    code, err = _run_cli(_argv(tmp_path, model_dir=tmp_path), capsys)
    assert code == 2
    assert "model.bin" in err


def test_archiver_staging_does_not_touch_shared_tmpdir(tmp_path, monkeypatch):
    """torch-model-archiver wipes $TMPDIR/<model-name>; the build must use a private TMPDIR."""
    shared = tmp_path / "shared_tmp"
    (shared / "gsmodel").mkdir(parents=True)
    (shared / "gsmodel" / "keep.txt").write_text("another build's staging")
    monkeypatch.setenv("TMPDIR", str(shared))
    assert main(_argv(tmp_path)) == 0
    assert (shared / "gsmodel" / "keep.txt").read_text() == "another build's staging"


def test_relative_export_path_is_taken_from_the_callers_directory(tmp_path, monkeypatch, capsys):
    """`--export-path model_store` (as in the README) writes ./model_store/NAME.mar."""
    monkeypatch.chdir(tmp_path)
    argv = _argv(tmp_path)
    argv[argv.index("--export-path") + 1] = "model_store"
    assert main(argv) == 0, capsys.readouterr().err
    mar = tmp_path / "model_store" / "gsmodel.mar"
    assert zipfile.is_zipfile(mar)
    assert Path(capsys.readouterr().out.strip()) == mar
