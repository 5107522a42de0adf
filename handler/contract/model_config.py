"""The model configuration: GraphStorm's runtime training YAML, reduced to what inference needs.

``GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml`` holds ``gsf: {family: {option: value}}``;
GraphStorm flattens the families into one namespace (``GSConfig.set_attributes``) and applies
defaults in ``graphstorm/config/argument.py``. ``ModelConfig`` does the same for the options
that change a model's forward pass, and refuses (``UnsupportedConfigError``, naming the
option) every option that changes inference in a way this server does not implement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from handler.contract.artifacts import read_training_yaml
from handler.contract.edge_task_config import EdgeTaskConfig, parse_edge_task
from handler.contract.errors import UnsupportedConfigError
from handler.contract.lm_config import LMNodeModelSpec, parse_node_lm_models
from handler.contract.names import (  # noqa: F401 (re-exported)
    EDGE_TARGET_TASKS,
    NODE_CLASSIFICATION,
    NODE_TASKS,
    TASKS,
    CanonicalEtype,
    as_etype,
)
from handler.contract.targets import TargetKind, target_kind

GNN_ENCODERS = ("rgcn", "rgat", "hgt", "sage", "gat", "gatv2")
EDGE_FEAT_MP_OPS = ("concat", "add", "sub", "mul", "div")
GNN_NORMS = ("batch", "layer")
# GraphStorm's name for the node type of a homogeneous graph.
DEFAULT_NTYPE = "_N"


@dataclass(frozen=True)
class ModelConfig:
    """The inference-relevant part of a GraphStorm training config (node, edge or link prediction).

    Attributes:
        task_type: one of ``handler.contract.names.TASKS``.
        target_ntypes: node types the decoder predicts (empty for edge tasks).
        encoder_type: GNN encoder (``rgcn``, ``rgat``, ``hgt``, ``sage``, ``gat``, ``gatv2``).
        num_layers: number of GNN layers (message-passing hops).
        hidden_size: input-layer output size and hidden size of the GNN.
        node_feat_names: node type -> payload feature names, in model input order.
        edge_feat_names: canonical edge type -> edge feature names, in model input order.
        out_emb_size: output size of the last GNN layer (``hidden_size`` unless set).
        num_bases: RGCN basis count (-1: one weight per relation).
        use_self_loop: RGCN/RGAT self-loop weight.
        num_heads: attention heads (RGAT, HGT, GAT, GATv2).
        gnn_norm: ``None``, ``batch`` or ``layer`` normalisation inside hidden GNN layers.
        num_ffn_layers_in_gnn: extra MLP layers after each hidden GNN layer.
        num_ffn_layers_in_input: extra MLP layers in the node/edge input layers.
        input_activation: ``None`` or ``relu`` after the input projections.
        edge_feat_mp_op: how edge embeddings join source embeddings in messages.
        num_classes: classes per target node type (classification only).
        multilabel: multi-label (sigmoid) classification per target node type.
        focal_loss: binary classifier trained with focal loss (one sigmoid output).
        decoder_per_ntype: one decoder per target node type (``num_classes`` given per type).
        decoder_bias: whether the decoder has a bias.
        gsf: the raw ``gsf`` families, flattened (option -> value), for encoder builders.
        edge_task: target relation, decoder and message-passing options of an edge
            classification / regression or link-prediction model (``None`` for node tasks).
        lm_models: ``lm_model.node_lm_models``: language-model node encoders (``lm_config``).
        use_node_embeddings: every node of a type with features also has a learnable embedding
            (payloads carry it as ``gs_learnable_embedding``), joined to the projected features.
        relation_order: RGCN's stacked per-relation weights follow this order (the graph's
            relation order in training) when given; empty: sorted (GConstruct graphs).
    """

    task_type: str
    target_ntypes: tuple[str, ...]
    encoder_type: str
    num_layers: int
    hidden_size: int
    node_feat_names: dict[str, tuple[str, ...]]
    edge_feat_names: dict[CanonicalEtype, tuple[str, ...]]
    out_emb_size: int
    num_bases: int = -1
    use_self_loop: bool = True
    num_heads: int = 4
    gnn_norm: str | None = None
    num_ffn_layers_in_gnn: int = 0
    num_ffn_layers_in_input: int = 0
    input_activation: str | None = None
    edge_feat_mp_op: str = "concat"
    num_classes: dict[str, int] = field(default_factory=dict)
    multilabel: dict[str, bool] = field(default_factory=dict)
    focal_loss: bool = False
    decoder_per_ntype: bool = False
    decoder_bias: bool = True
    gsf: Mapping[str, Any] = field(default_factory=dict)
    edge_task: EdgeTaskConfig | None = None
    lm_models: tuple[LMNodeModelSpec, ...] = ()
    use_node_embeddings: bool = False
    relation_order: tuple[CanonicalEtype, ...] = ()

    def target_kind(self) -> TargetKind:
        """Node or edge targets of this model (``handler.contract.targets``)."""
        return target_kind(self.task_type, self.target_ntypes, self.edge_task)

    @classmethod
    def from_yaml(
        cls,
        path: str | Path,
        ntypes: Sequence[str] | None = None,
        canonical_etypes: Sequence[CanonicalEtype] | None = None,
        relation_order: Sequence[CanonicalEtype] | None = None,
    ) -> ModelConfig:
        """Reads a runtime training YAML.

        Args:
            path: the YAML file.
            ntypes: the graph's node types; needed only when ``node_feat_name`` is one global
                feature name for every node type.
            canonical_etypes: the graph's edge types; needed only for a global
                ``edge_feat_name``.
            relation_order: the relations in training's order when it is not the sorted one
                (``GraphSchema.relation_order``: graphs built by GSProcessing).

        Returns:
            The parsed config.

        Raises:
            UnsupportedConfigError: an option changes inference in an unsupported way.
            ValueError: the file is not a GraphStorm training config.
        """
        return cls.from_dict(read_training_yaml(path), ntypes=ntypes, canonical_etypes=canonical_etypes,
                             relation_order=relation_order)

    @classmethod
    def from_dict(
        cls,
        raw: Mapping[str, Any],
        ntypes: Sequence[str] | None = None,
        canonical_etypes: Sequence[CanonicalEtype] | None = None,
        relation_order: Sequence[CanonicalEtype] | None = None,
    ) -> ModelConfig:
        """Parses the loaded YAML document (see ``from_yaml``)."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("gsf"), Mapping):
            raise ValueError("training config has no 'gsf' section")
        lm_models = parse_node_lm_models(raw.get("lm_model"))
        families = raw["gsf"]
        if "multi_task_learning" in families:
            raise UnsupportedConfigError("multi_task_learning: multi-task models are not supported")
        opts = _flatten(families)
        task_type = _task_type(families, opts)
        encoder_type = opts.get("model_encoder_type")
        if encoder_type not in GNN_ENCODERS:
            raise UnsupportedConfigError(
                f"model_encoder_type: {encoder_type!r} is not supported (supported: {', '.join(GNN_ENCODERS)})"
            )
        _refuse_unsupported(opts)
        num_layers = _positive_int(opts, "num_layers")
        hidden_size = _positive_int(opts, "hidden_size")
        out_emb_size = opts.get("out_emb_size")
        if out_emb_size is None or num_layers <= 1:  # GraphStorm ignores it for one layer
            out_emb_size = hidden_size
        elif not isinstance(out_emb_size, int) or out_emb_size <= 0:
            raise ValueError(f"out_emb_size must be a positive integer, got {out_emb_size!r}")
        target = opts.get("target_ntype", DEFAULT_NTYPE)
        target_ntypes = (target,) if isinstance(target, str) else tuple(target)
        edge_task = None
        if task_type in EDGE_TARGET_TASKS:  # targets are edges: no target node type
            target_ntypes = ()
            edge_task = parse_edge_task(task_type, opts, canonical_etypes)
        num_classes, multilabel, focal = _classification(task_type, target_ntypes, opts)
        return cls(
            task_type=task_type,
            target_ntypes=target_ntypes,
            encoder_type=encoder_type,
            num_layers=num_layers,
            hidden_size=hidden_size,
            node_feat_names=_node_feat_names(opts.get("node_feat_name"), ntypes),
            edge_feat_names=_edge_feat_names(opts.get("edge_feat_name"), canonical_etypes),
            out_emb_size=out_emb_size,
            num_bases=_num_bases(opts.get("num_bases", -1)),
            use_self_loop=_bool(opts, "use_self_loop", True),
            num_heads=_positive_int(opts, "num_heads", default=4),
            gnn_norm=_choice(opts, "gnn_norm", GNN_NORMS),
            num_ffn_layers_in_gnn=_non_negative_int(opts, "num_ffn_layers_in_gnn"),
            num_ffn_layers_in_input=_non_negative_int(opts, "num_ffn_layers_in_input"),
            input_activation=_input_activation(opts.get("input_activate")),
            edge_feat_mp_op=_choice(opts, "edge_feat_mp_op", EDGE_FEAT_MP_OPS) or "concat",
            num_classes=num_classes,
            multilabel=multilabel,
            focal_loss=focal,
            decoder_per_ntype=bool(num_classes) and isinstance(opts.get("num_classes"), Mapping),
            decoder_bias=_bool(opts, "decoder_bias", True),
            gsf=MappingProxyType(dict(opts)),
            edge_task=edge_task,
            lm_models=lm_models,
            use_node_embeddings=_bool({k: v for k, v in opts.items() if v is not None}, "use_node_embeddings", False),
            relation_order=tuple(as_etype(et) for et in relation_order or ()),
        )


def _flatten(families: Mapping[str, Any]) -> dict[str, Any]:
    """Merges the option families as GraphStorm does (later families win)."""
    opts: dict[str, Any] = {}
    for params in families.values():
        if isinstance(params, Mapping):
            opts.update(params)
    return opts


def task_type_of(raw: Any) -> str:
    """The task of a loaded training YAML (the one rule: the server's, the container's).

    Raises:
        ValueError: no ``gsf`` section; UnsupportedConfigError: a task this server does not serve.
    """
    if not isinstance(raw, Mapping) or not isinstance(raw.get("gsf"), Mapping):
        raise ValueError("training config has no 'gsf' section")
    return _task_type(raw["gsf"], _flatten(raw["gsf"]))


def _task_type(families: Mapping[str, Any], opts: Mapping[str, Any]) -> str:
    """The task, from the task family (GraphStorm's ``set_attributes``) or ``runtime.task_type``."""
    family_tasks = [f for f in families if f in NODE_TASKS or f in EDGE_TARGET_TASKS]
    task = family_tasks[-1] if family_tasks else opts.get("task_type")
    if task not in TASKS:
        raise UnsupportedConfigError(
            f"task_type: {task!r} is not supported (supported: {', '.join(TASKS)})"
        )
    return task


def _refuse_unsupported(opts: Mapping[str, Any]) -> None:
    """Raises for options that change the forward pass in ways not implemented here."""
    if opts.get("construct_feat_ntype") not in (None, []):
        raise UnsupportedConfigError(
            "construct_feat_ntype: feature reconstruction for featureless nodes is not supported"
        )
    method = opts.get("training_method")
    if method is not None and not (isinstance(method, Mapping) and method.get("name") == "default"):
        raise UnsupportedConfigError(f"training_method: {method!r} is not supported (only the default)")


def _classification(
    task_type: str, target_ntypes: tuple[str, ...], opts: Mapping[str, Any]
) -> tuple[dict[str, int], dict[str, bool], bool]:
    """Per-target-type class counts and multilabel flags, and whether focal loss is used."""
    if task_type != NODE_CLASSIFICATION:
        return {}, {}, False
    raw_classes = opts.get("num_classes")
    if raw_classes is None:
        raise ValueError("num_classes is required for node_classification")
    raw_multilabel = opts.get("multilabel", False)
    if isinstance(raw_classes, Mapping):
        num_classes = {nt: int(raw_classes[nt]) for nt in target_ntypes}
        ml = raw_multilabel if isinstance(raw_multilabel, Mapping) else {}
        multilabel = {nt: bool(ml.get(nt, False)) for nt in target_ntypes}
    else:
        num_classes = {nt: int(raw_classes) for nt in target_ntypes}
        multilabel = {nt: bool(raw_multilabel) for nt in target_ntypes}
    loss = opts.get("class_loss_func", "cross_entropy")
    if loss not in ("cross_entropy", "focal"):
        raise UnsupportedConfigError(f"class_loss_func: {loss!r} is not supported")
    return num_classes, multilabel, loss == "focal"


def _node_feat_names(
    raw: Any, ntypes: Sequence[str] | None
) -> dict[str, tuple[str, ...]]:
    """Parses ``node_feat_name`` (``["ntype:f1,f2", ...]`` or one global name)."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        raw = [raw]
    if len(raw) == 1 and ":" not in raw[0]:
        if ntypes is None:
            raise UnsupportedConfigError(
                "node_feat_name: a global feature name needs the graph's node types"
            )
        return {nt: (raw[0].strip(),) for nt in ntypes}
    names: dict[str, tuple[str, ...]] = {}
    for item in raw:
        ntype, sep, feats = item.partition(":")
        if not sep:
            raise ValueError(f"node_feat_name entry {item!r} is not NODE_TYPE:FEAT_NAMES")
        if ntype in names:
            raise UnsupportedConfigError(
                f"node_feat_name: feature groups (node type {ntype!r} listed twice) are not supported"
            )
        names[ntype] = tuple(f.strip() for f in feats.split(","))
    return names


def _edge_feat_names(
    raw: Any, canonical_etypes: Sequence[CanonicalEtype] | None
) -> dict[CanonicalEtype, tuple[str, ...]]:
    """Parses ``edge_feat_name`` (``["src,rel,dst:f1,f2", ...]`` or one global name)."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        raw = [raw]
    if len(raw) == 1 and ":" not in raw[0]:
        if canonical_etypes is None:
            raise UnsupportedConfigError(
                "edge_feat_name: a global feature name needs the graph's edge types"
            )
        return {as_etype(et): (raw[0].strip(),) for et in canonical_etypes}
    names: dict[CanonicalEtype, tuple[str, ...]] = {}
    for item in raw:
        etype, sep, feats = item.partition(":")
        parts = tuple(p.strip() for p in etype.split(","))
        if not sep or len(parts) != 3:
            raise ValueError(f"edge_feat_name entry {item!r} is not SRC,REL,DST:FEAT_NAMES")
        names[as_etype(parts)] = tuple(f.strip() for f in feats.split(","))
    return names


def _positive_int(opts: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = opts.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{key} must be a positive integer, got {value!r}")
    return value


def _non_negative_int(opts: Mapping[str, Any], key: str) -> int:
    value = opts.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer, got {value!r}")
    return value


def _bool(opts: Mapping[str, Any], key: str, default: bool) -> bool:
    value = opts.get(key, default)
    if value not in (True, False):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return bool(value)


def _choice(opts: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    value = opts.get(key)
    if value is not None and value not in allowed:
        raise UnsupportedConfigError(f"{key}: {value!r} is not supported (supported: {', '.join(allowed)})")
    return value


def _num_bases(value: Any) -> int:
    if not isinstance(value, int) or (value <= 0 and value != -1):
        raise ValueError(f"num_bases must be a positive integer or -1, got {value!r}")
    return value


def _input_activation(value: Any) -> str | None:
    if value in (None, "none"):
        return None
    if value == "relu":
        return "relu"
    raise UnsupportedConfigError(f"input_activate: {value!r} is not supported (supported: none, relu)")
