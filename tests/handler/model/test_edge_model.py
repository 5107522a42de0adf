"""``handler.model`` with an edge head: edge predictions on GraphStorm's own payload graphs match target/;
GraphStorm's message-passing rule; strict loading of edge checkpoints."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from handler.inputs.edge_message_passing import MessagePassingRule
from handler.model.graphstorm_model import ModelLoadError, restore_model
from handler.model.heads import EdgeHead
from tests.handler.npz_edge_graph import (
    EDGE_VARIANTS,
    edge_target_predictions,
    load_npz_edge_case,
    target_status,
)
from tests.handler.npz_graph import fixture_path, load_config, model_etypes, model_ntypes, npz_cases

ATOL = 1e-5
_MODELS: dict = {}


def _model(variant: str):
    if variant not in _MODELS:
        config = load_config(variant)
        model = restore_model(config, model_etypes(variant), fixture_path(variant, "artifacts", "model.bin"),
                              ntypes=model_ntypes(variant))
        _MODELS[variant] = (config, model, MessagePassingRule.from_config(config.edge_task))
    return _MODELS[variant]


def _predict(variant: str, case: str, rule: MessagePassingRule | None = None):
    config, model, default_rule = _model(variant)
    inputs = load_npz_edge_case(variant, case, config)
    graph, edge_inputs = inputs.after_rule(rule or default_rule)
    return inputs, model.predict(graph, inputs.node_inputs, edge_inputs, inputs.targets)


def _in_target_order(inputs, out) -> list[list[float]]:
    """The model's rows in the payload's ``targets`` order."""
    row = dict.fromkeys(out, 0)
    rows = []
    for etype, _, _ in inputs.target_keys:
        rows.append(out[etype][row[etype]].tolist())
        row[etype] += 1
    return rows


_CASES = [pytest.param(v, c, id=f"{v}/{c}") for v in EDGE_VARIANTS for c in npz_cases(v)
          if target_status(v, c) == 200]


@pytest.mark.parametrize(("variant", "case"), _CASES)
def test_predictions_match_target(variant: str, case: str) -> None:
    inputs, out = _predict(variant, case)
    want = edge_target_predictions(variant, case)
    assert [key for key, _ in want] == inputs.target_keys
    for got, (key, prediction) in zip(_in_target_order(inputs, out), want, strict=True):
        assert len(got) == len(prediction), key
        assert max(abs(g - w) for g, w in zip(got, prediction, strict=True)) <= ATOL, (key, got, prediction)


@pytest.mark.parametrize("variant", EDGE_VARIANTS)
def test_target_edges_listed_or_not_give_the_same_answer(variant: str) -> None:
    """The rule makes v02_small (target edges listed) equal e01 (target edges absent)."""
    inputs, with_edges = _predict(variant, "v02_small")
    _, without = _predict(variant, "e01_target_edges_absent")
    for etype in with_edges:
        assert torch.allclose(with_edges[etype], without[etype], atol=1e-6)


@pytest.mark.parametrize("variant", EDGE_VARIANTS)
def test_without_the_rule_the_target_edges_change_the_answer(variant: str) -> None:
    """The fixtures exercise the rule: ignoring it moves the predictions of v02_small."""
    keep_all = MessagePassingRule(removed_etypes=frozenset(), excluded_pairs={})
    _, ruled = _predict(variant, "v02_small")
    _, unruled = _predict(variant, "v02_small", keep_all)
    assert any((ruled[et] - unruled[et]).abs().max().item() > 1e-4 for et in ruled)


def test_models_and_outputs_by_task() -> None:
    for variant, width in (("rgcn_ec", 3), ("hgt_er", 1), ("rgcn_lp", 1)):
        _, model, _ = _model(variant)
        assert isinstance(model.head, EdgeHead)
        inputs, out = _predict(variant, "v01_tiny")
        (etype, rows), = out.items()
        assert rows.shape == (len(inputs.target_keys), width)
    _, probs = _predict("rgcn_ec", "v02_small")
    assert torch.allclose(probs[("author", "writing", "paper")].sum(1), torch.ones(2))
    _, scores = _predict("rgcn_lp", "v02_small")
    assert scores[("paper", "cited", "paper")].abs().max() <= 1.0 + 1e-6  # cosine of L2-normalised embeddings


def test_relation_the_model_does_not_predict_is_refused() -> None:
    config, model, rule = _model("rgcn_ec")
    inputs = load_npz_edge_case("rgcn_ec", "v01_tiny", config)
    graph, edge_inputs = inputs.after_rule(rule)
    (src, dst), = inputs.targets.values()
    with pytest.raises(ValueError, match="does not predict"):
        model.predict(graph, inputs.node_inputs, edge_inputs, {("paper", "writing-rev", "author"): (dst, src)})


def test_rgcn_edge_model_uses_sorted_relation_order() -> None:
    """T1 holds for edge models: the order the relations are given in does not matter."""
    config, model, rule = _model("rgcn_ec")
    reordered = restore_model(config, list(reversed(model_etypes("rgcn_ec"))),
                              fixture_path("rgcn_ec", "artifacts", "model.bin"), ntypes=model_ntypes("rgcn_ec"))
    inputs = load_npz_edge_case("rgcn_ec", "v02_small", config)
    graph, edge_inputs = inputs.after_rule(rule)
    args = (graph, inputs.node_inputs, edge_inputs, inputs.targets)
    (a,), (b,) = model.predict(*args).values(), reordered.predict(*args).values()
    assert torch.equal(a, b)


def test_lp_checkpoint_without_decoder_loads() -> None:
    """GraphStorm saves no decoder state for the parameter-free dot-product decoder."""
    checkpoint = torch.load(fixture_path("rgcn_lp", "artifacts", "model.bin"), weights_only=True)
    assert "decoder" not in checkpoint
    assert not list(_model("rgcn_lp")[1].decoder.parameters())


def test_missing_decoder_parameter_fails(tmp_path) -> None:
    checkpoint = torch.load(fixture_path("rgcn_ec", "artifacts", "model.bin"), weights_only=True)
    del checkpoint["decoder"]["basis_para"]
    torch.save(checkpoint, tmp_path / "model.bin")
    with pytest.raises(ModelLoadError, match="basis_para"):
        restore_model(load_config("rgcn_ec"), model_etypes("rgcn_ec"), tmp_path / "model.bin")


def test_missing_decoder_state_fails(tmp_path) -> None:
    checkpoint = torch.load(fixture_path("hgt_er", "artifacts", "model.bin"), weights_only=True)
    del checkpoint["decoder"]
    torch.save(checkpoint, tmp_path / "model.bin")
    with pytest.raises(ModelLoadError, match="decoder"):
        restore_model(load_config("hgt_er"), model_etypes("hgt_er"), tmp_path / "model.bin")


def test_unexpected_decoder_parameter_fails(tmp_path) -> None:
    """A DistMult checkpoint's relation embeddings do not load into a dot-product model."""
    checkpoint = torch.load(fixture_path("rgcn_lp", "artifacts", "model.bin"), weights_only=True)
    checkpoint["decoder"] = {"_w_relation.weight": torch.zeros(6, 32)}
    torch.save(checkpoint, tmp_path / "model.bin")
    with pytest.raises(ModelLoadError, match="_w_relation"):
        restore_model(load_config("rgcn_lp"), model_etypes("rgcn_lp"), tmp_path / "model.bin")


def test_decoder_config_must_match_checkpoint() -> None:
    """The ER checkpoint's DenseBiDecoder has a regression head, an EC config's does not."""
    config = load_config("hgt_er")
    as_classifier = dataclasses.replace(config, task_type="edge_classification", edge_task=dataclasses.replace(
        config.edge_task, task_type="edge_classification", num_classes=3))
    with pytest.raises(ModelLoadError, match="decoder"):
        restore_model(as_classifier, model_etypes("hgt_er"), fixture_path("hgt_er", "artifacts", "model.bin"))
    basis3 = dataclasses.replace(config, edge_task=dataclasses.replace(config.edge_task, num_decoder_basis=3))
    with pytest.raises(ModelLoadError, match="size mismatch"):
        restore_model(basis3, model_etypes("hgt_er"), fixture_path("hgt_er", "artifacts", "model.bin"))
