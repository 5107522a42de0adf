"""Loading a resolved language-model directory (``contract/lm_resolution.py``), once per process.

Loaders read with ``local_files_only=True`` and are cached per directory: a process loads a
tokenizer or a pretrained LM once, however many transforms, models or requests use it.
transformers is imported on first use only, so models without text do not pay for it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any


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

