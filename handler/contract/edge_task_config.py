"""The edge-task part of a GraphStorm training config: target relation, decoder, message passing.

GraphStorm builds an edge model's decoder in ``gsf.create_builtin_edge_decoder`` (edge
classification / regression) or ``gsf.create_builtin_lp_decoder`` (link prediction) from the
options parsed here, with the defaults of ``graphstorm/config/argument.py`` (0.5.1). Options that
change inference in a way this server does not implement are refused naming the option
(``UnsupportedConfigError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handler.contract.errors import UnsupportedConfigError
from handler.contract.names import (
    EDGE_CLASSIFICATION,
    EDGE_REGRESSION,
    EDGE_TASKS,
    LINK_PREDICTION,
    CanonicalEtype,
    as_etype,
)

EDGE_DECODER_TYPES = ("DenseBiDecoder", "MLPDecoder")
LP_DECODER_TYPES = ("dot_product", "distmult", "rotate", "transe_l1", "transe_l2")
LP_LOSS_FUNCS = ("cross_entropy", "logsigmoid", "contrastive", "bpr")
LP_EMBED_NORMALIZERS = ("l2_norm",)
DECODER_NORMS = ("batch", "layer")
# GraphStorm's target relation of a homogeneous graph (``DEFAULT_ETYPE``).
DEFAULT_ETYPE: CanonicalEtype = ("_N", "_E", "_N")


@dataclass(frozen=True)
class EdgeTaskConfig:
    """What an edge-classification, edge-regression or link-prediction model needs beyond the encoder.

    Attributes:
        task_type: ``edge_classification``, ``edge_regression`` or ``link_prediction``.
        target_etypes: relations the model predicts, in their stored direction (EC/ER: the first
            ``target_etype``, as GraphStorm; LP: ``train_etype``, default every relation).
        reverse_etypes: relation -> its reverse relation (``reverse_edge_types_map``).
        remove_target_edge_type: EC/ER: the target relations and their reverses carry no
            messages (fanout 0 in training and offline inference).
        exclude_training_targets: a target pair's own edges (both directions) carry no messages.
        decoder_type: EC/ER decoder (``DenseBiDecoder``, ``MLPDecoder``).
        num_decoder_basis: ``DenseBiDecoder`` bases.
        num_ffn_layers_in_decoder: extra MLP layers in ``MLP*`` decoders.
        num_classes: EC class count (decoder output size: 1 with focal loss).
        multilabel: EC multi-label (sigmoid) classification.
        focal_loss: EC binary classifier trained with focal loss (one sigmoid output).
        lp_decoder_type: LP score function.
        lp_loss_func: LP loss (decides the default normalizer).
        lp_embed_normalizer: ``None`` or ``l2_norm`` (embeddings L2-normalised before scoring).
        gamma: margin of ``rotate`` / ``transe_*`` scores (GraphStorm default 12).
    """

    task_type: str
    target_etypes: tuple[CanonicalEtype, ...]
    reverse_etypes: Mapping[CanonicalEtype, CanonicalEtype] = field(default_factory=dict)
    remove_target_edge_type: bool = False
    exclude_training_targets: bool = True
    decoder_type: str = "DenseBiDecoder"
    num_decoder_basis: int = 2
    num_ffn_layers_in_decoder: int = 0
    num_classes: int = 0
    multilabel: bool = False
    focal_loss: bool = False
    lp_decoder_type: str = "distmult"
    lp_loss_func: str = "cross_entropy"
    lp_embed_normalizer: str | None = None
    gamma: float = 12.0

    @property
    def is_link_prediction(self) -> bool:
        """Whether the model scores links (no class or regression head)."""
        return self.task_type == LINK_PREDICTION

    @property
    def is_regression(self) -> bool:
        """Whether the model is an edge regression model."""
        return self.task_type == EDGE_REGRESSION


def parse_edge_task(
    task_type: str,
    opts: Mapping[str, Any],
    canonical_etypes: Sequence[CanonicalEtype] | None = None,
) -> EdgeTaskConfig:
    """Reads the edge-task options of a flattened ``gsf`` config.

    Args:
        task_type: one of ``EDGE_TASKS`` or ``link_prediction``.
        opts: the flattened ``gsf`` families (option -> value).
        canonical_etypes: the graph's relations; needed only for a link-prediction model
            without ``train_etype`` (every relation is a training target then).

    Returns:
        The edge-task config.

    Raises:
        UnsupportedConfigError: an option GraphStorm accepts but this server does not implement.
        ValueError: an option is malformed or inconsistent (GraphStorm's own assertions).
    """
    reverse = _reverse_edge_types_map(opts.get("reverse_edge_types_map"))
    exclude = _bool(opts, "exclude_training_targets", True)
    if exclude and not reverse:
        # GraphStorm asserts this in ``GSConfig.exclude_training_targets``.
        raise ValueError("exclude_training_targets needs reverse_edge_types_map")
    if task_type == LINK_PREDICTION:
        return _parse_link_prediction(opts, reverse, exclude, canonical_etypes)
    if task_type not in EDGE_TASKS:
        raise ValueError(f"{task_type!r} is not an edge task")
    target_etypes = _etypes(opts.get("target_etype"), "target_etype")
    decoder_type = opts.get("decoder_type", "DenseBiDecoder")
    if decoder_type == "MLPEFeatEdgeDecoder":
        # The target edge's own features would have to come from graph.edges; not served.
        raise UnsupportedConfigError(
            "decoder_edge_feat: MLPEFeatEdgeDecoder (target-edge features in the decoder) is "
            "not supported for real-time inference"
        )
    if decoder_type not in EDGE_DECODER_TYPES:
        raise UnsupportedConfigError(
            f"decoder_type: {decoder_type!r} is not supported (supported: {', '.join(EDGE_DECODER_TYPES)})"
        )
    num_basis = opts.get("num_decoder_basis", 2)
    if not isinstance(num_basis, int) or isinstance(num_basis, bool) or num_basis <= 1:
        raise ValueError(f"num_decoder_basis must be an integer larger than 1, got {num_basis!r}")
    num_ffn = opts.get("num_ffn_layers_in_decoder", 0)
    if not isinstance(num_ffn, int) or isinstance(num_ffn, bool) or num_ffn < 0:
        raise ValueError(f"num_ffn_layers_in_decoder must be a non-negative integer, got {num_ffn!r}")
    if decoder_type == "DenseBiDecoder" and num_ffn:
        raise ValueError("num_ffn_layers_in_decoder: DenseBiDecoder takes no feed-forward layers")
    norm = opts.get("decoder_norm")  # read by MLPEFeatEdgeDecoder only; GraphStorm checks the value
    if norm is not None and norm not in DECODER_NORMS:
        raise UnsupportedConfigError(f"decoder_norm: {norm!r} is not supported (supported: batch, layer)")
    num_classes, multilabel, focal = 0, False, False
    if task_type == EDGE_CLASSIFICATION:
        num_classes, multilabel, focal = _classification(opts)
    return EdgeTaskConfig(
        task_type=task_type,
        target_etypes=target_etypes[:1],  # GraphStorm predicts the first target_etype only
        reverse_etypes=reverse,
        remove_target_edge_type=_bool(opts, "remove_target_edge_type", True),
        exclude_training_targets=exclude,
        decoder_type=decoder_type,
        num_decoder_basis=num_basis,
        num_ffn_layers_in_decoder=num_ffn,
        num_classes=num_classes,
        multilabel=multilabel,
        focal_loss=focal,
    )


def _parse_link_prediction(
    opts: Mapping[str, Any],
    reverse: dict[CanonicalEtype, CanonicalEtype],
    exclude: bool,
    canonical_etypes: Sequence[CanonicalEtype] | None,
) -> EdgeTaskConfig:
    raw_train = opts.get("train_etype")
    if raw_train is None:
        if canonical_etypes is None:
            raise UnsupportedConfigError("train_etype: unset (every relation) needs the graph's edge types")
        train = tuple(as_etype(et) for et in canonical_etypes)
    else:
        train = _etypes(raw_train, "train_etype")
    decoder = str(opts.get("lp_decoder_type", "distmult")).lower()
    if decoder not in LP_DECODER_TYPES:
        raise UnsupportedConfigError(
            f"lp_decoder_type: {decoder!r} is not supported (supported: {', '.join(LP_DECODER_TYPES)})"
        )
    if len(train) == 1 and decoder != "dot_product":
        # GraphStorm's ``create_builtin_lp_model`` asserts this.
        raise ValueError("lp_decoder_type: one train_etype needs dot_product")
    loss = opts.get("lp_loss_func", "cross_entropy")
    if loss not in LP_LOSS_FUNCS:
        raise UnsupportedConfigError(f"lp_loss_func: {loss!r} is not supported")
    normalizer = opts.get("lp_embed_normalizer")
    if normalizer is None:
        # GraphStorm's default: L2-normalise with the contrastive loss, nothing otherwise.
        normalizer = "l2_norm" if loss == "contrastive" else None
    else:
        normalizer = str(normalizer).lower()
        if normalizer not in LP_EMBED_NORMALIZERS:
            raise UnsupportedConfigError(f"lp_embed_normalizer: {normalizer!r} is not supported (supported: l2_norm)")
    gamma = opts.get("gamma")
    return EdgeTaskConfig(
        task_type=LINK_PREDICTION,
        target_etypes=train,
        reverse_etypes=reverse,
        remove_target_edge_type=False,  # an edge-classification option; LP never removes relations
        exclude_training_targets=exclude,
        lp_decoder_type=decoder,
        lp_loss_func=loss,
        lp_embed_normalizer=normalizer,
        gamma=12.0 if gamma is None else float(gamma),
    )


def _classification(opts: Mapping[str, Any]) -> tuple[int, bool, bool]:
    """Class count, multilabel flag and focal loss of an edge classifier."""
    num_classes = opts.get("num_classes")
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer for edge_classification, got {num_classes!r}")
    multilabel = _bool(opts, "multilabel", False)
    loss = opts.get("class_loss_func", "cross_entropy")
    if loss not in ("cross_entropy", "focal"):
        raise UnsupportedConfigError(f"class_loss_func: {loss!r} is not supported")
    if loss == "focal" and num_classes not in (1, 2):
        raise ValueError("class_loss_func: focal loss needs num_classes 2")
    if loss == "cross_entropy" and num_classes < 2:
        raise ValueError("num_classes must be at least 2 with the cross_entropy loss")
    return num_classes, multilabel, loss == "focal"


def _reverse_edge_types_map(raw: Any) -> dict[CanonicalEtype, CanonicalEtype]:
    """``["head,rel,rev_rel,tail", ...]`` -> {(head, rel, tail): (tail, rev_rel, head)}."""
    if raw is None:
        return {}
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise ValueError(f"reverse_edge_types_map must be a list of 'head,rel,rev_rel,tail', got {raw!r}")
    out: dict[CanonicalEtype, CanonicalEtype] = {}
    for item in raw:
        parts = [p.strip() for p in str(item).split(",")]
        if len(parts) != 4:
            raise ValueError(f"reverse_edge_types_map entry {item!r} is not 'head,rel,rev_rel,tail'")
        head, rel, rev, tail = parts
        out[(head, rel, tail)] = (tail, rev, head)
    return out


def _etypes(raw: Any, key: str) -> tuple[CanonicalEtype, ...]:
    """``["src,rel,dst", ...]`` as canonical edge types (unset: GraphStorm's homogeneous ``_E``)."""
    if raw is None:
        return (DEFAULT_ETYPE,)
    if isinstance(raw, str) or not isinstance(raw, Sequence) or not raw:
        raise ValueError(f"{key} must be a non-empty list of 'src,rel,dst', got {raw!r}")
    out: list[CanonicalEtype] = []
    for item in raw:
        parts = tuple(p.strip() for p in str(item).split(","))
        if len(parts) != 3:
            raise ValueError(f"{key} entry {item!r} is not 'src,rel,dst'")
        out.append(as_etype(parts))
    return tuple(out)


def _bool(opts: Mapping[str, Any], key: str, default: bool) -> bool:
    value = opts.get(key, default)
    if value not in (True, False):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return bool(value)
