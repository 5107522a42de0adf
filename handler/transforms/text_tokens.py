"""``TextTokens``: the value a ``tokenize_hf`` feature carries, and the text-value rules.

Numeric transforms give one float32 matrix per feature. GConstruct's ``tokenize_hf`` gives
three integer matrices instead (``input_ids`` int64, ``attention_mask`` and
``token_type_ids`` int8, GraphStorm's storage dtypes), which only a language-model node
encoder reads. ``TextTokens`` keeps them together, so that a payload graph can carry them next
to the float features and a batch can concatenate them row-wise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from handler.transforms.base import FeatureValueError


@dataclass(frozen=True)
class TextTokens:
    """Tokenized text of n rows (nodes), padded / truncated to one sequence length.

    Attributes:
        input_ids: token ids, int64.
        attention_mask: 1 for real tokens, 0 for padding, int8.
        token_type_ids: segment ids (zeros where the tokenizer has none), int8.

    Shapes:
        each: [n, max_seq_length].
    """

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def seq_length(self) -> int:
        """Tokens per row."""
        return self.input_ids.shape[1]

    @classmethod
    def concat(cls, parts: Sequence[TextTokens]) -> TextTokens:
        """The rows of ``parts``, in order, as one ``TextTokens`` (one sequence length).

        Raises:
            ValueError: no parts, or parts of different sequence lengths.
        """
        if not parts:
            raise ValueError("no TextTokens to concatenate")
        if len(parts) == 1:
            return parts[0]
        return cls(
            input_ids=np.concatenate([p.input_ids for p in parts]),
            attention_mask=np.concatenate([p.attention_mask for p in parts]),
            token_type_ids=np.concatenate([p.token_type_ids for p in parts]),
        )

    def model_inputs(self, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """Keyword arguments of a Hugging Face model's forward.

        All three as int64, as GraphStorm's training-time ``HFBertWrapper`` passes them (rule
        T13: the stored int8 masks make ``nn.Embedding`` fail).

        Shapes:
            each value: [n, max_seq_length].
        """
        return {
            "input_ids": torch.from_numpy(self.input_ids).to(device, torch.int64),
            "attention_mask": torch.from_numpy(self.attention_mask).to(device, torch.int64),
            "token_type_ids": torch.from_numpy(self.token_type_ids).to(device, torch.int64),
        }


def text_values(raw_values: Sequence[Any]) -> list[str]:
    """The payload's text values as strings: a string, or a one-element list of one (T6).

    Args:
        raw_values: one raw value per row, as decoded from JSON (or a numpy array of a columnar
            request's numbers or booleans: read as the JSON values it holds).

    Returns:
        One string per row.

    Raises:
        FeatureValueError: a value is not a string (number, null, other lists: rule T16).
    """
    if isinstance(raw_values, np.ndarray):  # never text: its error names the JSON value's kind
        raw_values = raw_values.tolist()
    texts = []
    for row, value in enumerate(raw_values):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, str):
            raise FeatureValueError(row, f"is not a text string (got {_kind(value)})")
        texts.append(value)
    try:  # one pass for all rows; the tokenizer cannot take a lone surrogate ("\ud800")
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        row = next(r for r, t in enumerate(texts) if not _is_utf8(t))
        raise FeatureValueError(row, "is not valid Unicode text (it holds a lone surrogate)") from None
    return texts


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return f"a list of {len(value)} values"
    return type(value).__name__
