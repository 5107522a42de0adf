"""GConstruct's ``bert_hf`` (``Text2BERT``): raw text to the pretrained LM's pooler output.

GConstruct 0.5.1 tokenizes as ``tokenize_hf`` does, runs the named pretrained LM (frozen,
eval mode) with int64 masks in chunks of ``infer_batch_size`` rows (default 1024) and keeps
``pooler_output`` as the feature, cast to ``out_dtype`` (default float32). GraphStorm's
real-time path reloads the tokenizer and the LM on every request; here both are loaded once
per process (``handler.contract.lm_resolution``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handler.transforms.base import FeatureTransform
from handler.transforms.lm_loading import load_pretrained_lm
from handler.transforms.text_tokens import text_values
from handler.transforms.tokenize_hf import TokenizeHFTransform

DEFAULT_INFER_BATCH_SIZE = 1024


class BertHFTransform(FeatureTransform):
    """``bert_hf``: text -> float32 LM embedding per row.

    Args:
        name: the feature name.
        lm_dir: resolved directory of the pretrained LM (``bert_model``).
        max_seq_length: tokens per row after truncation / padding.
        infer_batch_size: rows per LM forward.
        dtype: GConstruct's ``out_dtype`` (the value is returned as float32 after it).
    """

    def __init__(self, name: str, lm_dir: Path, max_seq_length: int,
                 infer_batch_size: int = DEFAULT_INFER_BATCH_SIZE, dtype: type = np.float32) -> None:
        super().__init__(name)
        self.tokenizer = TokenizeHFTransform(name, lm_dir, max_seq_length)
        self.lm = load_pretrained_lm(lm_dir)
        self.infer_batch_size = int(infer_batch_size)
        self.dtype = dtype

    @property
    def dim(self) -> int:
        """Embedding size (the LM's hidden size)."""
        return int(self.lm.config.hidden_size)

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        """Shapes: raw_values [n] -> [n, hidden_size]."""
        tokens = self.tokenizer.tokenize(text_values(raw_values))
        if len(tokens) == 0:
            return np.zeros((0, self.dim), dtype=self.dtype)
        inputs = tokens.model_inputs()
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(tokens), self.infer_batch_size):
                part = {k: v[start:start + self.infer_batch_size] for k, v in inputs.items()}
                chunks.append(self.lm(**part).pooler_output)
        return torch.cat(chunks).numpy().astype(self.dtype, copy=False)
