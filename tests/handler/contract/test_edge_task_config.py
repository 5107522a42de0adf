"""``handler.contract.edge_task_config`` (through ``ModelConfig``): the edge fixtures' YAMLs, GraphStorm's
defaults and the refusal of unsupported decoder options."""

from __future__ import annotations

import copy

import pytest
import yaml

from handler.contract.errors import UnsupportedConfigError
from handler.contract.model_config import ModelConfig
from tests.compare import FIXTURES_DIR

YAML_NAME = "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"
CITED = ("paper", "cited", "paper")


def _raw(variant: str) -> dict:
    return yaml.safe_load((FIXTURES_DIR / variant / "artifacts" / YAML_NAME).read_text())


def _family(raw: dict) -> dict:
    """The task family of a raw config (edge_classification, edge_regression, link_prediction)."""
    return next(v for k, v in raw["gsf"].items() if k in ("edge_classification", "edge_regression", "link_prediction"))


def test_rgcn_ec() -> None:
    config = ModelConfig.from_dict(_raw("rgcn_ec"))
    task = config.edge_task
    assert config.task_type == task.task_type == "edge_classification"
    assert config.target_ntypes == ()
    assert task.target_etypes == (("author", "writing", "paper"),)
    assert task.reverse_etypes == {("author", "writing", "paper"): ("paper", "writing-rev", "author")}
    assert task.remove_target_edge_type and task.exclude_training_targets
    assert (task.decoder_type, task.num_decoder_basis, task.num_classes) == ("DenseBiDecoder", 2, 3)
    assert not task.multilabel and not task.focal_loss


def test_hgt_er() -> None:
    task = ModelConfig.from_dict(_raw("hgt_er")).edge_task
    assert task.is_regression and task.target_etypes == (CITED,)
    assert not task.remove_target_edge_type and task.exclude_training_targets


def test_rgcn_lp() -> None:
    task = ModelConfig.from_dict(_raw("rgcn_lp")).edge_task
    assert task.is_link_prediction and task.target_etypes == (CITED,)
    assert (task.lp_decoder_type, task.lp_loss_func, task.lp_embed_normalizer) == ("dot_product", "contrastive", "l2_norm")
    assert not task.remove_target_edge_type and task.exclude_training_targets


def test_graphstorm_defaults() -> None:
    raw = _raw("rgcn_ec")
    for key in ("remove_target_edge_type", "exclude_training_targets"):
        del _family(raw)[key]
    task = ModelConfig.from_dict(raw).edge_task
    assert task.remove_target_edge_type and task.exclude_training_targets  # both default to true
    raw = _raw("rgcn_lp")
    for key in ("lp_loss_func", "lp_embed_normalizer"):
        del _family(raw)[key]
    task = ModelConfig.from_dict(raw).edge_task
    assert (task.lp_loss_func, task.lp_embed_normalizer) == ("cross_entropy", None)
    del _family(raw)["train_etype"]
    _family(raw)["lp_decoder_type"] = "distmult"
    etypes = [CITED, ("paper", "cited-rev", "paper")]
    task = ModelConfig.from_dict(raw, canonical_etypes=etypes).edge_task
    assert task.target_etypes == tuple(etypes) and task.gamma == 12.0  # every relation is a target


def test_mlp_decoders() -> None:
    raw = _raw("rgcn_ec")
    _family(raw).update(decoder_type="MLPDecoder", decoder_norm="layer", num_ffn_layers_in_decoder=1)
    task = ModelConfig.from_dict(raw).edge_task
    assert (task.decoder_type, task.num_ffn_layers_in_decoder) == ("MLPDecoder", 1)


def test_target_edge_features_in_the_decoder_are_refused() -> None:
    raw = _raw("rgcn_ec")
    _family(raw).update(decoder_type="MLPEFeatEdgeDecoder", decoder_edge_feat=["author,writing,paper:order"])
    with pytest.raises(UnsupportedConfigError, match="decoder_edge_feat: MLPEFeatEdgeDecoder"):
        ModelConfig.from_dict(raw)


@pytest.mark.parametrize(
    ("variant", "option", "value"),
    [
        ("rgcn_ec", "decoder_type", "LinkPredictDecoder"),
        ("rgcn_ec", "decoder_norm", "group"),
        ("rgcn_ec", "class_loss_func", "hinge"),
        ("rgcn_lp", "lp_decoder_type", "complex"),
        ("rgcn_lp", "lp_embed_normalizer", "l1_norm"),
        ("rgcn_lp", "lp_loss_func", "margin"),
    ],
)
def test_unsupported_option_is_named(variant: str, option: str, value: object) -> None:
    raw = copy.deepcopy(_raw(variant))
    _family(raw)[option] = value
    with pytest.raises(UnsupportedConfigError, match=option):
        ModelConfig.from_dict(raw)


@pytest.mark.parametrize(
    ("variant", "changes", "message"),
    [
        ("rgcn_ec", {"num_decoder_basis": 1}, "num_decoder_basis"),
        ("rgcn_ec", {"num_classes": None}, "num_classes"),
        ("rgcn_ec", {"num_ffn_layers_in_decoder": 1}, "num_ffn_layers_in_decoder"),
        ("rgcn_ec", {"reverse_edge_types_map": None}, "reverse_edge_types_map"),
        ("rgcn_ec", {"target_etype": ["author,writing"]}, "target_etype"),
        ("rgcn_lp", {"lp_decoder_type": "distmult"}, "dot_product"),
    ],
)
def test_invalid_option(variant: str, changes: dict, message: str) -> None:
    raw = copy.deepcopy(_raw(variant))
    _family(raw).update(changes)
    with pytest.raises(ValueError, match=message):
        ModelConfig.from_dict(raw)
