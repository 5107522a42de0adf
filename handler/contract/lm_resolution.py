"""Language-model names to local directories, hub-free.

GraphStorm passes the LM name of its artifacts (``bert_model`` of ``tokenize_hf`` /
``bert_hf``, ``model_name`` of ``lm_model.node_lm_models``) to transformers'
``from_pretrained``, which takes a directory of that name relative to the working directory,
else the local Hugging Face cache, else downloads it from the hub. Serving must not download
(VPC endpoints, network isolation), so a name resolves here, in this order, to a directory:

1. an explicit ``NAME -> DIR`` mapping (``LMResolver(mapping=...)``, or the ``GS_LM_MODELS``
   environment variable: ``NAME=DIR`` entries separated by ``os.pathsep``);
2. ``<root>/<NAME>`` for each search root: the model archive's ``lm/`` folder, where
   ``gs-build-mar --lm-model NAME=DIR`` copies the tokenizer and LM files;
3. as transformers resolves it offline: an existing directory ``NAME`` (relative to the
   working directory, or absolute), then the local Hugging Face cache.

Only names are resolved here (torch-free); ``handler/transforms/lm_loading.py`` loads what a
resolved directory holds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from handler.contract.names import ARCHIVE_LM_DIR, LM_CONFIG_FILE
from handler.contract.settings import LM_MODELS_ENV

__all__ = ["ARCHIVE_LM_DIR", "LM_MODELS_ENV", "LMNotFoundError", "LMResolver", "env_lm_mapping", "parse_lm_mapping"]

# One tokenizer thread per worker, as torch (docs/performance.md): TorchServe scales by workers.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class LMNotFoundError(FileNotFoundError):
    """A language-model name resolves to no local directory."""


def parse_lm_mapping(entries: Iterable[str]) -> dict[str, Path]:
    """``NAME=DIR`` strings (the ``--lm-model`` flag) as a mapping.

    Args:
        entries: ``NAME=DIR`` strings.

    Returns:
        NAME -> DIR (as given, not resolved).

    Raises:
        ValueError: an entry without ``=``, with an empty side, or a name given twice.
    """
    mapping: dict[str, Path] = {}
    for entry in entries:
        name, sep, directory = entry.partition("=")
        name, directory = name.strip(), directory.strip()
        if not sep or not name or not directory:
            raise ValueError(f"language model {entry!r} is not NAME=DIR")
        if name in mapping:
            raise ValueError(f"language model {name!r} is given twice")
        mapping[name] = Path(directory)
    return mapping


def env_lm_mapping() -> dict[str, Path]:
    """The ``GS_LM_MODELS`` mapping (empty when unset)."""
    raw = os.environ.get(LM_MODELS_ENV, "")
    return parse_lm_mapping(e for e in raw.split(os.pathsep) if e.strip())


@dataclass(frozen=True)
class LMResolver:
    """Resolves LM names to local directories (see the module docstring for the order).

    Attributes:
        mapping: explicit NAME -> DIR.
        search_roots: folders holding ``<NAME>/`` LM directories.
    """

    mapping: Mapping[str, Path] = field(default_factory=dict)
    search_roots: tuple[Path, ...] = ()

    @classmethod
    def for_model_dir(cls, model_dir: str | Path | None,
                      mapping: Mapping[str, Path] | None = None) -> LMResolver:
        """The resolver a server uses: ``GS_LM_MODELS`` and ``mapping``, then ``<model_dir>/lm``.

        Args:
            model_dir: the unpacked model archive (None: no archive).
            mapping: explicit NAME -> DIR, over ``GS_LM_MODELS``.

        Returns:
            The resolver.
        """
        roots = (Path(model_dir) / ARCHIVE_LM_DIR,) if model_dir is not None else ()
        return cls(mapping={**env_lm_mapping(), **(mapping or {})}, search_roots=roots)

    def resolve(self, name: str) -> Path:
        """The local directory of the LM ``name``.

        Args:
            name: the LM name as the artifacts spell it.

        Returns:
            An absolute directory holding ``config.json`` (and the tokenizer files).

        Raises:
            LMNotFoundError: nothing local has it; the message says where it looked.
        """
        if name in self.mapping:
            directory = Path(self.mapping[name])
            if not (directory / LM_CONFIG_FILE).is_file():
                raise LMNotFoundError(
                    f"language model {name!r}: {str(directory)!r} (given explicitly) has no {LM_CONFIG_FILE}"
                )
            return directory.resolve()
        for root in self.search_roots:
            if (root / name / LM_CONFIG_FILE).is_file():
                return (root / name).resolve()
        if (Path(name) / LM_CONFIG_FILE).is_file():
            return Path(name).resolve()
        cached = _hf_cache_snapshot(name)
        if cached is not None:
            return cached
        looked = [str(r / name) for r in self.search_roots]
        looked += [str(Path(name).resolve()), "the local Hugging Face cache"]
        raise LMNotFoundError(
            f"language model {name!r} not found locally (looked in: {', '.join(looked)}); the hub is "
            f"not used at serving time: build the archive with --lm-model {name}=DIR, or set "
            f"{LM_MODELS_ENV}={name}=DIR"
        )


def _hf_cache_snapshot(name: str) -> Path | None:
    """The cached snapshot directory of hub repo ``name``, without network access."""
    try:
        from huggingface_hub import snapshot_download
        path = Path(snapshot_download(name, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached, not a valid repo id, or no hub library
        return None
    return path if (path / LM_CONFIG_FILE).is_file() else None
