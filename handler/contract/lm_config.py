"""The training YAML's ``lm_model.node_lm_models``: which language model encodes which nodes.

GraphStorm's ``GSLMNodeEncoderInputLayer`` runs one Hugging Face model per entry over the
tokenized text (``tokenize_hf``) of its node types and appends the ``pooler_output`` to those
node types' other input features. ``load_hfbert_model`` passes every key but ``model_name``
to ``AutoConfig.from_pretrained``; the keys GraphStorm itself reads (``lm_type``,
``node_types``, ``gradient_checkpoint``) change nothing at inference, any other key is a
config override of the LM architecture.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from handler.contract.artifacts import read_training_yaml, read_transform_json
from handler.contract.errors import UnsupportedConfigError
from handler.contract.names import TEXT_TRANSFORMS

# graphstorm.model.lm_model.utils.BUILTIN_LM_MODELS (0.5.1): all Hugging Face AutoModels
# whose embedding is pooler_output.
BUILTIN_LM_TYPES = (
    "bert", "roberta", "albert", "camembert", "ernie", "ibert", "luke", "mega", "mpnet", "nezha",
    "qdqbert", "roc_bert",
)
_GRAPHSTORM_KEYS = ("model_name", "lm_type", "node_types", "gradient_checkpoint")
# Files of a Hugging Face model folder that an archive need not carry: weights of other
# frameworks (transformers loads the PyTorch ones) and caches.
LM_COPY_IGNORED = ("tf_model.h5", "flax_model.msgpack", "rust_model.ot", "*.onnx", "onnx", "coreml",
                   "*.mlmodel", "__pycache__", ".git", ".cache")


@dataclass(frozen=True)
class LMNodeModelSpec:
    """One entry of ``lm_model.node_lm_models``.

    Attributes:
        lm_type: GraphStorm's LM type (one of ``BUILTIN_LM_TYPES``).
        model_name: the LM name (resolved by ``handler.contract.lm_resolution``).
        node_types: the node types it encodes, sorted (GraphStorm sorts them for the key).
        config_overrides: ``AutoConfig`` keyword arguments from the entry's other keys.
    """

    lm_type: str
    model_name: str
    node_types: tuple[str, ...]
    config_overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """GraphStorm's module key: the sorted node types joined by commas."""
        return ",".join(self.node_types)


def parse_node_lm_models(raw: Any) -> tuple[LMNodeModelSpec, ...]:
    """Parses the YAML's top-level ``lm_model`` block.

    Args:
        raw: the ``lm_model`` value (None or empty: no LM node encoder).

    Returns:
        One spec per ``node_lm_models`` entry, in file order.

    Raises:
        UnsupportedConfigError: ``distill_lm_models`` or another unknown block, an unknown
            ``lm_type``, or a node type encoded by two LMs.
        ValueError: a malformed entry.
    """
    if not raw:
        return ()
    if not isinstance(raw, Mapping):
        raise ValueError(f"lm_model must be a mapping, got {raw!r}")
    other = sorted(set(raw) - {"node_lm_models"})
    if other:
        raise UnsupportedConfigError(f"lm_model: {', '.join(other)} not supported (only node_lm_models)")
    entries = raw.get("node_lm_models") or []
    if not isinstance(entries, list):
        raise ValueError("lm_model.node_lm_models must be a list")
    specs, seen = [], set()
    for entry in entries:
        spec = _entry(entry)
        for ntype in spec.node_types:
            if ntype in seen:
                raise UnsupportedConfigError(f"lm_model: node type {ntype!r} has more than one language model")
            seen.add(ntype)
        specs.append(spec)
    return tuple(specs)


def _entry(entry: Any) -> LMNodeModelSpec:
    if not isinstance(entry, Mapping):
        raise ValueError(f"lm_model.node_lm_models entry {entry!r} is not a mapping")
    for key in ("lm_type", "model_name", "node_types"):
        if key not in entry:
            raise ValueError(f"lm_model.node_lm_models entry {dict(entry)!r} has no {key!r}")
    lm_type = entry["lm_type"]
    if lm_type not in BUILTIN_LM_TYPES:
        raise UnsupportedConfigError(
            f"lm_model: lm_type {lm_type!r} is not supported (supported: {', '.join(BUILTIN_LM_TYPES)})"
        )
    node_types = entry["node_types"]
    if isinstance(node_types, str):
        node_types = [node_types]
    if not node_types or not all(isinstance(nt, str) for nt in node_types):
        raise ValueError(f"lm_model: node_types must be a non-empty list of node types, got {node_types!r}")
    overrides = {k: v for k, v in entry.items() if k not in _GRAPHSTORM_KEYS}
    return LMNodeModelSpec(
        lm_type=lm_type,
        model_name=str(entry["model_name"]),
        node_types=tuple(sorted(node_types)),
        config_overrides=MappingProxyType(overrides),
    )


def required_lm_names(yaml_file: Path, json_file: Path) -> list[str]:
    """The language-model names the artifacts use, sorted: ``bert_model`` of the text transforms
    of the GConstruct JSON and ``model_name`` of the YAML's ``lm_model.node_lm_models``.

    Args:
        yaml_file: the training-config YAML.
        json_file: the GConstruct JSON.

    Returns:
        Distinct LM names.

    Raises:
        OSError, ValueError, yaml.YAMLError: a file cannot be read.
    """
    names = set()
    conf = read_transform_json(json_file)
    raw = read_training_yaml(yaml_file) or {}
    blocks = [*(conf.get("nodes") or []), *(conf.get("edges") or [])] if isinstance(conf, Mapping) else []
    for block in blocks:
        for feat in block.get("features") or []:
            transform = feat.get("transform") or {}
            if transform.get("name") in TEXT_TRANSFORMS and "bert_model" in transform:
                names.add(str(transform["bert_model"]))
    lm_model = raw.get("lm_model") if isinstance(raw, Mapping) else None
    for entry in (lm_model or {}).get("node_lm_models") or []:
        if isinstance(entry, Mapping) and "model_name" in entry:
            names.add(str(entry["model_name"]))
    return sorted(names)
