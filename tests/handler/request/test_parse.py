"""Tests of handler.request.parse: the typed request, in GraphStorm's order of checks."""

from __future__ import annotations

import json

import pytest

from handler.contract.errors import RealtimeError
from handler.contract.graph_schema import GraphSchema
from handler.contract.limits import RequestLimits
from handler.request.decode import decode
from handler.request.parse import RequestParser
from handler.request.parsed import EdgeTarget, NodeTarget
from tests.compare import artifacts_dir

SCHEMA = GraphSchema.from_file(artifacts_dir("rgcn_nc") / "data_transform_new.json")
LIMITS = RequestLimits()
GOOD = {
    "version": "gs-realtime-v0.1",
    "gml_task": "node_classification",
    "graph": {"nodes": [], "edges": []},
    "targets": [{"node_type": "paper", "node_id": "p1"}],
}


def _body(**changes) -> bytes:
    payload = {**GOOD, **changes}
    return json.dumps({k: v for k, v in payload.items() if v is not ...}).encode()


def _parse(body: bytes, task: str = "node_classification", limits: RequestLimits = LIMITS):
    return RequestParser(SCHEMA, task, limits).parse(decode(body, "application/json", limits))


def _reject(body: bytes, task: str = "node_classification", limits: RequestLimits = LIMITS) -> RealtimeError:
    with pytest.raises(RealtimeError) as info:
        _parse(body, task, limits)
    return info.value


def test_valid_request_keeps_targets_in_order_with_duplicates():
    targets = [{"node_type": "paper", "node_id": "p2"}, {"node_type": "paper", "node_id": 7},
               {"node_type": "paper", "node_id": "p2"}]
    req = _parse(_body(targets=targets))
    assert req.targets == (NodeTarget("paper", "p2"), NodeTarget("paper", 7), NodeTarget("paper", "p2"))
    assert (req.nodes, req.edges) == ({}, {})


def test_graph_is_grouped_by_type_in_the_same_pass():
    graph = {"nodes": [{"node_type": "author", "node_id": "a1", "features": {"x": 1}},
                       {"node_type": "paper", "node_id": "p1", "features": {"y": 2}},
                       {"node_type": "author", "node_id": "a2", "features": {"x": 3}}],
             "edges": [{"edge_type": ["author", "writing", "paper"], "src_node_id": "a1", "dest_node_id": "p1"}]}
    req = _parse(_body(graph=graph))
    assert req.nodes["author"].ids == ["a1", "a2"]
    assert req.edges[("author", "writing", "paper")].ids == [("a1", "p1")]
    assert (req.num_nodes, req.num_edges) == (3, 1)


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"3"])
def test_json_that_is_not_an_object_is_400(body):
    assert _reject(body).status_code == 400


@pytest.mark.parametrize("task", [..., None, "edge_classification", ["node_classification"], "x" * 10_000])
def test_missing_or_other_task_is_421(task):
    err = _reject(_body(gml_task=task))
    assert err.status_code == 421
    assert len(err.error_text) < 1000


def test_task_other_than_the_models_is_421():
    err = _reject(_body(gml_task="node_regression"))
    assert err.status_code == 421
    assert "node_regression" in err.detail and "node_classification" in err.detail


def test_task_is_checked_before_targets():
    assert _reject(_body(gml_task="link_prediction", targets=...)).status_code == 421


@pytest.mark.parametrize("targets", [..., None, [], {}])
def test_missing_or_empty_targets_is_401(targets):
    err = _reject(_body(targets=targets))
    assert err.status_code == 401
    assert "'targets'" in err.error_text


@pytest.mark.parametrize(
    "targets",
    [5, "p1", [["paper", "p1"]], [{"node_type": "paper"}], [{"node_id": "p1"}],
     [{"node_type": 3, "node_id": "p1"}], [{"node_type": "paper", "node_id": ["p1"]}]],
)
def test_malformed_targets_are_400(targets):
    assert _reject(_body(targets=targets)).status_code == 400


def test_infinite_target_id_is_400_not_a_null_echo():
    body = _body().replace(b'"node_id": "p1"', b'"node_id": Infinity')
    err = _reject(body)
    assert err.status_code == 400 and "finite" in err.detail


@pytest.mark.parametrize("node_id", [None, ""])
def test_target_without_id_value_is_402(node_id):
    err = _reject(_body(targets=[{"node_type": "paper", "node_id": node_id}]))
    assert err.status_code == 402
    assert "node_id" in err.error_text and "paper" in err.error_text


def test_count_limits_are_413_before_the_lists_are_walked():
    limits = RequestLimits(max_targets=1)
    targets = [{"node_type": "paper", "node_id": "p1"}, "not even a target"]
    err = _reject(_body(targets=targets), limits=limits)
    assert err.status_code == 413 and "max_targets" in err.detail


def test_edge_model_reads_edge_targets():
    target = {"edge_type": ["author", "writing", "paper"], "src_node_id": "a1", "dest_node_id": "p1"}
    req = _parse(_body(gml_task="edge_classification", targets=[target]), task="edge_classification")
    assert req.targets == (EdgeTarget(("author", "writing", "paper"), "a1", "p1"),)


@pytest.mark.parametrize("target", [
    {"node_type": "paper", "node_id": "p1"},
    {"edge_type": "author,writing,paper", "src_node_id": "a1", "dest_node_id": "p1"},
    {"edge_type": ["author", "writing"], "src_node_id": "a1", "dest_node_id": "p1"},
    {"edge_type": ["author", "writing", "paper"], "src_node_id": "a1"},
    "a1->p1",
])
def test_malformed_edge_targets_are_400(target):
    err = _reject(_body(gml_task="edge_classification", targets=[target]), task="edge_classification")
    assert err.status_code == 400


def test_echoed_values_are_bounded():
    huge = {"node_type": "paper", "node_id": ["x" * 100_000]}
    err = _reject(_body(targets=[huge]))
    assert err.status_code == 400 and len(err.error_text) < 1000
