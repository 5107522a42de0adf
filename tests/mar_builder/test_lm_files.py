"""LM files for the archive: the names the artifacts use, copied from --lm-model or found offline."""

from __future__ import annotations

import pytest

from mar_builder.lm_files import required_lm_names, stage_lm_models
from tests.handler.npz_graph import fixture_path

NAME = "gs-tiny-bert"


@pytest.mark.parametrize("variant", ["rgcn_nc_lm", "rgcn_nc_text_bert"])
def test_names_from_json_and_yaml(variant):
    art = fixture_path(variant, "artifacts")
    assert required_lm_names(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml",
                             art / "data_transform_new.json") == [NAME]


def test_no_names_without_text():
    art = fixture_path("rgcn_nc", "artifacts")
    assert required_lm_names(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml",
                             art / "data_transform_new.json") == []


def test_explicit_dir_is_copied_under_lm(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = fixture_path("rgcn_nc_lm", "lm", NAME)
    assert stage_lm_models(tmp_path / "art", {NAME: source}, [NAME]) == {NAME: source.resolve()}
    copied = sorted(p.name for p in (tmp_path / "art" / "lm" / NAME).iterdir())
    assert copied == sorted(p.name for p in source.iterdir())


def test_needed_name_found_in_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(fixture_path("rgcn_nc_lm", "lm"))
    stage_lm_models(tmp_path / "art", {}, [NAME])
    assert (tmp_path / "art" / "lm" / NAME / "config.json").is_file()


def test_needed_name_not_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"--lm-model {NAME}=DIR"):
        stage_lm_models(tmp_path / "art", {}, [NAME])


def test_absolute_name_cannot_be_archived(tmp_path):
    with pytest.raises(ValueError, match="plain name"):
        stage_lm_models(tmp_path / "art", {}, ["/opt/models/bert"])


def test_gs_build_mar_refuses_an_lm_it_cannot_archive(tmp_path, monkeypatch, capsys):
    from mar_builder.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    art = fixture_path("rgcn_nc_lm", "artifacts")
    argv = ["--restore-model-path", str(art),
            "--model-yaml-config-file", str(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"),
            "--graph-json-config-file", str(art / "data_transform_new.json"),
            "--infer-task-type", "node_classification", "--model-name", "m", "--export-path", str(tmp_path)]
    assert main(argv) == 2
    assert f"--lm-model {NAME}=DIR" in capsys.readouterr().err
    assert main([*argv, "--lm-model", f"{NAME}={tmp_path}"]) == 2  # no config.json there
    assert not (tmp_path / "m.mar").exists()
