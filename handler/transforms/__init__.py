"""GConstruct and GSProcessing feature transforms, one per module, and ``build_transform``
to pick one.

Every transform has ``apply(raw_values) -> float32 [n, dim]`` over the values of one feature
of all nodes (or edges) of one type in one request, with GConstruct 0.5.1's numerics; the one
exception is ``tokenize_hf``, whose ``apply`` gives ``TextTokens`` (int token matrices that only
a language-model node encoder reads; see ``text_tokens``). The text transforms load their LM
through an ``LMResolver`` (``handler.contract.lm_resolution``), never from the hub.
GSProcessing's transformations (``gsp_*``; feature specs from ``handler.contract.gsp_schema``)
are re-applied with its Spark job's numerics from the state it saved.
"""

from __future__ import annotations

import sys

from handler.contract.errors import UnsupportedConfigError
from handler.contract.graph_schema import FeatureSpec
from handler.contract.gsp_schema import GSP_TRANSFORM_PREFIX
from handler.contract.lm_resolution import LMResolver
from handler.contract.names import TEXT_TRANSFORMS, TOKENIZE_HF
from handler.transforms.base import FeatureTransform, FeatureValueError, out_dtype, stacked_float_rows
from handler.transforms.bert_hf import DEFAULT_INFER_BATCH_SIZE, BertHFTransform
from handler.transforms.bucket_numerical import BucketNumericalTransform
from handler.transforms.gsp_bucket_numerical import GSPBucketNumericalTransform
from handler.transforms.gsp_categorical import GSPCategoricalTransform
from handler.transforms.gsp_noop import GSPNoopTransform
from handler.transforms.gsp_numerical import GSPNumericalTransform
from handler.transforms.max_min_norm import MaxMinNormTransform
from handler.transforms.noop import NoopTransform
from handler.transforms.rank_gauss import RankGaussTransform
from handler.transforms.standard import StandardTransform
from handler.transforms.text_tokens import TextTokens
from handler.transforms.to_categorical import ToCategoricalTransform
from handler.transforms.tokenize_hf import TokenizeHFTransform

__all__ = [
    "FeatureTransform", "FeatureValueError", "TextTokens", "TokenizeHFTransform", "build_transform",
    "learnable_embedding_transform", "stacked_float_rows",
]


def build_transform(spec: FeatureSpec, lm_resolver: LMResolver | None = None) -> FeatureTransform:
    """The transform a GConstruct feature spec describes.

    Args:
        spec: the feature's spec from ``data_transform_new.json``.
        lm_resolver: where text transforms find their LM (default:
            ``LMResolver.for_model_dir(None)``: ``GS_LM_MODELS``, the working directory, the
            local Hugging Face cache).

    Returns:
        The transform.

    Raises:
        UnsupportedConfigError: a transform this server does not implement (tabular models,
            hard negatives), or one without the saved state inference needs.
        LMNotFoundError: a text transform's LM is not available locally.
    """
    conf = spec.transform or {}
    name = spec.transform_name
    dtype = out_dtype(spec.out_dtype)
    if name.startswith(GSP_TRANSFORM_PREFIX):
        return _gsp_transform(spec, conf)
    if name in TEXT_TRANSFORMS:
        return _text_transform(spec, conf, dtype, lm_resolver or LMResolver.for_model_dir(None))
    scalar = spec.dim == (1,)
    if name == "no-op":
        return NoopTransform(
            spec.name,
            dtype=dtype,
            truncate_dim=conf.get("truncate_dim", spec.truncate_dim),
            separator=conf.get("separator", spec.separator),
            scalar_input=scalar,
        )
    if name == "max_min_norm":
        return MaxMinNormTransform(
            spec.name,
            max_val=conf.get("max_val"),
            min_val=conf.get("min_val"),
            max_bound=conf.get("max_bound", sys.float_info.max),
            min_bound=conf.get("min_bound", -sys.float_info.max),
            dtype=dtype,
            scalar_input=scalar,
        )
    if name == "rank_gauss":
        return RankGaussTransform(
            spec.name, epsilon=conf.get("epsilon"), uniquify=conf.get("uniquify", False),
            dtype=dtype, scalar_input=scalar,
        )
    if name == "bucket_numerical":
        if "bucket_cnt" not in conf or "range" not in conf:
            raise UnsupportedConfigError(f"feature {spec.name}: bucket_numerical needs bucket_cnt and range")
        return BucketNumericalTransform(
            spec.name, conf["bucket_cnt"], conf["range"], conf.get("slide_window_size", 0), dtype=dtype
        )
    if name == "to_categorical":
        if not conf.get("mapping"):
            raise UnsupportedConfigError(f"feature {spec.name}: to_categorical has no saved mapping")
        return ToCategoricalTransform(spec.name, conf["mapping"], conf.get("separator"))
    if name == "standard":
        if "sum" not in conf:
            raise UnsupportedConfigError(f"feature {spec.name}: standard transform has no saved sum")
        return StandardTransform(spec.name, conf["sum"], dtype=dtype, scalar_input=scalar)
    raise UnsupportedConfigError(f"feature {spec.name}: transform {name!r} is not supported")


def _gsp_transform(spec: FeatureSpec, conf: dict) -> FeatureTransform:
    """A GSProcessing transformation (``handler.contract.gsp_schema``), from its saved state.

    Raises:
        UnsupportedConfigError: one GSProcessing cannot re-apply from its artifacts (rank-gauss
            and multi-categorical store no state), or one this server does not implement.
    """
    kind = spec.transform_name[len(GSP_TRANSFORM_PREFIX):]
    if not isinstance(conf.get("column"), str):
        raise UnsupportedConfigError(
            f"feature {spec.name}: GSProcessing features over several columns are not supported")
    kwargs = conf.get("kwargs") or {}
    state: dict = conf.get("precomputed") or {}
    if kind == "no-op":
        return GSPNoopTransform(spec.name, dtype=out_dtype(kwargs.get("out_dtype")),
                                truncate_dim=kwargs.get("truncate_dim"), separator=kwargs.get("separator"),
                                scalar_input=spec.dim == (1,))
    if kind == "numerical":
        return GSPNumericalTransform.build(spec.name, conf.get("column"), kwargs, state,
                                           dtype=out_dtype(state.get("out_dtype")), scalar_input=spec.dim == (1,))
    if kind == "bucket-numerical":
        if "range" not in kwargs or "bucket_cnt" not in kwargs:
            raise UnsupportedConfigError(f"feature {spec.name}: bucket-numerical needs range and bucket_cnt")
        return GSPBucketNumericalTransform(spec.name, kwargs["range"], kwargs["bucket_cnt"],
                                           kwargs.get("slide_window_size", 0.0), kwargs.get("imputer", "none"))
    if kind == "categorical":
        try:
            labels = state["string_indexer_labels_arrays"][0]
            column = state["cols"][0]
            mapping = state["per_col_label_to_one_hot_idx"][column]
        except (KeyError, IndexError, TypeError):
            raise UnsupportedConfigError(
                f"feature {spec.name}: GSProcessing's categorical transformation has no saved category mapping"
            ) from None
        return GSPCategoricalTransform(spec.name, mapping, len(labels))
    if kind == "multi-categorical":
        raise UnsupportedConfigError(
            f"feature {spec.name}: GSProcessing's multi-categorical transformation cannot be re-applied "
            "(it stores no vocabulary)")
    raise UnsupportedConfigError(f"feature {spec.name}: GSProcessing transformation {kind!r} is not supported")


def _text_transform(spec: FeatureSpec, conf: dict, dtype: type, resolver: LMResolver) -> FeatureTransform:
    """``tokenize_hf`` or ``bert_hf`` (GConstruct requires ``bert_model`` and ``max_seq_length``)."""
    if "bert_model" not in conf or "max_seq_length" not in conf:
        raise UnsupportedConfigError(f"feature {spec.name}: {conf['name']} needs bert_model and max_seq_length")
    lm_dir = resolver.resolve(conf["bert_model"])
    max_seq_length = int(conf["max_seq_length"])
    if conf["name"] == TOKENIZE_HF:
        return TokenizeHFTransform(spec.name, lm_dir, max_seq_length)
    return BertHFTransform(spec.name, lm_dir, max_seq_length,
                           int(conf.get("infer_batch_size", DEFAULT_INFER_BATCH_SIZE)), dtype=dtype)


def learnable_embedding_transform(name: str) -> FeatureTransform:
    """The no-op GraphStorm applies to ``gs_learnable_embedding`` payload vectors."""
    return NoopTransform(name)
