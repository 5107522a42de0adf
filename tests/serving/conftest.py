"""Fixtures for the TorchServe integration tests: .mar files built by gs-build-mar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from handler.contract.names import TRAINING_CONFIG_FILE, TRANSFORM_FILE
from mar_builder.cli import main as gs_build_mar
from tests.compare import artifacts_dir


def build_fixture_mar(variant: str, export_path: Path, *, name: str | None = None,
                      version: str = "1.0", flags: tuple[str, ...] = ()) -> Path:
    """Builds ``export_path/<name or variant>.mar`` from a test fixture with gs-build-mar.

    Args:
        variant: fixture name (tests/fixtures/<variant>).
        export_path: folder for the .mar (the model store).
        name: model name (default: the variant).
        version: model version.
        flags: further gs-build-mar flags (batching, workers, --http-status).

    Returns:
        The .mar path.
    """
    art = artifacts_dir(variant)
    name = name or variant
    argv = [
        "--restore-model-path", str(art),
        "--model-yaml-config-file", str(art / TRAINING_CONFIG_FILE),
        "--graph-json-config-file", str(art / TRANSFORM_FILE),
        "--infer-task-type", fixture_task_type(variant),
        "--model-name", name,
        "--model-version", version,
        "--export-path", str(export_path),
        *flags,
    ]
    assert gs_build_mar(argv) == 0, argv
    return export_path / f"{name}.mar"


def fixture_task_type(variant: str) -> str:
    """The task a fixture's model was trained for (``runtime.task_type`` of its training YAML)."""
    raw = yaml.safe_load((artifacts_dir(variant) / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml").read_text())
    return raw["gsf"]["runtime"]["task_type"]


@pytest.fixture(scope="session")
def mar_builder() -> Callable[..., Path]:
    """`build_fixture_mar` as a fixture."""
    return build_fixture_mar
