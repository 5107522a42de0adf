"""``handler.contract.model_config``: the fixtures' training YAMLs and the refusal of unsupported options."""

from __future__ import annotations

import copy

import pytest
import yaml

from handler.contract.errors import UnsupportedConfigError
from handler.contract.model_config import ModelConfig
from handler.contract.names import TASKS
from tests.compare import FIXTURES_DIR, VARIANTS

YAML_NAME = "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"


def _raw(variant: str = "rgcn_nc") -> dict:
    return yaml.safe_load((FIXTURES_DIR / variant / "artifacts" / YAML_NAME).read_text())


@pytest.mark.parametrize("variant", VARIANTS)
def test_fixture_configs_parse(variant: str) -> None:
    config = ModelConfig.from_yaml(FIXTURES_DIR / variant / "artifacts" / YAML_NAME)
    assert config.task_type in TASKS
    assert config.num_layers == 2
    assert config.hidden_size == config.out_emb_size == 32
    assert config.encoder_type == variant.removeprefix("gsp_").split("_")[0]


def test_rgcn_nc_fields() -> None:
    config = ModelConfig.from_dict(_raw())
    assert config.target_ntypes == ("paper",)
    assert config.node_feat_names == {
        "paper": ("feat", "year", "citations", "venue"),
        "author": ("feat", "h_index", "country"),
        "subject": ("feat", "popularity"),
    }
    assert config.edge_feat_names == {}
    assert config.num_classes == {"paper": 5}
    assert config.multilabel == {"paper": False}
    assert (config.num_bases, config.use_self_loop, config.decoder_bias) == (-1, True, True)
    assert config.gsf["label_field"] == "label"


def test_edge_feature_names_and_regression() -> None:
    efeat = ModelConfig.from_dict(_raw("rgcn_nc_efeat"))
    assert efeat.edge_feat_names == {
        ("author", "writing", "paper"): ("order", "contrib"),
        ("paper", "writing-rev", "author"): ("order", "contrib"),
    }
    assert efeat.edge_feat_mp_op == "concat"
    regression = ModelConfig.from_dict(_raw("rgcn_nr"))
    assert regression.task_type == "node_regression"
    assert regression.num_classes == {}


def test_global_feature_name_needs_node_types() -> None:
    raw = _raw()
    raw["gsf"]["basic"]["node_feat_name"] = ["feat"]
    with pytest.raises(UnsupportedConfigError, match="node_feat_name"):
        ModelConfig.from_dict(raw)
    config = ModelConfig.from_dict(raw, ntypes=["paper", "author"])
    assert config.node_feat_names == {"paper": ("feat",), "author": ("feat",)}


def test_out_emb_size() -> None:
    raw = _raw()
    raw["gsf"]["gnn"]["out_emb_size"] = 16
    assert ModelConfig.from_dict(raw).out_emb_size == 16


@pytest.mark.parametrize(
    ("family", "option", "value"),
    [
        ("runtime", "construct_feat_ntype", ["subject"]),
        ("hyperparam", "training_method", {"name": "glem", "kwargs": {}}),
        ("basic", "model_encoder_type", "mlp"),
        ("runtime", "task_type", "multi_task"),
        ("input", "input_activate", "tanh"),
        ("gnn", "gnn_norm", "group"),
        ("gnn", "edge_feat_mp_op", "max"),
        ("node_classification", "class_loss_func", "hinge"),
    ],
)
def test_unsupported_option_is_named(family: str, option: str, value: object) -> None:
    raw = copy.deepcopy(_raw())
    if option == "task_type":
        del raw["gsf"]["node_classification"]
    raw["gsf"].setdefault(family, {})[option] = value
    with pytest.raises(UnsupportedConfigError, match=option):
        ModelConfig.from_dict(raw)


def test_use_node_embeddings_and_relation_order() -> None:
    raw = _raw()
    assert ModelConfig.from_dict(raw).use_node_embeddings is False
    raw["gsf"]["gnn"]["use_node_embeddings"] = True
    order = [("b", "r", "a"), ("a", "r", "b")]
    config = ModelConfig.from_dict(raw, relation_order=order)
    assert config.use_node_embeddings is True
    assert config.relation_order == tuple(order)


def test_feature_groups_and_lm_models_are_refused() -> None:
    raw = _raw()
    raw["gsf"]["basic"]["node_feat_name"].append("paper:year")
    with pytest.raises(UnsupportedConfigError, match="node_feat_name"):
        ModelConfig.from_dict(raw)
    raw = _raw()
    raw["lm_model"] = {"distill_lm_models": [{"lm_type": "bert", "node_types": ["paper"]}]}  # node_lm_models: served
    with pytest.raises(UnsupportedConfigError, match="lm_model"):
        ModelConfig.from_dict(raw)


def test_not_a_training_config() -> None:
    with pytest.raises(ValueError, match="gsf"):
        ModelConfig.from_dict({"version": 1.0})
