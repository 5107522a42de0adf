"""Language-model files in the archive: ``--lm-model NAME=DIR`` and the names the artifacts use.

A model whose artifacts name an LM (``tokenize_hf`` / ``bert_hf`` ``bert_model`` in the
GConstruct JSON, ``lm_model.node_lm_models[].model_name`` in the training YAML) is served
from the archive alone: each such LM's tokenizer, config and weights are copied to
``artifacts/lm/<NAME>/``, where the handler's ``LMResolver`` looks first after explicit
mappings, with the hub never consulted. A name not given with ``--lm-model`` is taken from
where transformers would find it offline at build time (a directory of that name in the
working directory, the local Hugging Face cache); failing that, the build stops.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from handler.contract.lm_config import LM_COPY_IGNORED, required_lm_names
from handler.contract.lm_resolution import LMNotFoundError, LMResolver
from handler.contract.names import ARCHIVE_LM_DIR

__all__ = ["required_lm_names", "stage_lm_models"]



def stage_lm_models(artifacts_dir: Path, explicit: Mapping[str, Path], needed: list[str]) -> dict[str, Path]:
    """Copies every explicit and every needed LM into ``artifacts_dir/lm/<NAME>/``.

    Args:
        artifacts_dir: the staged artifacts folder.
        explicit: ``--lm-model`` NAME -> DIR.
        needed: the names the artifacts use.

    Returns:
        NAME -> the directory it was copied from.

    Raises:
        FileNotFoundError: a name resolves to no local directory, or an explicit DIR has no
            ``config.json``.
        ValueError: a name cannot be a folder of the archive (absolute, ``..``).
    """
    resolver = LMResolver(mapping=dict(explicit))
    sources = {}
    for name in sorted(set(needed) | set(explicit)):
        target = artifacts_dir / ARCHIVE_LM_DIR / _archive_folder(name)
        try:
            source = resolver.resolve(name)
        except LMNotFoundError as err:
            raise FileNotFoundError(f"{err}. Give it as --lm-model {name}=DIR") from None
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(*LM_COPY_IGNORED))
        sources[name] = source
    return sources


def _archive_folder(name: str) -> str:
    """``name`` as a relative folder path (hub names like ``org/model`` keep their slash)."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(
            f"language model {name!r}: the artifacts name it by a path the archive cannot hold; "
            "name it by a plain name in the artifacts"
        )
    return path.as_posix()
