"""``handler.contract.artifacts``: GraphStorm ``model_fn``'s artifact naming rules."""

from __future__ import annotations

import pytest

from handler.contract.artifacts import ArtifactError, locate_artifacts
from tests.compare import VARIANTS, artifacts_dir


@pytest.mark.parametrize("variant", VARIANTS)
def test_fixture_artifacts(variant: str) -> None:
    paths = locate_artifacts(artifacts_dir(variant))
    assert paths.model_bin.name == "model.bin"
    assert paths.yaml.name == "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"
    assert paths.transform_json.name == "data_transform_new.json"


def _touch(root, *names: str) -> None:
    for name in names:
        (root / name).write_text("x")


def test_defaults_win_over_other_files(tmp_path) -> None:
    _touch(tmp_path, "model.bin", "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml", "a.yaml",
           "data_transform_new.json", "b.json")
    paths = locate_artifacts(tmp_path)
    assert paths.yaml.name == "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"
    assert paths.transform_json.name == "data_transform_new.json"


def test_custom_names(tmp_path) -> None:
    _touch(tmp_path, "model.bin", "train.yaml", "gconstruct.json")
    paths = locate_artifacts(tmp_path)
    assert (paths.yaml.name, paths.transform_json.name) == ("train.yaml", "gconstruct.json")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (["train.yaml", "g.json"], "model.bin"),
        (["model.bin", "g.json"], "YAML"),
        (["model.bin", "train.yaml"], "JSON"),
        (["model.bin", "a.yaml", "b.yaml", "g.json"], "several"),
    ],
)
def test_missing_or_ambiguous(tmp_path, files: list[str], message: str) -> None:
    _touch(tmp_path, *files)
    with pytest.raises(ArtifactError, match=message):
        locate_artifacts(tmp_path)


def test_missing_directory(tmp_path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        locate_artifacts(tmp_path / "nope")
