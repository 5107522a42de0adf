"""Checks, before archiving, that the artifacts fit together: the model is restored once."""

from __future__ import annotations

from pathlib import Path


class ArtifactMismatchError(ValueError):
    """The artifacts cannot be served as given; the message says why."""


def check_artifacts(artifacts_dir: Path, infer_task_type: str) -> None:
    """Restores the model from ``artifacts_dir`` exactly as a TorchServe worker would.

    Args:
        artifacts_dir: the staged artifacts (model.bin, YAML, JSON).
        infer_task_type: the task the endpoint is built for.

    Raises:
        ArtifactMismatchError: the model cannot be restored from these artifacts (e.g.
            model.bin does not match the YAML, or the YAML asks for an unsupported option),
            or the YAML's task differs from ``infer_task_type``.
    """
    # Imported here: torch loads only once the command-line arguments are valid.
    from handler.serving.predictor import RealtimePredictor

    try:
        predictor = RealtimePredictor.from_artifacts(artifacts_dir, device="cpu")
    except Exception as err:
        raise ArtifactMismatchError(
            f"the model cannot be restored from these artifacts ({type(err).__name__}: {err})"
        ) from err
    task_type = predictor.config.task_type
    if task_type != infer_task_type:
        raise ArtifactMismatchError(
            f"--infer-task-type is {infer_task_type} but the model YAML was trained for {task_type}"
        )
