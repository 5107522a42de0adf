"""Tests of handler.inputs.graph_builder: payload graphs and transformed features vs GraphStorm's own.

``intermediate/<case>.npz`` holds the DGL graph GraphStorm 0.5.1 built from each payload
(node ids, transformed features, edges); the builder must produce the same values exactly,
except where a rule changes them (T5: rank_gauss over one node is 0; T6: e05 equals v02).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from handler.contract.errors import RealtimeError
from handler.contract.graph_schema import GraphSchema
from handler.contract.limits import RequestLimits
from handler.contract.lm_resolution import LMResolver
from handler.contract.model_config import ModelConfig
from handler.inputs.graph_builder import GraphBuilder, PayloadGraph, TransformedGraph
from handler.request.decode import decode
from handler.request.parse import RequestParser
from tests.compare import lm_models

FIXTURES = Path(__file__).parents[2] / "fixtures"
VARIANTS = sorted(p.name for p in FIXTURES.iterdir() if (p / "payloads" / "manifest.json").exists())
TOKEN_FIELDS = ("input_ids", "attention_mask", "token_type_ids")
INTERMEDIATE = [(v, p.stem) for v in VARIANTS for p in sorted((FIXTURES / v / "intermediate").glob("*.npz"))]


@cache
def _builder(variant: str, rule: bool = True) -> GraphBuilder:
    """The fixture's builder; ``rule=False``: an edge model's message-passing rule off, so that
    ``edges`` are the payload's (as the npz, which is BEFORE the rule)."""
    art = FIXTURES / variant / "artifacts"
    schema = GraphSchema.from_file(art / "data_transform_new.json")
    config = ModelConfig.from_yaml(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml",
                                   schema.ntypes, schema.canonical_etypes)
    if not rule and config.edge_task is not None:
        config = dataclasses.replace(config, edge_task=dataclasses.replace(
            config.edge_task, remove_target_edge_type=False, exclude_training_targets=False))
    return GraphBuilder(schema, config, lm_resolver=LMResolver(mapping=lm_models(variant)))


def _payload(variant: str, case: str) -> dict:
    path = FIXTURES / variant / "payloads" / f"{case}.json"
    if case == "v02_small" and not path.exists():  # gsp_rgcn_nc's cases are full neighbourhoods
        path = FIXTURES / variant / "payloads" / "v01_small_full.json"
    return json.loads(path.read_bytes())


def _parsed(variant: str, payload: dict | bytes, rule: bool = True):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    builder = _builder(variant, rule)
    parser = RequestParser(builder.schema, builder.config.task_type, RequestLimits())
    return builder, parser.parse(decode(body, "application/json", RequestLimits()))


def _build(variant: str, payload: dict | bytes, rule: bool = True) -> PayloadGraph:
    builder, parsed = _parsed(variant, payload, rule)
    return builder.build(parsed)


def _transform(variant: str, payload: dict | bytes) -> TransformedGraph:
    builder, parsed = _parsed(variant, payload)
    return builder.transform(parsed)


def _reject(variant: str, payload: dict) -> RealtimeError:
    with pytest.raises(RealtimeError) as info:
        _build(variant, payload)
    return info.value


def _bert_hf_features(variant: str) -> set[tuple[str, str]]:
    schema = _builder(variant).schema
    return {(nt, s.name) for nt, specs in schema.node_features.items() for s in specs
            if s.transform_name == "bert_hf"}


def _rank_gauss_features(variant: str) -> set[tuple[str, str]]:
    schema = _builder(variant).schema
    return {(nt, s.name) for nt, specs in schema.node_features.items() for s in specs
            if s.transform_name == "rank_gauss"}


@pytest.mark.parametrize(("variant", "case"), INTERMEDIATE, ids=[f"{v}/{c}" for v, c in INTERMEDIATE])
def test_graph_and_features_match_graphstorm(variant, case):
    payload = _payload(variant, case)
    # Cases answered 403/421 (T8/T9) still have a graph; ask for a predictable target instead.
    config = _builder(variant).config
    payload["gml_task"] = config.task_type
    if config.edge_task is None:  # edge fixtures' npz cases all have valid edge targets
        payload["targets"] = [{"node_type": n["node_type"], "node_id": n["node_id"]}
                              for n in payload["graph"]["nodes"] if n["node_type"] in config.target_ntypes][:1]
    pg, tg = _build(variant, payload, rule=False), _transform(variant, payload)
    # T6: e05 is v02 with scalars wrapped in lists; GraphStorm's e05 values are the wrong ones.
    ref_case = "v02_small" if case == "e05_scalars_as_lists" else case
    ref = np.load(FIXTURES / variant / "intermediate" / f"{ref_case}.npz")
    zero_by_t5 = _rank_gauss_features(variant) if case.startswith("e02_") else set()
    seen_etypes = set()
    for key in ref.files:
        kind, type_name, *rest = key.split("/")
        if kind == "node_ids":
            assert [str(i) for i in tg.node_ids[type_name]] == ref[key].tolist(), key
        elif kind == "lm_pooler":
            continue  # the LM's output: tests/handler/nn/test_lm_input_layer.py
        elif kind == "node_feat" and rest[0] in TOKEN_FIELDS:  # tokenize_hf: exact, with dtype
            got = getattr(pg.text_inputs[type_name], rest[0])
            assert got.dtype == ref[key].dtype, key
            np.testing.assert_array_equal(got, ref[key], err_msg=key)
        elif kind == "node_feat":
            got = tg.node_features[type_name][rest[0]]
            if (type_name, rest[0]) in zero_by_t5 and len(got) == 1:
                np.testing.assert_array_equal(got, np.zeros((1, 1)), err_msg=key)  # T5
            elif (type_name, rest[0]) in _bert_hf_features(variant):  # an LM forward: float noise
                np.testing.assert_allclose(got, ref[key], rtol=0, atol=1e-6, err_msg=key)
            else:
                np.testing.assert_array_equal(got, ref[key].astype(np.float32), err_msg=key)
        elif kind in ("edge_src", "edge_dst"):
            etype = tuple(type_name.split(","))
            seen_etypes.add(etype)
            src, dst = pg.edges[etype]
            np.testing.assert_array_equal((src if kind == "edge_src" else dst).numpy(), ref[key], err_msg=key)
        else:
            assert kind == "edge_feat", key
            got = tg.edge_features[tuple(type_name.split(","))][rest[0]]
            np.testing.assert_array_equal(got, ref[key].astype(np.float32), err_msg=key)
    # every other relation of the model is present without edges
    for etype, (src, dst) in pg.edges.items():
        if etype not in seen_etypes:
            assert len(src) == len(dst) == 0, etype


@pytest.mark.parametrize("variant", VARIANTS)
def test_model_inputs_are_the_model_features_in_config_order(variant):
    pg, tg = _build(variant, _payload(variant, "v02_small")), _transform(variant, _payload(variant, "v02_small"))
    config = _builder(variant).config
    for ntype, x in pg.node_inputs.items():
        names = config.node_feat_names.get(ntype) or ("gs_learnable_embedding",)
        if config.use_node_embeddings and ntype in config.node_feat_names:  # the embedding follows
            names = (*names, "gs_learnable_embedding")
        expected = np.concatenate([tg.node_features[ntype][n] for n in names], axis=1)
        assert x.dtype == torch.float32
        np.testing.assert_array_equal(x.numpy(), expected)
        assert x.shape[0] == pg.num_nodes_by_type[ntype]
    for etype, names in config.edge_feat_names.items():
        if len(pg.edges[etype][0]):
            expected = np.concatenate([tg.edge_features[etype][n] for n in names], axis=1)
            np.testing.assert_array_equal(pg.edge_inputs[etype].numpy(), expected)


@pytest.mark.parametrize("variant", VARIANTS)
def test_graph_has_every_model_type_and_the_payload_edges(variant):
    pg = _build(variant, _payload(variant, "v02_small"), rule=False)
    schema = _builder(variant).schema
    assert set(pg.edges) == set(schema.canonical_etypes)
    assert set(pg.num_nodes_by_type) == set(schema.ntypes)
    for etype, (src, dst) in pg.edges.items():
        assert src.dtype == dst.dtype == torch.int64 and len(src) == len(dst)
        if len(src):
            assert int(src.max()) < pg.num_nodes_by_type[etype[0]]
            assert int(dst.max()) < pg.num_nodes_by_type[etype[2]]
    payload = _payload(variant, "v02_small")
    assert pg.num_nodes == len(payload["graph"]["nodes"])
    assert pg.num_edges == len(payload["graph"]["edges"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_edgeless_payload_is_valid(variant):  # T4
    payload = _payload(variant, "v02_small")
    target = payload["targets"][0]
    if "edge_type" in target:  # keep both endpoints
        keep = {(target["edge_type"][0], target["src_node_id"]), (target["edge_type"][2], target["dest_node_id"])}
    else:
        keep = {(target["node_type"], target["node_id"])}
    payload["graph"] = {"nodes": [n for n in payload["graph"]["nodes"] if (n["node_type"], n["node_id"]) in keep],
                        "edges": []}
    payload["targets"] = [target]
    pg = _build(variant, payload)
    assert pg.num_edges == 0 and pg.num_nodes == len(keep)
    assert len(pg.target_positions) == 1
    assert len(pg.target_positions[0]) == (2 if "edge_type" in target else 1)


@pytest.mark.parametrize(("variant", "relations"), [
    ("rgcn_ec", {("author", "writing", "paper"), ("paper", "writing-rev", "author")}),  # removed
    ("rgcn_lp", {("paper", "cited", "paper"), ("paper", "cited-rev", "paper")}),  # target pairs excluded
])
def test_edge_model_rule_applies_to_the_built_graph(variant, relations):
    payload = _payload(variant, "v02_small")
    ruled, plain = _build(variant, payload), _build(variant, payload, rule=False)
    config = _builder(variant).config
    for etype, (src, _) in plain.edges.items():
        if etype not in relations:
            assert torch.equal(ruled.edges[etype][0], src), etype
        elif config.edge_task.remove_target_edge_type:
            assert len(ruled.edges[etype][0]) == 0, etype
        else:
            assert 0 < len(ruled.edges[etype][0]) < len(src), etype  # only the target pairs go
    ids = _transform(variant, payload).node_ids
    got = [(t.edge_type, ids[t.edge_type[0]][s], ids[t.edge_type[2]][d])
           for t, (s, d) in zip(ruled.targets, ruled.target_positions, strict=True)]
    assert got == [(tuple(t["edge_type"]), t["src_node_id"], t["dest_node_id"]) for t in payload["targets"]]


def test_targets_keep_request_order_and_duplicates():
    payload = _payload("rgcn_nc", "v02_small")
    t0, t1 = payload["targets"][:2]
    payload["targets"] = [t1, t0, t1]
    pg = _build("rgcn_nc", payload)
    assert [t.node_id for t in pg.targets] == [t1["node_id"], t0["node_id"], t1["node_id"]]
    ids = _transform("rgcn_nc", payload).node_ids["paper"]
    assert [ids[i] for (i,) in pg.target_positions] == [t1["node_id"], t0["node_id"], t1["node_id"]]


def _mutate(variant: str, change) -> dict:
    payload = copy.deepcopy(_payload(variant, "v02_small"))
    change(payload)
    return payload


def _first(payload: dict, ntype: str) -> dict:
    return next(n for n in payload["graph"]["nodes"] if n["node_type"] == ntype)


def test_nan_feature_names_node_type_id_and_feature():  # T10
    def change(p):
        node = _first(p, "author")
        node["features"]["h_index"] = float("nan")
    err = _reject("rgcn_nc", _mutate("rgcn_nc", change))
    node_id = _first(_payload("rgcn_nc", "v02_small"), "author")["node_id"]
    assert err.status_code == 411
    for word in ("author", node_id, "h_index", "NaN"):
        assert word in err.detail


def test_nan_in_a_vector_feature_names_its_node():
    def change(p):
        nodes = [n for n in p["graph"]["nodes"] if n["node_type"] == "paper"]
        nodes[3]["features"]["feat"][5] = float("inf")
    err = _reject("rgcn_nc", _mutate("rgcn_nc", change))
    paper_ids = [n["node_id"] for n in _payload("rgcn_nc", "v02_small")["graph"]["nodes"] if n["node_type"] == "paper"]
    assert err.status_code == 411 and paper_ids[3] in err.detail and "'feat'" in err.detail


def test_edge_feature_nan_names_the_edge():
    def change(p):
        edge = next(e for e in p["graph"]["edges"] if e["edge_type"] == ["author", "writing", "paper"])
        edge["features"]["order"] = float("nan")
        change.edge = edge
    err = _reject("rgcn_nc_efeat", _mutate("rgcn_nc_efeat", change))
    assert err.status_code == 411
    assert f"{change.edge['src_node_id']} -> {change.edge['dest_node_id']}" in err.detail
    assert "'order'" in err.detail and "writing" in err.detail


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        (lambda p: p["graph"]["nodes"].append(copy.deepcopy(_first(p, "paper"))), 411, ["listed twice"]),
        (lambda p: p["graph"]["edges"][0].update(src_node_id="nope"), 411, ["nope", "not a"]),
        (lambda p: p["graph"]["nodes"].append({"node_type": "venue", "node_id": "v1"}), 411, ["venue"]),
        (lambda p: p["graph"]["edges"][0].update(edge_type=["paper", "cites", "paper"]), 411, ["cites"]),
        (lambda p: _first(p, "paper")["features"].pop("year"), 411, ["feature keys"]),
        (lambda p: _first(p, "paper").pop("features"), 411, ["no 'features'"]),
        (lambda p: _first(p, "paper").update(features=[1]), 411, ["must be an object"]),
        (lambda p: _first(p, "paper")["features"].update(feat=[0.5] * 15), 411, ["'feat'", "16"]),
        (lambda p: _first(p, "paper").update(node_id=""), 402, ["node_id"]),
        (lambda p: p["graph"]["edges"][0].update(dest_node_id=None), 402, ["dest_node_id"]),
        (lambda p: p["graph"].pop("edges"), 411, ["edges"]),
        (lambda p: p.pop("graph"), 411, ["graph"]),
        (lambda p: [n["features"].pop("venue") for n in p["graph"]["nodes"] if n["node_type"] == "paper"],
         404, ["paper", "venue"]),
        (lambda p: p["targets"].append({"node_type": "author", "node_id": _first(p, "author")["node_id"]}),
         403, ["author", "paper"]),
        (lambda p: p["targets"].append({"node_type": "paper", "node_id": "p-none"}), 404, ["p-none"]),
    ],
)
def test_invalid_payloads(change, status, words):
    err = _reject("rgcn_nc", _mutate("rgcn_nc", change))
    assert err.status_code == status, err.error_text
    for word in words:
        assert word in err.error_text


def test_target_type_absent_from_the_payload_is_403():
    payload = _mutate("rgcn_nc", lambda p: None)
    payload["graph"]["nodes"] = [n for n in payload["graph"]["nodes"] if n["node_type"] != "paper"]
    payload["graph"]["edges"] = []
    assert _reject("rgcn_nc", payload).status_code == 403


@pytest.mark.parametrize("variant", ["rgcn_nc", "rgcn_nc_efeat"])
def test_edges_must_carry_every_configured_feature(variant):
    # GraphStorm transforms all configured edge features (a KeyError, 411, when one is
    # absent), whether the model reads them (rgcn_nc_efeat) or not (rgcn_nc).
    def change(p):
        for e in p["graph"]["edges"]:
            if e["edge_type"] == ["author", "writing", "paper"]:
                e["features"].pop("contrib")
    err = _reject(variant, _mutate(variant, change))
    assert err.status_code == 411 and "contrib" in err.error_text and "writing" in err.error_text


def test_learnable_embeddings_are_the_featureless_types_inputs():
    pg = _build("rgcn_nc_learnable", _payload("rgcn_nc_learnable", "v02_small"))
    subjects = [n for n in _payload("rgcn_nc_learnable", "v02_small")["graph"]["nodes"] if n["node_type"] == "subject"]
    expected = np.array([n["features"]["gs_learnable_embedding"] for n in subjects], dtype=np.float32)
    np.testing.assert_array_equal(pg.node_inputs["subject"].numpy(), expected)


def test_missing_learnable_embedding_is_500_naming_the_type():
    payload = _payload("rgcn_nc_learnable", "x16_missing_learnable_embedding")
    err = _reject("rgcn_nc_learnable", payload)
    assert err.status_code == 500 and "gs_learnable_embedding" in err.detail and "subject" in err.detail


def test_learnable_embedding_of_the_wrong_width_is_411():
    def change(p):
        for n in p["graph"]["nodes"]:
            if n["node_type"] == "subject":
                n["features"]["gs_learnable_embedding"] = n["features"]["gs_learnable_embedding"][:-1]
    err = _reject("rgcn_nc_learnable", _mutate("rgcn_nc_learnable", change))
    assert err.status_code == 411 and "gs_learnable_embedding" in err.detail


@pytest.mark.parametrize(("variant", "ntype", "reads"), [
    ("rgcn_nc", "author", "'feat', 'h_index', 'country'"),
    ("rgcn_nc_learnable", "subject", "'gs_learnable_embedding'"),
])
def test_nodes_without_features_name_what_the_model_reads(variant, ntype, reads):
    def change(p):
        for n in p["graph"]["nodes"]:
            if n["node_type"] == ntype:
                n["features"] = {}
    err = _reject(variant, _mutate(variant, change))
    assert err.status_code == 411
    assert f"node type {ntype}: the nodes carry no features (the model reads {reads})" in err.detail
