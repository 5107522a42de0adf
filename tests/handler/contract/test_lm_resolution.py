"""LM names to local directories: explicit mapping, archive folder, working directory, HF cache."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from handler.contract.lm_resolution import LM_MODELS_ENV, LMNotFoundError, LMResolver, parse_lm_mapping
from handler.transforms.lm_loading import build_lm
from tests.handler.npz_graph import fixture_path

NAME = "gs-tiny-bert"
TINY = fixture_path("rgcn_nc_lm", "lm", NAME)


def _copy(dst: Path) -> Path:
    shutil.copytree(TINY, dst)
    return dst


def test_explicit_mapping_wins(tmp_path, monkeypatch):
    root, mapped = _copy(tmp_path / "root" / NAME).parent, _copy(tmp_path / "mapped")
    monkeypatch.chdir(tmp_path)
    assert LMResolver(mapping={NAME: mapped}, search_roots=(root,)).resolve(NAME) == mapped.resolve()


def test_archive_folder_before_working_directory(tmp_path, monkeypatch):
    root = _copy(tmp_path / "model" / "lm" / NAME).parent.parent
    _copy(tmp_path / "cwd" / NAME)
    monkeypatch.chdir(tmp_path / "cwd")
    assert LMResolver.for_model_dir(root).resolve(NAME) == (root / "lm" / NAME).resolve()


def test_directory_relative_to_working_directory_as_transformers(tmp_path, monkeypatch):
    _copy(tmp_path / NAME)
    monkeypatch.chdir(tmp_path)
    assert LMResolver().resolve(NAME) == (tmp_path / NAME).resolve()


def test_local_hugging_face_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    snapshot = tmp_path / "hub" / "models--acme--tiny-bert" / "snapshots" / ("a" * 40)
    _copy(snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("a" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.chdir(tmp_path)
    assert LMResolver().resolve("acme/tiny-bert") == snapshot


def test_environment_mapping(tmp_path, monkeypatch):
    mapped = _copy(tmp_path / "x")
    monkeypatch.setenv(LM_MODELS_ENV, os.pathsep.join([f"other={tmp_path}", f"{NAME}={mapped}"]))
    assert LMResolver.for_model_dir(None).resolve(NAME) == mapped.resolve()


def test_not_found_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LMNotFoundError, match=f"--lm-model {NAME}=DIR"):
        LMResolver(search_roots=(tmp_path / "lm",)).resolve(NAME)


def test_mapping_to_a_folder_without_config(tmp_path):
    with pytest.raises(LMNotFoundError, match="config.json"):
        LMResolver(mapping={NAME: tmp_path}).resolve(NAME)


@pytest.mark.parametrize("entry", ["noequals", "=dir", "name=", " = "])
def test_malformed_mapping(entry):
    with pytest.raises(ValueError, match="NAME=DIR"):
        parse_lm_mapping([entry])


def test_name_given_twice():
    with pytest.raises(ValueError, match="twice"):
        parse_lm_mapping(["a=/x", "a=/y"])


def test_build_lm_reads_only_the_config(tmp_path):
    only_config = tmp_path / NAME
    only_config.mkdir()
    shutil.copy(TINY / "config.json", only_config / "config.json")
    model = build_lm(only_config, {"num_hidden_layers": 1})
    assert model.config.num_hidden_layers == 1 and not model.training
