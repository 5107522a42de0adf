"""The deploy tools' copy of the task list stays in step with the handler's.

sagemaker_deploy must import nothing of the serving code (it runs on Python 3.9, where
handler/contract/names.py does not import), so it keeps its own list; this test, which runs with the
serving stack, imports both.
"""

from __future__ import annotations

from handler.contract.names import TASKS
from sagemaker_deploy.container_env import TASK_TYPES, container_env_problems


def test_task_types_match_the_handler() -> None:
    assert TASK_TYPES == TASKS


def test_every_task_is_accepted_and_others_refused() -> None:
    for task in TASKS:
        assert container_env_problems([("GS_INFER_TASK_TYPE", task)]) == []
    [problem] = container_env_problems([("GS_INFER_TASK_TYPE", "graph_classification")])
    assert "GS_INFER_TASK_TYPE must be one of" in problem


def test_sagemaker_deploy_imports_no_serving_code() -> None:
    """No module of sagemaker_deploy imports handler or mar_builder (checked in the source text,
    so that a lazy import inside a function is caught too)."""
    from pathlib import Path

    import sagemaker_deploy

    for path in Path(sagemaker_deploy.__file__).parent.glob("*.py"):
        for line in path.read_text().splitlines():
            words = line.strip().split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert not words[1].startswith(("handler", "mar_builder")), (path.name, line)
