"""The container environment variables of ours (``GS_*``, ``SAGEMAKER_*``) and their checks.

``--container-env`` keys with one of our prefixes must be one of these, with a valid value, before
anything is created: a misspelled ``SAGEMAKER_TS_BACTH_SIZE`` would otherwise be ignored by the
container while the user believes it applies. Other keys (e.g. ``OMP_NUM_THREADS``) pass as given.
The table is ``handler.contract.settings.CONTAINER_ENV``: what docker/serve.py, docker/ts_settings.py
and the handler read (docs/sagemaker.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from handler.contract.names import TASKS
from handler.contract.settings import CONTAINER_ENV, env_value_problem, unknown_env_problem

TASK_TYPES = TASKS


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
        kind = CONTAINER_ENV.get(name)
        if kind is None:
            unknown = unknown_env_problem(name)
            if unknown:
                problems.append(f"--container-env {unknown}")
            continue
        problem = env_value_problem(name, kind, value)
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
