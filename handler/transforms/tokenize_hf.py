"""GConstruct's ``tokenize_hf`` (``Tokenizer``): raw text to BERT-style token matrices.

GConstruct 0.5.1 tokenizes one string at a time with ``max_length=max_seq_length,
truncation=True, padding='max_length'`` and stores ``input_ids`` as int64 and
``attention_mask`` / ``token_type_ids`` as int8 (zeros when the tokenizer has no token types).
Here the whole column goes through the fast tokenizer in one call: with fixed-length padding
every row is tokenized exactly as alone, without a Python loop over nodes or tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handler.transforms.base import FeatureTransform
from handler.transforms.lm_loading import load_tokenizer
from handler.transforms.text_tokens import TextTokens, text_values


class TokenizeHFTransform(FeatureTransform):
    """``tokenize_hf``: text -> ``TextTokens`` (the one transform whose value is not a float
    matrix; only language-model node encoders read it).

    Args:
        name: the feature name.
        lm_dir: resolved directory of the LM (``bert_model``) whose tokenizer is used.
        max_seq_length: tokens per row after truncation / padding.
    """

    def __init__(self, name: str, lm_dir: Path, max_seq_length: int) -> None:
        super().__init__(name)
        if not isinstance(max_seq_length, int) or max_seq_length <= 0:
            raise ValueError(f"feature {name}: max_seq_length must be a positive integer, got {max_seq_length!r}")
        self.lm_dir = lm_dir
        self.max_seq_length = max_seq_length
        self.tokenizer = load_tokenizer(lm_dir)

    def apply(self, raw_values: Sequence[Any]) -> TextTokens:  # type: ignore[override]
        """Tokenizes every row's text.

        Args:
            raw_values: one string (or one-element list of a string, T6) per row.

        Returns:
            The tokens.

        Shapes:
            each matrix of the result: [len(raw_values), max_seq_length].

        Raises:
            FeatureValueError: a value is not a string (T16), naming its row.
        """
        return self.tokenize(text_values(raw_values))

    def tokenize(self, texts: list[str]) -> TextTokens:
        """Tokenizes checked strings (see ``apply``)."""
        n, length = len(texts), self.max_seq_length
        if n == 0:
            empty = np.zeros((0, length), dtype=np.int8)
            return TextTokens(empty.astype(np.int64), empty, empty.copy())
        enc = self.tokenizer(texts, max_length=length, truncation=True, padding="max_length",
                             return_tensors="np")
        input_ids = np.asarray(enc["input_ids"], dtype=np.int64)
        attention_mask = np.asarray(enc["attention_mask"], dtype=np.int8)
        if "token_type_ids" in enc:
            token_type_ids = np.asarray(enc["token_type_ids"], dtype=np.int8)
        else:
            token_type_ids = np.zeros_like(attention_mask)
        return TextTokens(input_ids, attention_mask, token_type_ids)

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        raise TypeError("tokenize_hf gives TextTokens, not a float matrix: use apply()")
