"""Language models shipped in the model tarball: ``--lm-model NAME=DIR`` and the names a model uses.

A model whose artifacts name a Hugging Face language model (the ``bert_model`` of a
``tokenize_hf`` / ``bert_hf`` transform in the GConstruct JSON, ``lm_model.node_lm_models[].
model_name`` in the training YAML) is served from the tarball alone: the container never
downloads (``HF_HUB_OFFLINE=1``), so each LM's tokenizer, config and weights travel as
``lm/<NAME>/`` beside the raw artifacts, where the container's handler looks (in a `.mar`,
gs-build-mar puts them under ``artifacts/lm/<NAME>/``, same rule). The same rules as
mar_builder/lm_files.py, restated here because the deploy tools import nothing of the serving
code (Python >= 3.9, boto3 and pyyaml only).
"""

from __future__ import annotations

import fnmatch
import os
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

import yaml

from handler.contract.lm_config import LM_COPY_IGNORED
from handler.contract.lm_config import required_lm_names as _artifact_lm_names
from handler.contract.names import ARCHIVE_LM_DIR, LM_CONFIG_FILE


def required_lm_names(yaml_file: Path, json_file: Path) -> list[str]:
    """The LM names the artifacts use, sorted (unreadable files give none: reported elsewhere).

    Args:
        yaml_file: the training-config YAML.
        json_file: the GConstruct JSON.

    Returns:
        Distinct LM names.
    """
    try:
        return _artifact_lm_names(yaml_file, json_file)
    except (OSError, ValueError, yaml.YAMLError, AttributeError):
        return []


def archive_folder(name: str) -> str:
    """``name`` as a relative folder of the tarball (hub names like ``org/model`` keep their slash).

    Raises:
        ValueError: the name is absolute or climbs out (``..``).
    """
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"language model {name!r}: the artifacts name it by a path a tarball cannot hold")
    return path.as_posix()


def lm_problems(given: Mapping[str, Path], needed: Iterable[str], must_give_all: bool) -> list[str]:
    """Problems with ``--lm-model`` before anything is packed or created.

    Args:
        given: ``--lm-model`` NAME -> DIR.
        needed: the names the artifacts use.
        must_give_all: every needed name must be given (a raw-artifacts tarball: nothing else
            can find it); with a `.mar`, gs-build-mar also looks in the working directory and
            the local Hugging Face cache.

    Returns:
        Human-readable problems (empty when fine).
    """
    problems = []
    for name, directory in sorted(given.items()):
        try:
            archive_folder(name)
        except ValueError as err:
            problems.append(str(err))
        if not (directory / LM_CONFIG_FILE).is_file():
            problems.append(f"--lm-model {name}={directory}: no {LM_CONFIG_FILE} there (a Hugging Face "
                            "model folder, e.g. from save_pretrained, is expected)")
    missing = sorted(set(needed) - set(given))
    if must_give_all and missing:
        problems.append(
            "the model uses the language model(s) " + ", ".join(missing) + ", which the container "
            "cannot download: give each as --lm-model NAME=DIR (the tokenizer and model files, "
            "shipped in the model tarball)")
    return problems


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in LM_COPY_IGNORED)


def lm_files(given: Mapping[str, Path]) -> list[tuple[Path, str]]:
    """Every file to ship: (local path, name in the tarball ``lm/<NAME>/...``), sorted.

    Args:
        given: ``--lm-model`` NAME -> DIR.

    Returns:
        The files, other frameworks' weights left out.
    """
    files = []
    for name, directory in sorted(given.items()):
        root = PurePosixPath(ARCHIVE_LM_DIR, archive_folder(name))
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
            rel = Path(dirpath).relative_to(directory)
            for filename in sorted(f for f in filenames if not _ignored(f)):
                files.append((Path(dirpath) / filename, str(root.joinpath(*rel.parts, filename))))
    return files


def add_lm_files(tar: tarfile.TarFile, given: Mapping[str, Path]) -> None:
    """Adds the LM files to an open tarball under ``lm/<NAME>/``."""
    for path, arcname in lm_files(given):
        tar.add(path, arcname=arcname)
