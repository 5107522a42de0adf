"""``lm_model.node_lm_models`` parsing (``handler.contract.lm_config``) and its place in ModelConfig."""

from __future__ import annotations

import pytest

from handler.contract.errors import UnsupportedConfigError
from handler.contract.lm_config import parse_node_lm_models
from tests.handler.npz_graph import load_config


def test_fixture_config_has_the_lm():
    config = load_config("rgcn_nc_lm")
    (spec,) = config.lm_models
    assert (spec.lm_type, spec.model_name, spec.node_types, spec.key) == ("bert", "gs-tiny-bert", ("paper",), "paper")
    assert dict(spec.config_overrides) == {}
    assert config.node_feat_names["paper"] == ("year", "citations", "venue")


def test_no_lm_block():
    assert parse_node_lm_models(None) == () and parse_node_lm_models({}) == ()


def test_node_types_sorted_into_graphstorms_key_and_overrides_kept():
    (spec,) = parse_node_lm_models({"node_lm_models": [{
        "lm_type": "bert", "model_name": "m", "node_types": ["paper", "author"],
        "gradient_checkpoint": True, "hidden_dropout_prob": 0.2}]})
    assert spec.key == "author,paper"
    assert dict(spec.config_overrides) == {"hidden_dropout_prob": 0.2}


@pytest.mark.parametrize("raw, words", [
    ({"distill_lm_models": []}, "distill_lm_models"),
    ({"node_lm_models": [{"lm_type": "gpt2", "model_name": "m", "node_types": ["a"]}]}, "gpt2"),
    ({"node_lm_models": [{"lm_type": "bert", "model_name": "m", "node_types": ["a"]},
                         {"lm_type": "bert", "model_name": "n", "node_types": ["a"]}]}, "more than one"),
])
def test_unsupported(raw, words):
    with pytest.raises(UnsupportedConfigError, match=words):
        parse_node_lm_models(raw)


@pytest.mark.parametrize("raw", [
    {"node_lm_models": [{"lm_type": "bert", "node_types": ["a"]}]},
    {"node_lm_models": [{"lm_type": "bert", "model_name": "m", "node_types": []}]},
    {"node_lm_models": "bert"},
    ["bert"],
])
def test_malformed(raw):
    with pytest.raises(ValueError):
        parse_node_lm_models(raw)
