"""TorchServe settings of the SageMaker container, from the environment SageMaker's PyTorch
containers use, applied to a `.mar` and to config.properties.

Environment (all optional):

* ``SAGEMAKER_TS_BATCH_SIZE``, ``SAGEMAKER_TS_MAX_BATCH_DELAY`` (ms), ``SAGEMAKER_TS_MIN_WORKERS``,
  ``SAGEMAKER_TS_MAX_WORKERS``, ``SAGEMAKER_TS_RESPONSE_TIMEOUT`` (s): the model's batching and
  workers; they override the `.mar`'s model-config.yaml (TorchServe itself lets the archive's
  values win over config.properties, so the archive is rewritten).
* ``SAGEMAKER_MODEL_SERVER_WORKERS``: workers when the MIN/MAX variables are not set. With none of
  the three, workers default to what the instance can use, as AWS's PyTorch inference containers
  (TorchServe's default_workers_per_model): one per GPU, else one per vCPU this process may run on.
* ``SAGEMAKER_TS_MAX_REQUEST_SIZE``, ``SAGEMAKER_TS_MAX_RESPONSE_SIZE`` (bytes): TorchServe's
  ``max_request_size`` / ``max_response_size``.
* ``SAGEMAKER_MODEL_SERVER_TIMEOUT`` (s): the model's response timeout when
  ``SAGEMAKER_TS_RESPONSE_TIMEOUT`` is not set (and TorchServe's ``default_response_timeout``).
* ``SAGEMAKER_BIND_TO_PORT`` (default 8080) and ``GS_BIND_HOST`` (default 0.0.0.0): the inference
  listener (``/ping``, ``/invocations``).
* ``GS_MANAGEMENT_PORT`` (8081), ``GS_METRICS_PORT`` (8082), ``GS_GRPC_INFERENCE_PORT`` (7070),
  ``GS_GRPC_MANAGEMENT_PORT`` (7071): the loopback-only listeners.

Unless ``SAGEMAKER_TS_MAX_REQUEST_SIZE`` is set, TorchServe's ``max_request_size`` is raised to the
`.mar`'s ``handler.max_request_bytes`` when that is larger, so that TorchServe never refuses (HTTP
413, empty body) a body the handler would answer.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from handler.contract.settings import (
    BIND_HOST_ENV,
    GRPC_INFERENCE_PORT_ENV,
    GRPC_MANAGEMENT_PORT_ENV,
    MANAGEMENT_PORT_ENV,
    METRICS_PORT_ENV,
    ServingOptions,
)

# environment variable -> model-config.yaml key
MODEL_ENV_KEYS = {
    "SAGEMAKER_TS_BATCH_SIZE": "batchSize",
    "SAGEMAKER_TS_MAX_BATCH_DELAY": "maxBatchDelay",
    "SAGEMAKER_TS_MIN_WORKERS": "minWorkers",
    "SAGEMAKER_TS_MAX_WORKERS": "maxWorkers",
    "SAGEMAKER_TS_RESPONSE_TIMEOUT": "responseTimeout",
}
_MANIFEST = "MAR-INF/MANIFEST.json"
_DEFAULT_CONFIG_NAME = "model-config.yaml"


@dataclass(frozen=True)
class ContainerSettings:
    """What the environment asks of the server.

    Attributes:
        model_overrides: model-config.yaml keys to set (only those the environment names).
        host: inference bind address.
        port: inference port.
        management_port / metrics_port / grpc_inference_port / grpc_management_port: loopback ports.
    """

    model_overrides: dict[str, int]
    host: str
    port: int
    management_port: int
    metrics_port: int
    grpc_inference_port: int
    grpc_management_port: int
    max_request_size: int | None = None
    max_response_size: int | None = None
    server_timeout: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ContainerSettings:
        """Reads the settings; raises ValueError naming a variable that is not a positive integer
        (0 allowed for the batch delay)."""
        overrides = {key: _int_env(env, name, minimum=0 if key == "maxBatchDelay" else 1)
                     for name, key in MODEL_ENV_KEYS.items() if env.get(name)}
        server_timeout = None
        if env.get("SAGEMAKER_MODEL_SERVER_TIMEOUT"):
            server_timeout = _int_env(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", minimum=1)
            overrides.setdefault("responseTimeout", server_timeout)
        if env.get("SAGEMAKER_MODEL_SERVER_WORKERS"):
            workers = _int_env(env, "SAGEMAKER_MODEL_SERVER_WORKERS", minimum=1)
        elif "minWorkers" not in overrides and "maxWorkers" not in overrides:
            workers = default_workers()
        else:
            workers = None
        if workers is not None:
            overrides.setdefault("minWorkers", workers)
            overrides.setdefault("maxWorkers", max(workers, overrides["minWorkers"]))
        if "minWorkers" in overrides:
            overrides.setdefault("maxWorkers", overrides["minWorkers"])
            if overrides["maxWorkers"] < overrides["minWorkers"]:
                raise ValueError("SAGEMAKER_TS_MAX_WORKERS must be >= SAGEMAKER_TS_MIN_WORKERS")
        return cls(
            model_overrides=overrides,
            host=env.get(BIND_HOST_ENV, "0.0.0.0"),
            port=_int_env(env, "SAGEMAKER_BIND_TO_PORT", 1, default=8080),
            management_port=_int_env(env, MANAGEMENT_PORT_ENV, 1, default=8081),
            metrics_port=_int_env(env, METRICS_PORT_ENV, 1, default=8082),
            grpc_inference_port=_int_env(env, GRPC_INFERENCE_PORT_ENV, 1, default=7070),
            grpc_management_port=_int_env(env, GRPC_MANAGEMENT_PORT_ENV, 1, default=7071),
            max_request_size=(_int_env(env, "SAGEMAKER_TS_MAX_REQUEST_SIZE", 1)
                              if env.get("SAGEMAKER_TS_MAX_REQUEST_SIZE") else None),
            max_response_size=(_int_env(env, "SAGEMAKER_TS_MAX_RESPONSE_SIZE", 1)
                               if env.get("SAGEMAKER_TS_MAX_RESPONSE_SIZE") else None),
            server_timeout=server_timeout,
        )


def default_workers(dev: Path = Path("/dev")) -> int:
    """Workers that fit the instance: one per GPU (``/dev/nvidia<N>``), else one per usable vCPU.

    Each worker runs torch with one thread (the handler's default), so one per vCPU uses the
    instance without oversubscription; on GPU instances each worker takes one GPU.
    """
    gpus = [p for p in dev.glob("nvidia*") if p.name[len("nvidia"):].isdigit()] if dev.is_dir() else []
    if gpus:
        return len(gpus)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _int_env(env: Mapping[str, str], name: str, minimum: int, default: int | None = None) -> int:
    raw = env.get(name)
    if not raw:
        assert default is not None
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def copy_mar_with_overrides(src: Path, dst: Path, overrides: Mapping[str, int]) -> Path:
    """Copies a `.mar`, setting ``overrides`` in its model-config.yaml (created if absent).

    Args:
        src: the archive (a zip file).
        dst: where to write the copy.
        overrides: model-config.yaml keys and values.

    Returns:
        ``dst``.
    """
    if not overrides:
        shutil.copyfile(src, dst)
        return dst
    with zipfile.ZipFile(src) as zin:
        manifest = json.loads(zin.read(_MANIFEST))
        config_name = manifest.setdefault("model", {}).get("configFile") or _DEFAULT_CONFIG_NAME
        manifest["model"]["configFile"] = config_name
        names = zin.namelist()
        config = yaml.safe_load(zin.read(config_name)) if config_name in names else {}
        config = {**(config or {}), **overrides}
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                if info.filename in (_MANIFEST, config_name):
                    continue
                zout.writestr(info, zin.read(info.filename))
            zout.writestr(_MANIFEST, json.dumps(manifest, indent=2))
            zout.writestr(config_name, yaml.safe_dump(config, sort_keys=False))
    return dst


def served_options(model: Path, environ: Mapping[str, str] | None = None) -> ServingOptions:
    """The handler options a model will be served with: its model-config.yaml ``handler``
    section and the environment, read and validated as the handler will (before TorchServe starts).

    Args:
        model: a `.mar` (zip file) or an unarchived model folder (``MAR-INF/MANIFEST.json``).
        environ: the container's environment (None: the section alone).

    Raises:
        ValueError: an option is unknown or of the wrong kind.
    """
    if model.is_dir():
        manifest = json.loads((model / _MANIFEST).read_text())
        config_file = model / (manifest.get("model", {}).get("configFile") or _DEFAULT_CONFIG_NAME)
        config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else None
    else:
        with zipfile.ZipFile(model) as z:
            manifest = json.loads(z.read(_MANIFEST))
            config_name = manifest.get("model", {}).get("configFile") or _DEFAULT_CONFIG_NAME
            config = yaml.safe_load(z.read(config_name)) if config_name in z.namelist() else None
    options = (config or {}).get("handler") if isinstance(config, dict) else None
    return ServingOptions.from_sources(options if isinstance(options, dict) else None, environ)


def handler_max_request_bytes(model: Path) -> int:
    """The ``handler.max_request_bytes`` of a model's model-config.yaml (default if unset).

    Raises:
        ValueError: the model's handler options are not valid.
    """
    return served_options(model).limits.max_request_bytes


def read_properties(path: Path) -> dict[str, str]:
    """A Java properties file's ``key=value`` lines (comments and blanks skipped)."""
    props = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


def write_properties(base: Mapping[str, str], settings: ContainerSettings, model_store: Path,
                     path: Path, max_request_bytes: int | None = None) -> Path:
    """Writes config.properties: ``base`` (the SageMaker config) with the listeners, model store
    and default worker count of this container.

    Args:
        base: the base properties.
        settings: the container settings.
        model_store: TorchServe's model store.
        path: where to write.
        max_request_bytes: the served model's handler limit; ``max_request_size`` is raised
            to it if lower.

    Returns:
        ``path``.
    """
    props = dict(base)
    if settings.max_request_size is not None:
        props["max_request_size"] = str(settings.max_request_size)
    elif max_request_bytes is not None and int(props.get("max_request_size", "0")) < max_request_bytes:
        props["max_request_size"] = str(max_request_bytes)
    if settings.max_response_size is not None:
        props["max_response_size"] = str(settings.max_response_size)
    if settings.server_timeout is not None:
        props["default_response_timeout"] = str(settings.server_timeout)
    props.update({
        "inference_address": f"http://{settings.host}:{settings.port}",
        "management_address": f"http://127.0.0.1:{settings.management_port}",
        "metrics_address": f"http://127.0.0.1:{settings.metrics_port}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_management_address": "127.0.0.1",
        "grpc_inference_port": str(settings.grpc_inference_port),
        "grpc_management_port": str(settings.grpc_management_port),
        "model_store": str(model_store),
    })
    if "minWorkers" in settings.model_overrides:
        # At startup TorchServe may size a model by default_workers_per_model: keep them equal.
        props["default_workers_per_model"] = str(settings.model_overrides["minWorkers"])
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return path
