"""Fixture checks shared by the encoder tests: run the restored model on an npz case and
compare with ``target/<case>.json``."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import torch

from handler.model.graphstorm_model import GraphStormModel, restore_model
from handler.nn.relational_graph import RelationalGraph
from tests.compare import FIXTURES_DIR
from tests.handler.npz_graph import (
    NpzCase,
    load_config,
    load_npz_case,
    model_etypes,
    model_ntypes,
    target_predictions,
)

ATOL = 1e-5


@cache
def fixture_model(variant: str) -> GraphStormModel:
    """The fixture's model, restored strictly from ``model.bin``."""
    return restore_model(
        load_config(variant), model_etypes(variant), FIXTURES_DIR / variant / "artifacts" / "model.bin",
        ntypes=model_ntypes(variant),
    )


def target_rules(variant: str, case: str) -> list[str]:
    """The case's ``target_rules`` from the manifest."""
    manifest = json.loads((FIXTURES_DIR / variant / "payloads" / "manifest.json").read_text())
    return next(c["target_rules"] for c in manifest["cases"] if c["name"] == case)


def success_npz_cases(variant: str) -> list[str]:
    """Cases with an ``intermediate/`` npz whose target is a 200 with predictions."""
    root = FIXTURES_DIR / variant
    return sorted(
        p.stem for p in (root / "intermediate").glob("*.npz")
        if json.loads((root / "target" / p.name.replace(".npz", ".json")).read_text())["status_code"] == 200
    )


def max_target_diff(variant: str, case: str, inputs: NpzCase) -> float:
    """Max abs difference between the model's predictions on ``inputs`` and ``target/<case>``.

    Args:
        variant: fixture name.
        case: the case whose ``target/`` results are compared (order and duplicates as listed).
        inputs: model inputs; their ``target_keys`` must list the same nodes.
    """
    model = fixture_model(variant)
    preds = model.predict(inputs.graph, inputs.node_inputs, inputs.edge_inputs, inputs.positions)
    rows: dict[str, int] = {}
    worst = 0.0
    expected = target_predictions(variant, case)
    assert [(nt, nid) for nt, nid, _ in expected] == inputs.target_keys
    for nt, _, values in expected:
        row = rows.get(nt, 0)
        rows[nt] = row + 1
        got = preds[nt][row].numpy()
        assert np.isfinite(got).all()
        worst = max(worst, float(np.abs(got - np.asarray(values, dtype=np.float64)).max()))
    return worst


def npz_inputs(variant: str, case: str) -> NpzCase:
    """Model inputs for ``case`` from the intermediate npz, with target rules applied:
    T5 (rank_gauss over one node -> 0 instead of NaN)."""
    return load_npz_case(variant, case, load_config(variant), nan_to_zero="T5" in target_rules(variant, case))


def isolated_target_case(inputs: NpzCase) -> NpzCase:
    """The first target of ``inputs`` alone (its own features), no edges, every relation empty
    (T4: a payload without edges)."""
    ntype, node_id = inputs.target_keys[0]
    index = int(inputs.targets[ntype][0])
    empty = torch.zeros(0, dtype=torch.int64)
    graph = RelationalGraph(
        {nt: int(nt == ntype) for nt in inputs.graph.num_nodes},
        {et: (empty, empty.clone()) for et in inputs.graph.edges},
    )
    return NpzCase(
        graph=graph,
        node_inputs={ntype: inputs.node_inputs[ntype][index:index + 1]},
        edge_inputs={},
        targets={ntype: torch.tensor([0], dtype=torch.int64)},
        target_keys=[(ntype, node_id)],
    )
