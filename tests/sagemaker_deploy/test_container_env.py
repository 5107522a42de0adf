"""The deploy tools check the container environment with the handler's own table and task list.

sagemaker_deploy runs on Python 3.9 without torch or numpy: of ours it may import only
``handler.contract`` (torch-free, numpy-free, Python 3.9 code), the one home of those facts.
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
    """No module of sagemaker_deploy imports handler beyond handler.contract, nor mar_builder
    (checked in the source text, so that a lazy import inside a function is caught too)."""
    from pathlib import Path

    import sagemaker_deploy

    for path in Path(sagemaker_deploy.__file__).parent.glob("*.py"):
        for line in path.read_text().splitlines():
            words = line.strip().split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                module = words[1]
                assert not module.startswith("mar_builder"), (path.name, line)
                assert not module.startswith("handler") or module.startswith("handler.contract."), (path.name, line)


def test_sagemaker_deploy_loads_neither_torch_nor_numpy() -> None:
    import subprocess
    import sys

    code = ("import sys, sagemaker_deploy.launch_endpoint, sagemaker_deploy.update_endpoint, "
            "sagemaker_deploy.invoke_endpoint, sagemaker_deploy.delete_endpoint; "
            "print(sorted(m for m in ('torch', 'numpy', 'orjson') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
