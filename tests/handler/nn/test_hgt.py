"""HGT encoder: parameter names vs model.bin, predictions vs the hgt fixtures' target/."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from handler.contract.errors import UnsupportedConfigError
from handler.nn.hgt import build_hgt_encoder
from handler.nn.relational_graph import RelationalGraph
from tests.compare import FIXTURES_DIR
from tests.handler.nn.encoder_fixtures import (
    ATOL,
    fixture_model,
    isolated_target_case,
    max_target_diff,
    npz_inputs,
    success_npz_cases,
    target_rules,
)
from tests.handler.npz_graph import load_config, model_etypes, model_ntypes

VARIANTS = ["hgt_nc", "hgt_nc_efeat"]
CASES = [(v, c) for v in VARIANTS for c in success_npz_cases(v)]


def _encoder(variant: str, **changes) -> torch.nn.Module:
    config = dataclasses.replace(load_config(variant), **changes)
    return build_hgt_encoder(config, model_ntypes(variant), model_etypes(variant), {})


@pytest.mark.parametrize("variant", VARIANTS)
def test_state_dict_matches_model_bin(variant: str) -> None:
    gnn = torch.load(FIXTURES_DIR / variant / "artifacts" / "model.bin", weights_only=True)["gnn"]
    ours = _encoder(variant).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in gnn.items()}


@pytest.mark.parametrize(("variant", "case"), CASES, ids=[f"{v}/{c}" for v, c in CASES])
def test_predictions_match_target(variant: str, case: str) -> None:
    # T6: intermediate/ holds GraphStorm's transform of the list-wrapped scalars; unwrapped,
    # the payload is v02_small's.
    source = "v02_small" if "T6" in target_rules(variant, case) else case
    assert max_target_diff(variant, case, npz_inputs(variant, source)) <= ATOL


@pytest.mark.parametrize("variant", VARIANTS)
def test_isolated_target_matches_target(variant: str) -> None:
    # e03 (no edges; GraphStorm: 411) has no npz; e02 targets the same paper, whose features
    # do not depend on the payload.
    inputs = isolated_target_case(npz_inputs(variant, "e02_single_author_nan"))
    assert max_target_diff(variant, "e03_isolated_target", inputs) <= ATOL


@pytest.mark.parametrize("variant", VARIANTS)
def test_relations_missing_from_graph_count_as_empty(variant: str) -> None:
    # e02 lacks relation types: the mean over relations must still count all of the model's.
    inputs = npz_inputs(variant, "e02_single_author_nan")
    present = {et: e for et, e in inputs.graph.edges.items() if e[0].numel() > 0}
    assert len(present) < len(inputs.graph.edges)
    sparse = dataclasses.replace(inputs, graph=RelationalGraph(dict(inputs.graph.num_nodes), present))
    assert max_target_diff(variant, "e02_single_author_nan", sparse) <= ATOL


def test_node_types_without_nodes_give_empty_outputs() -> None:
    model = fixture_model("hgt_nc")
    inputs = npz_inputs("hgt_nc", "v01_tiny")
    only_papers = RelationalGraph(
        {"paper": 6, "author": 0, "subject": 0},
        {et: e if et == ("paper", "cited", "paper") else (e[0][:0], e[1][:0])
         for et, e in inputs.graph.edges.items()},
    )
    h = model.node_embed({"paper": inputs.node_inputs["paper"],
                          "author": inputs.node_inputs["author"][:0],
                          "subject": inputs.node_inputs["subject"][:0]})
    with torch.no_grad():
        out = model.gnn(only_papers, h, {})
    assert out["author"].shape == (0, 32) and out["subject"].shape == (0, 32)
    assert out["paper"].shape == (6, 32) and torch.isfinite(out["paper"]).all()


def test_node_type_without_in_relations_takes_pseudo_self_loop() -> None:
    config = dataclasses.replace(load_config("hgt_nc"), num_layers=1, edge_feat_names={})
    encoder = build_hgt_encoder(config, ["author", "paper"], [("author", "writing", "paper")], {})
    torch.manual_seed(0)
    for p in encoder.parameters():
        torch.nn.init.normal_(p, std=0.3)
    h = {"author": torch.randn(3, 32), "paper": torch.randn(2, 32)}
    graph = RelationalGraph({"author": 3, "paper": 2},
                            {("author", "writing", "paper"): (torch.tensor([0, 1, 2]), torch.tensor([0, 0, 1]))})
    with torch.no_grad():
        out = encoder(graph, h, {})
        expected = torch.relu(encoder._layers[0].a_linears["author"](h["author"]))
    torch.testing.assert_close(out["author"], expected)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_edge_feature_ops_without_extra_parameters(op: str) -> None:
    encoder = _encoder("hgt_nc_efeat", edge_feat_mp_op=op)
    assert not any("ef_linears" in k for k in encoder.state_dict())
    model = fixture_model("hgt_nc_efeat")
    encoder.load_state_dict({k: v for k, v in model.gnn.state_dict().items() if "ef_linears" not in k})
    inputs = npz_inputs("hgt_nc_efeat", "v02_small")
    with torch.no_grad():
        h = model.node_embed(inputs.node_inputs)
        out = encoder(inputs.graph, h, model.edge_embed(inputs.edge_inputs))
    assert all(torch.isfinite(v).all() for v in out.values())


def test_unknown_edge_feature_op_is_refused() -> None:
    with pytest.raises(UnsupportedConfigError, match="edge_feat_mp_op"):
        _encoder("hgt_nc_efeat", edge_feat_mp_op="max")
