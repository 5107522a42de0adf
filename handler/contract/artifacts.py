"""Finds the three model artifacts in a model directory, with GraphStorm's ``model_fn`` rules.

Default names first (``model.bin``, ``GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml``,
``data_transform_new.json``); without a default YAML / JSON, a file with that extension is
used instead. GraphStorm takes the first one ``os.listdir`` yields; we refuse to guess between
several.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from handler.contract.names import MODEL_FILE, TRAINING_CONFIG_FILE, TRANSFORM_FILE

__all__ = ["MODEL_FILE", "TRAINING_CONFIG_FILE", "TRANSFORM_FILE", "ArtifactError", "ArtifactPaths",
           "locate_artifacts", "read_training_yaml", "read_transform_json"]


class ArtifactError(FileNotFoundError):
    """A model directory lacks an artifact or holds an ambiguous set of them."""


@dataclass(frozen=True)
class ArtifactPaths:
    """Paths of the artifacts of one model.

    Attributes:
        model_bin: the ``torch.save``'d state dicts.
        yaml: the runtime training config.
        transform_json: GConstruct's ``data_transform_new.json``.
    """

    model_bin: Path
    yaml: Path
    transform_json: Path


def locate_artifacts(model_dir: str | Path) -> ArtifactPaths:
    """Locates ``model.bin``, the training YAML and the GConstruct JSON in ``model_dir``.

    Args:
        model_dir: directory holding the unpacked model artifacts.

    Returns:
        The artifact paths.

    Raises:
        ArtifactError: the directory or an artifact is missing, or a non-default name is
            ambiguous (several ``*.yaml`` or ``*.json`` files and no default one).
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise ArtifactError(f"model directory {str(root)!r} does not exist")
    files = sorted(p.name for p in root.iterdir() if p.is_file())
    if MODEL_FILE not in files:
        raise ArtifactError(f"missing model file {MODEL_FILE!r} in {str(root)!r}")
    return ArtifactPaths(
        model_bin=root / MODEL_FILE,
        yaml=root / _pick(files, TRAINING_CONFIG_FILE, ".yaml", "training config YAML", root),
        transform_json=root / _pick(files, TRANSFORM_FILE, ".json", "GConstruct config JSON", root),
    )


def _pick(files: list[str], default: str, suffix: str, what: str, root: Path) -> str:
    """The default file if present, else the single file with ``suffix``."""
    if default in files:
        return default
    candidates = [f for f in files if f.endswith(suffix)]
    if not candidates:
        raise ArtifactError(f"missing {what} ({default!r} or one '*{suffix}' file) in {str(root)!r}")
    if len(candidates) > 1:
        raise ArtifactError(
            f"no {default!r} and several '*{suffix}' files in {str(root)!r}: {candidates}; "
            f"rename the {what} to {default!r}"
        )
    return candidates[0]


def read_transform_json(path: str | Path) -> Any:
    """The one reader of GConstruct's ``data_transform_new.json``: the loaded document.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not JSON.
    """
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_training_yaml(path: str | Path) -> Any:
    """The one reader of the runtime training YAML: the loaded document (None when empty).

    Raises:
        OSError: the file cannot be read.
        yaml.YAMLError: it is not YAML.
    """
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)
