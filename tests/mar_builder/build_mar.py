"""``gs-build-mar`` over a fixture's artifacts, as the graph-store archive tests call it."""

from __future__ import annotations

from pathlib import Path

from mar_builder import cli as build_cli
from tests.compare import artifacts_dir


def build_mar(export_path: Path, variant: str, *flags: str) -> int:
    """Runs gs-build-mar for ``variant`` (node classification, model name ``m``); its exit code."""
    art = artifacts_dir(variant)
    return build_cli.main([
        "--restore-model-path", str(art),
        "--model-yaml-config-file", str(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"),
        "--graph-json-config-file", str(art / "data_transform_new.json"),
        "--infer-task-type", "node_classification", "--model-name", "m", "--export-path", str(export_path),
        *flags,
    ])
