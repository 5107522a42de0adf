"""Lays out the files that go into a .mar: the `handler` package and the model artifacts.

The archive must serve on a TorchServe whose Python has only the runtime dependencies, so the
whole `handler` package travels inside it. TorchServe extracts a .mar into one folder, puts
that folder on the worker's PYTHONPATH and imports the entry file as a top-level module; the
entry file (`torchserve_handler.py`, copied to the archive root by torch-model-archiver) then
imports `handler.*` from the archived package.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import handler
from handler.contract.names import ARTIFACTS_DIR, MODEL_FILE

__all__ = ["ARTIFACTS_DIR", "ENTRY_FILE", "MODEL_FILE", "StagedArchive", "handler_package_dir", "stage"]

ENTRY_FILE = "torchserve_handler.py"


@dataclass(frozen=True)
class StagedArchive:
    """What torch-model-archiver is given.

    Attributes:
        extra_files_dir: folder whose *contents* become the archive root (`handler/`, `artifacts/`).
        handler_file: the entry file, inside the staged package.
        artifacts_dir: the staged artifacts folder (restored once for validation).
    """

    extra_files_dir: Path
    handler_file: Path
    artifacts_dir: Path


def handler_package_dir() -> Path:
    """The folder of the `handler` package this builder runs with."""
    return Path(handler.__file__).resolve().parent


def stage(staging_dir: Path, model_file: Path, yaml_file: Path, json_file: Path) -> StagedArchive:
    """Copies the handler package and the artifacts into ``staging_dir``.

    Args:
        staging_dir: an empty folder (created if missing).
        model_file: GraphStorm's model.bin.
        yaml_file: the training-config YAML written by GraphStorm training.
        json_file: the graph-construction JSON (data_transform_new.json).

    Returns:
        The staged layout.
    """
    package_dst = staging_dir / "handler"
    # The C sources stay behind (the built extension travels; vendor/LICENSE with it).
    shutil.copytree(
        handler_package_dir(), package_dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.c", "*.h")
    )
    artifacts = staging_dir / ARTIFACTS_DIR
    artifacts.mkdir(parents=True)
    # Keep the YAML/JSON names: the handler finds them by GraphStorm's model_fn rules.
    shutil.copy2(model_file, artifacts / MODEL_FILE)
    shutil.copy2(yaml_file, artifacts / yaml_file.name)
    shutil.copy2(json_file, artifacts / json_file.name)
    return StagedArchive(
        extra_files_dir=staging_dir, handler_file=package_dst / "serving" / ENTRY_FILE, artifacts_dir=artifacts
    )
