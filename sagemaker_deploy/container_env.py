"""The container environment variables of ours (``GS_*``, ``SAGEMAKER_*``) and their checks.

``--container-env`` keys with one of our prefixes must be one of these, with a valid value, before
anything is created: a misspelled ``SAGEMAKER_TS_BACTH_SIZE`` would otherwise be ignored by the
container while the user believes it applies. Other keys (e.g. ``OMP_NUM_THREADS``) pass as given.
This table is what docker/serve.py, docker/ts_settings.py and the handler read (docs/sagemaker.md).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

OUR_PREFIXES = ("GS_", "SAGEMAKER_")
BOOLEAN_VALUES = ("true", "false")
# handler/contract/names.py TASKS (not imported: it is not Python 3.9 code).
TASK_TYPES = ("node_classification", "node_regression", "edge_classification", "edge_regression",
              "link_prediction")

# name -> kind of value: "int>=0", "int>=1", "bool", "task", "str"
KNOWN_ENV = {
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
    "GS_HTTP_STATUS": "bool",
    "GS_EMF_METRICS": "bool",
    "GS_MODEL_NAME": "str",
    "GS_INFER_TASK_TYPE": "task",
    "GS_STOP_TIMEOUT": "int>=1",
    "GS_BIND_HOST": "str",
    "GS_MANAGEMENT_PORT": "int>=1",
    "GS_METRICS_PORT": "int>=1",
    "GS_GRPC_INFERENCE_PORT": "int>=1",
    "GS_GRPC_MANAGEMENT_PORT": "int>=1",
    "GS_WORK_DIR": "str",
    # NAME=DIR entries (os.pathsep-separated) of language models inside the container.
    "GS_LM_MODELS": "str",
    # The graph store targets-only requests are answered from (a neptune-db:// / neptune-graph:// URI).
    "GS_GRAPH_STORE": "str",
}


def _value_problem(name: str, kind: str, value: str) -> str | None:
    """Why ``value`` is not valid for ``name``, or None."""
    if kind.startswith("int>="):
        minimum = int(kind[len("int>="):])
        try:
            number = int(value)
        except ValueError:
            return f"{name} must be an integer, got {value!r}"
        return None if number >= minimum else f"{name} must be >= {minimum}, got {number}"
    if kind == "bool" and value.lower() not in BOOLEAN_VALUES:
        return f"{name} must be true or false, got {value!r}"
    if kind == "task" and value not in TASK_TYPES:
        return f"{name} must be one of {TASK_TYPES}, got {value!r}"
    return None


def container_env_problems(items: Iterable[tuple[str, str]]) -> list[str]:
    """Problems with ``--container-env`` pairs: unknown keys of ours and bad values.

    Args:
        items: (KEY, VALUE) pairs as given.

    Returns:
        Human-readable problems (empty when all are fine), with the closest known name for a
        misspelled key.
    """
    problems = []
    for name, value in items:
        kind = KNOWN_ENV.get(name)
        if kind is None:
            if name.startswith(OUR_PREFIXES):
                close = difflib.get_close_matches(name, KNOWN_ENV, n=1)
                hint = f"; did you mean {close[0]}?" if close else f"; known: {sorted(KNOWN_ENV)}"
                problems.append(f"--container-env {name} is not a variable the container reads{hint}")
            continue
        problem = _value_problem(name, kind, value)
        if problem:
            problems.append(f"--container-env {problem}")
    given = dict(items)
    if "SAGEMAKER_TS_MIN_WORKERS" in given and "SAGEMAKER_TS_MAX_WORKERS" in given:
        try:
            if int(given["SAGEMAKER_TS_MAX_WORKERS"]) < int(given["SAGEMAKER_TS_MIN_WORKERS"]):
                problems.append("--container-env SAGEMAKER_TS_MAX_WORKERS must be >= SAGEMAKER_TS_MIN_WORKERS")
        except ValueError:
            pass  # reported above
    return problems
