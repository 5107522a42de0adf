"""docker/ts_settings.py: SageMaker environment -> TorchServe model and server settings."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "docker"))
from ts_settings import (  # noqa: E402
    ContainerSettings,
    copy_mar_with_overrides,
    default_workers,
    handler_max_request_bytes,
    read_properties,
    write_properties,
)

from handler.contract.limits import RequestLimits  # noqa: E402

SAGEMAKER_PROPERTIES = Path(__file__).resolve().parents[2] / "serving_config" / "sagemaker.properties"


def test_defaults_are_sagemakers() -> None:
    """Without worker settings, workers follow the instance (one per usable vCPU here, no GPU)."""
    s = ContainerSettings.from_env({})
    workers = len(os.sched_getaffinity(0))
    assert (s.host, s.port) == ("0.0.0.0", 8080)
    assert s.model_overrides == {"minWorkers": workers, "maxWorkers": workers}
    assert (s.max_request_size, s.max_response_size, s.server_timeout) == (None, None, None)


def test_default_workers_one_per_gpu(tmp_path: Path) -> None:
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (tmp_path / name).touch()
    assert default_workers(tmp_path) == 2
    assert default_workers(tmp_path / "none") == len(os.sched_getaffinity(0))


def test_sagemaker_size_and_timeout_knobs(tmp_path: Path) -> None:
    """SAGEMAKER_TS_MAX_REQUEST/RESPONSE_SIZE set TorchServe's limits (an explicit request size wins
    over the handler's); SAGEMAKER_MODEL_SERVER_TIMEOUT the model's timeout unless the TS one is set."""
    env = {"SAGEMAKER_TS_MAX_REQUEST_SIZE": "1048576", "SAGEMAKER_TS_MAX_RESPONSE_SIZE": "2097152",
           "SAGEMAKER_MODEL_SERVER_TIMEOUT": "90", "SAGEMAKER_MODEL_SERVER_WORKERS": "3"}
    s = ContainerSettings.from_env(env)
    assert s.model_overrides == {"responseTimeout": 90, "minWorkers": 3, "maxWorkers": 3}
    props = read_properties(write_properties({"max_request_size": "6553500"}, s, tmp_path,
                                             tmp_path / "config.properties", max_request_bytes=100_000_000))
    assert (props["max_request_size"], props["max_response_size"]) == ("1048576", "2097152")
    assert props["default_response_timeout"] == "90"
    s = ContainerSettings.from_env({**env, "SAGEMAKER_TS_RESPONSE_TIMEOUT": "30"})
    assert s.model_overrides["responseTimeout"] == 30
    with pytest.raises(ValueError, match="SAGEMAKER_TS_MAX_REQUEST_SIZE must be an integer"):
        ContainerSettings.from_env({"SAGEMAKER_TS_MAX_REQUEST_SIZE": "10MB"})


def test_sagemaker_variables_map_to_model_config_keys() -> None:
    s = ContainerSettings.from_env({"SAGEMAKER_TS_BATCH_SIZE": "8", "SAGEMAKER_TS_MAX_BATCH_DELAY": "0",
                                    "SAGEMAKER_TS_MIN_WORKERS": "2", "SAGEMAKER_TS_RESPONSE_TIMEOUT": "30"})
    assert s.model_overrides == {"batchSize": 8, "maxBatchDelay": 0, "minWorkers": 2, "maxWorkers": 2,
                                 "responseTimeout": 30}


def test_model_server_workers_when_min_max_unset() -> None:
    s = ContainerSettings.from_env({"SAGEMAKER_MODEL_SERVER_WORKERS": "3"})
    assert s.model_overrides == {"minWorkers": 3, "maxWorkers": 3}


@pytest.mark.parametrize("env, message", [
    ({"SAGEMAKER_TS_BATCH_SIZE": "eight"}, "SAGEMAKER_TS_BATCH_SIZE must be an integer"),
    ({"SAGEMAKER_TS_MIN_WORKERS": "0"}, "SAGEMAKER_TS_MIN_WORKERS must be >= 1"),
    ({"SAGEMAKER_TS_MIN_WORKERS": "3", "SAGEMAKER_TS_MAX_WORKERS": "2"}, "must be >= SAGEMAKER_TS_MIN_WORKERS"),
    ({"SAGEMAKER_BIND_TO_PORT": "http"}, "SAGEMAKER_BIND_TO_PORT must be an integer"),
])
def test_bad_values_are_named(env: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ContainerSettings.from_env(env)


def _mar(path: Path, config: dict | None) -> Path:
    manifest = {"model": {"modelName": "m", "handler": "h.py"}}
    with zipfile.ZipFile(path, "w") as z:
        if config is not None:
            manifest["model"]["configFile"] = "model-config.yaml"
            z.writestr("model-config.yaml", yaml.safe_dump(config))
        z.writestr("MAR-INF/MANIFEST.json", json.dumps(manifest))
        z.writestr("h.py", "# handler\n")
    return path


@pytest.mark.parametrize("config", [{"batchSize": 8, "maxRetryTimeoutInSec": 10}, None])
def test_overrides_rewrite_the_archive_config(tmp_path: Path, config: dict | None) -> None:
    """Set keys replace the archive's, others stay; an archive without a config gets one."""
    out = copy_mar_with_overrides(_mar(tmp_path / "in.mar", config), tmp_path / "out.mar", {"batchSize": 2})
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("MAR-INF/MANIFEST.json"))
        got = yaml.safe_load(z.read(manifest["model"]["configFile"]))
        assert z.read("h.py") == b"# handler\n"
    assert got == {**(config or {}), "batchSize": 2}


def test_properties_bind_inference_only_to_the_sagemaker_address(tmp_path: Path) -> None:
    s = ContainerSettings.from_env({"GS_BIND_HOST": "127.0.0.1", "SAGEMAKER_BIND_TO_PORT": "9090",
                                    "SAGEMAKER_TS_MIN_WORKERS": "2"})
    path = write_properties({"disable_token_authorization": "true", "model_store": "/opt/ml/model"}, s,
                            tmp_path / "store", tmp_path / "config.properties")
    props = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert props["inference_address"] == "http://127.0.0.1:9090"
    assert props["management_address"].startswith("http://127.0.0.1:")
    assert props["metrics_address"].startswith("http://127.0.0.1:")
    assert props["model_store"] == str(tmp_path / "store")
    assert props["default_workers_per_model"] == "2"
    assert props["disable_token_authorization"] == "true"


@pytest.mark.parametrize(("config", "expected"), [
    ({"handler": {"http_status": False, "max_request_bytes": 5_000_000}}, 5_000_000),
    ({"batchSize": 8}, RequestLimits().max_request_bytes),
    (None, RequestLimits().max_request_bytes),
])
def test_handler_max_request_bytes_of_an_archive(tmp_path: Path, config: dict | None, expected: int) -> None:
    assert handler_max_request_bytes(_mar(tmp_path / "m.mar", config)) == expected


def test_sagemaker_properties_limits_are_invoke_endpoints() -> None:
    """TorchServe's limits in the container are SageMaker's InvokeEndpoint payload limit (6 MB),
    which is also the handler's default request and response limit."""
    base = read_properties(SAGEMAKER_PROPERTIES)
    limits = RequestLimits()
    assert int(base["max_request_size"]) == int(base["max_response_size"]) == 6291456
    assert (limits.max_request_bytes, limits.max_response_bytes) == (6291456, 6291456)


@pytest.mark.parametrize("handler_limit", [RequestLimits().max_request_bytes, 1_000_000, 8_000_000])
def test_torchserve_never_refuses_what_the_handler_answers(tmp_path: Path, handler_limit: int) -> None:
    """max_request_size is raised to the handler's limit when a .mar's is larger than the
    SageMaker properties' 6 MiB, never lowered (smaller bodies still get the 413 envelope)."""
    base = read_properties(SAGEMAKER_PROPERTIES)
    path = write_properties(base, ContainerSettings.from_env({}), tmp_path / "store",
                            tmp_path / "config.properties", handler_limit)
    props = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert int(props["max_request_size"]) == max(handler_limit, int(base["max_request_size"]))
    assert int(props["max_request_size"]) >= handler_limit
