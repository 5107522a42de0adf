"""Language-model names to local directories, and loading them once per process, hub-free.

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

Loaders read with ``local_files_only=True`` and are cached per directory: a process loads a
tokenizer or a pretrained LM once, however many transforms, models or requests use it.
transformers is imported on first use only, so models without text do not pay for it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        looked = [str(r / name) for r in self.search_roots] + [str(Path(name).resolve()), "the local Hugging Face cache"]
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


@functools.cache
def load_tokenizer(lm_dir: Path) -> Any:
    """The fast (Rust) tokenizer of ``lm_dir``, loaded once per process.

    Args:
        lm_dir: a resolved LM directory.

    Returns:
        A ``transformers.PreTrainedTokenizerFast``.

    Raises:
        ValueError: the directory has no tokenizer transformers can make a fast one of.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(lm_dir), local_files_only=True, use_fast=True)
    if not tokenizer.is_fast:
        raise ValueError(f"{lm_dir}: no fast tokenizer (tokenizer.json) for this language model")
    return tokenizer


@functools.cache
def load_pretrained_lm(lm_dir: Path) -> Any:
    """The pretrained LM of ``lm_dir`` in eval mode, loaded once per process (``bert_hf``).

    Args:
        lm_dir: a resolved LM directory.

    Returns:
        A ``transformers.PreTrainedModel`` on the CPU. Shared: callers must not change it.
    """
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(lm_dir), local_files_only=True)
    for param in model.parameters():
        param.requires_grad_(False)
    return model.eval()


def build_lm(lm_dir: Path, overrides: Mapping[str, Any] | None = None) -> Any:
    """A fresh LM with ``lm_dir``'s architecture and uninitialised-to-be-loaded weights.

    LM node encoders take their (fine-tuned) weights from ``model.bin``, so only the config
    is read here; ``overrides`` are the training-time ``AutoConfig`` keyword arguments.

    Args:
        lm_dir: a resolved LM directory.
        overrides: config attributes to set, as GraphStorm's ``load_hfbert_model`` does.

    Returns:
        A ``transformers.PreTrainedModel`` in eval mode (randomly initialised).
    """
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(lm_dir), local_files_only=True, **dict(overrides or {}))
    return AutoModel.from_config(config).eval()

