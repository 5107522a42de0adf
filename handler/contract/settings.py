"""The serving settings: model-config.yaml's ``handler`` section and the ``GS_*`` environment.

Their one home. ``ServingOptions.from_sources`` reads and validates both once (the TorchServe
handler at load, ``gs-predict``, ``gs-build-mar`` writing the section, the container reading
it); ``CONTAINER_ENV`` names every environment variable of ours the container, the handler and
the deploy tools know, with the kind of value each takes (``env_value_problem`` checks one), so
``gs-launch-endpoint --container-env`` refuses a misspelled one before anything is created.

Torch-free and Python 3.9 code (the deploy tools import it).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from handler.contract.limits import RequestLimits
from handler.contract.names import TASKS

# -- the environment ---------------------------------------------------------------------

# Handler settings (override the archive's handler section; set by the SageMaker container).
HTTP_STATUS_ENV = "GS_HTTP_STATUS"
# On: one CloudWatch embedded-metric-format line per batch on the worker's stdout.
EMF_METRICS_ENV = "GS_EMF_METRICS"
# On: each stage runs under torch.profiler.record_function("gs.<stage>").
PROFILE_STAGES_ENV = "GS_PROFILE_STAGES"
# NAME=DIR entries, separated by os.pathsep, that resolve LM names before anything else.
LM_MODELS_ENV = "GS_LM_MODELS"
# The graph store completing targets-only requests (path or URI), over the archive's record
# (set by gs-launch-endpoint --graph-store URI).
GRAPH_STORE_ENV = "GS_GRAPH_STORE"
# Off (false/0/no/off): the handler runs the pure-Python path instead of the C extension
# (handler.native; read once, at import).
NATIVE_ENV = "GS_NATIVE"
# The container (docker/serve.py, docker/ts_settings.py).
MODEL_NAME_ENV = "GS_MODEL_NAME"
INFER_TASK_TYPE_ENV = "GS_INFER_TASK_TYPE"
STOP_TIMEOUT_ENV = "GS_STOP_TIMEOUT"
WORK_DIR_ENV = "GS_WORK_DIR"
BIND_HOST_ENV = "GS_BIND_HOST"
MANAGEMENT_PORT_ENV = "GS_MANAGEMENT_PORT"
METRICS_PORT_ENV = "GS_METRICS_PORT"
GRPC_INFERENCE_PORT_ENV = "GS_GRPC_INFERENCE_PORT"
GRPC_MANAGEMENT_PORT_ENV = "GS_GRPC_MANAGEMENT_PORT"
# The image's own (paths inside it; not settable through the deploy tools): TorchServe's base
# config.properties and log4j2.xml.
TS_CONFIG_ENV = "GS_TS_CONFIG"
TS_LOG_CONFIG_ENV = "GS_TS_LOG_CONFIG"

# Prefixes of the variables the container reads: a key with one of them must be known.
OUR_ENV_PREFIXES = ("GS_", "SAGEMAKER_")
BOOLEAN_VALUES = ("true", "false")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")

# name -> kind of value: "int>=0", "int>=1", "bool", "task", "str" (docs/sagemaker.md).
CONTAINER_ENV: dict[str, str] = {
    # TorchServe model settings, as AWS's SageMaker PyTorch inference containers name them.
    "SAGEMAKER_TS_BATCH_SIZE": "int>=1",
    "SAGEMAKER_TS_MAX_BATCH_DELAY": "int>=0",
    "SAGEMAKER_TS_MIN_WORKERS": "int>=1",
    "SAGEMAKER_TS_MAX_WORKERS": "int>=1",
    "SAGEMAKER_TS_RESPONSE_TIMEOUT": "int>=1",
    "SAGEMAKER_TS_MAX_REQUEST_SIZE": "int>=1",
    "SAGEMAKER_TS_MAX_RESPONSE_SIZE": "int>=1",
    "SAGEMAKER_MODEL_SERVER_WORKERS": "int>=1",
    "SAGEMAKER_MODEL_SERVER_TIMEOUT": "int>=1",
    # Ours.
    HTTP_STATUS_ENV: "bool",
    EMF_METRICS_ENV: "bool",
    PROFILE_STAGES_ENV: "bool",
    NATIVE_ENV: "bool",
    MODEL_NAME_ENV: "str",
    INFER_TASK_TYPE_ENV: "task",
    STOP_TIMEOUT_ENV: "int>=1",
    BIND_HOST_ENV: "str",
    MANAGEMENT_PORT_ENV: "int>=1",
    METRICS_PORT_ENV: "int>=1",
    GRPC_INFERENCE_PORT_ENV: "int>=1",
    GRPC_MANAGEMENT_PORT_ENV: "int>=1",
    WORK_DIR_ENV: "str",
    LM_MODELS_ENV: "str",
    GRAPH_STORE_ENV: "str",
}


def env_value_problem(name: str, kind: str, value: str) -> str | None:
    """Why ``value`` is not valid for the variable ``name`` of ``kind``, or None."""
    if kind.startswith("int>="):
        minimum = int(kind[len("int>="):])
        try:
            number = int(value)
        except ValueError:
            return f"{name} must be an integer, got {value!r}"
        return None if number >= minimum else f"{name} must be >= {minimum}, got {number}"
    if kind == "bool" and value.lower() not in BOOLEAN_VALUES:
        return f"{name} must be true or false, got {value!r}"
    if kind == "task" and value not in TASKS:
        return f"{name} must be one of {TASKS}, got {value!r}"
    return None


def unknown_env_problem(name: str) -> str | None:
    """Why ``name`` is not a variable of ours (with the closest known name), or None."""
    if name in CONTAINER_ENV or not name.startswith(OUR_ENV_PREFIXES):
        return None
    close = difflib.get_close_matches(name, CONTAINER_ENV, n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; known: {sorted(CONTAINER_ENV)}"
    return f"{name} is not a variable the container reads{hint}"


def env_flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    """An on/off environment setting: true/1/yes/on or false/0/no/off; unset keeps ``default``.

    Raises:
        ValueError: any other value (naming the variable).
    """
    value = environ.get(name)
    if value is None or not value.strip():
        return default
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}={value!r}: expected true or false")


# -- the handler section -----------------------------------------------------------------

# torch intra-op threads per worker unless the handler section sets torch_threads: payload
# graphs are small, so ops gain nothing from a second thread (docs/performance.md).
DEFAULT_TORCH_THREADS = 1
# MiB of freed C heap a worker keeps for its next request unless the handler section sets
# heap_retain_mb (0: glibc's own policy; handler.serving.heap). Below c_int's 2 GiB.
DEFAULT_HEAP_RETAIN_MB = 64
MAX_HEAP_RETAIN_MB = 2047


@dataclass(frozen=True)
class ServingOptions:
    """How the handler serves one model: the handler section, then the environment over it.

    Attributes:
        limits: request, response and batch limits (``RequestLimits``; its attribute names are
            keys of the handler section).
        http_status: each response's HTTP status is the envelope's status code (default: 200
            with the status in the body, as GraphStorm's SageMaker endpoint). ``GS_HTTP_STATUS``.
        emf_metrics: one CloudWatch EMF line per batch on the worker's stdout. ``GS_EMF_METRICS``.
        torch_threads: torch intra-op threads per worker.
        heap_retain_mb: MiB of freed C heap (numpy and torch buffers) the worker keeps for its
            next request instead of returning it to the kernel (``handler.serving.heap``; 0:
            glibc's own policy).
        warm_up: one synthetic forward before the worker reports ready.
        profile_stages: each stage runs under ``torch.profiler.record_function("gs.<stage>")``
            (visible in a ``torch.profiler`` trace). ``GS_PROFILE_STAGES``.
        graph_store: the graph store that completes targets-only requests: a path or URI, or
            its folder inside the archive when ``graph_store_in_archive`` (None: none;
            ``handler.serving.expand.store_location``). ``GS_GRAPH_STORE`` (a path or URI).
        graph_store_in_archive: the store travels inside the archive (gs-build-mar
            --embed-graph-store).
    """

    limits: RequestLimits = field(default_factory=RequestLimits)
    http_status: bool = False
    emf_metrics: bool = False
    torch_threads: int = DEFAULT_TORCH_THREADS
    heap_retain_mb: int = DEFAULT_HEAP_RETAIN_MB
    warm_up: bool = True
    profile_stages: bool = False
    graph_store: str | None = None
    graph_store_in_archive: bool = False

    def __post_init__(self) -> None:
        if self.graph_store is not None and (not isinstance(self.graph_store, str) or not self.graph_store):
            raise ValueError(f"handler option graph_store must be a path or URI, got {self.graph_store!r}")
        for name in ("http_status", "emf_metrics", "warm_up", "profile_stages", "graph_store_in_archive"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"handler option {name} must be true or false, got {getattr(self, name)!r}")
        threads = self.torch_threads
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"handler option torch_threads must be a positive integer, got {threads!r}")
        retain = self.heap_retain_mb
        if isinstance(retain, bool) or not isinstance(retain, int) or not 0 <= retain <= MAX_HEAP_RETAIN_MB:
            raise ValueError(f"handler option heap_retain_mb must be an integer from 0 to {MAX_HEAP_RETAIN_MB}, "
                             f"got {retain!r}")

    @classmethod
    def from_sources(cls, section: Mapping[str, Any] | None,
                     environ: Mapping[str, str] | None = None) -> ServingOptions:
        """The options of a model-config.yaml ``handler`` section and the environment.

        Args:
            section: the handler section (None: all defaults).
            environ: the environment (``GS_HTTP_STATUS``, ``GS_EMF_METRICS``,
                ``GS_PROFILE_STAGES`` override the section); None: the section alone.

        Returns:
            The options.

        Raises:
            ValueError: an unknown key (with the closest known one), or a value of the wrong kind.
        """
        section = dict(section or {})
        limit_names = {f.name for f in fields(RequestLimits)}
        own = {f.name for f in fields(cls)} - {"limits"}
        for key in section:
            if key not in limit_names and key not in own:
                close = difflib.get_close_matches(str(key), sorted(limit_names | own), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise ValueError(f"model-config.yaml handler option {key!r} is unknown{hint}")
        values: dict[str, Any] = {k: v for k, v in section.items() if k in own}
        env = environ or {}
        for name, key in ((HTTP_STATUS_ENV, "http_status"), (EMF_METRICS_ENV, "emf_metrics"),
                          (PROFILE_STAGES_ENV, "profile_stages")):
            values[key] = env_flag(env, name, values.get(key, False))
        if env.get(GRAPH_STORE_ENV, "").strip():
            values["graph_store"], values["graph_store_in_archive"] = env[GRAPH_STORE_ENV].strip(), False
        limits = RequestLimits.from_options({k: v for k, v in section.items() if k in limit_names})
        return cls(limits=limits, **values)

    def as_section(self) -> dict[str, Any]:
        """The options as a handler section ``from_sources`` reads back (defaults left out,
        except the limits and ``http_status``, written for the reader of the file)."""
        section: dict[str, Any] = {"http_status": self.http_status, **self.limits.as_options()}
        default = ServingOptions()
        for name in ("emf_metrics", "torch_threads", "heap_retain_mb", "warm_up", "profile_stages",
                     "graph_store", "graph_store_in_archive"):
            if getattr(self, name) != getattr(default, name):
                section[name] = getattr(self, name)
        return section
