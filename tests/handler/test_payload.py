"""Tests of handler.payload: the model-independent checks, in GraphStorm's order."""

from __future__ import annotations

import hashlib
import json

import pytest

from handler.errors import RealtimeError
from handler.payload import Target, parse_request

GOOD = {
    "version": "gs-realtime-v0.1",
    "gml_task": "node_classification",
    "graph": {"nodes": [], "edges": []},
    "targets": [{"node_type": "paper", "node_id": "p1"}],
}


def _body(**changes) -> bytes:
    payload = {**GOOD, **changes}
    return json.dumps({k: v for k, v in payload.items() if v is not ...}).encode()


def _reject(body: bytes, content_type: str = "application/json", model_task: str | None = None) -> RealtimeError:
    with pytest.raises(RealtimeError) as info:
        parse_request(body, content_type, model_task)
    return info.value


def test_valid_request_keeps_targets_in_order_with_duplicates():
    targets = [{"node_type": "paper", "node_id": "p2"}, {"node_type": "paper", "node_id": 7},
               {"node_type": "paper", "node_id": "p2"}]
    body = _body(targets=targets)
    req = parse_request(body, "application/json")
    assert req.uid == hashlib.sha256(body).hexdigest()[-16:]
    assert req.gml_task == "node_classification"
    assert req.targets == (Target("paper", "p2"), Target("paper", 7), Target("paper", "p2"))
    assert req.payload["graph"] == GOOD["graph"]


@pytest.mark.parametrize("content_type", ["text/csv", "application/jsonlines", "", None])
def test_unsupported_content_type_is_400_without_uid(content_type):
    err = _reject(_body(), content_type)
    assert (err.status_code, err.request_uid) == (400, "")
    assert "Unsupported content type" in err.error_text


def test_json_content_type_with_charset_is_accepted():
    assert parse_request(_body(), "Application/JSON; charset=utf-8").targets


@pytest.mark.parametrize("body", [b'{"gml_task": "node_classification", "targets": [', b"", b"\xff\xfe{"])
def test_malformed_json_is_400_without_uid(body):
    err = _reject(body)
    assert (err.status_code, err.request_uid) == (400, "")
    assert err.error_text.startswith("General JSON format error")


@pytest.mark.parametrize("token", [b"1e999", b"NaN", b"-Infinity"])
def test_numbers_orjson_refuses_are_read_like_python_json(token):
    body = _body().replace(b'"graph": {', b'"graph": {"x": ' + token + b", ")
    req = parse_request(body)
    assert req.payload["graph"]["x"] != 0  # inf / nan, for the feature checks to name


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"3"])
def test_json_that_is_not_an_object_is_400_with_uid(body):
    err = _reject(body)
    assert err.status_code == 400
    assert err.request_uid == hashlib.sha256(body).hexdigest()[-16:]


@pytest.mark.parametrize("task", [..., None, "edge_classification", ["node_classification"]])
def test_missing_or_non_node_task_is_421(task):
    err = _reject(_body(gml_task=task))
    assert err.status_code == 421
    assert err.request_uid


def test_task_other_than_the_models_is_421():
    err = _reject(_body(gml_task="node_regression"), model_task="node_classification")
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
    err = _reject(_body(targets=targets))
    assert err.status_code == 400
    assert err.request_uid


@pytest.mark.parametrize("node_id", [None, ""])
def test_target_without_id_value_is_402(node_id):
    err = _reject(_body(targets=[{"node_type": "paper", "node_id": node_id}]))
    assert err.status_code == 402
    assert "node_id" in err.error_text and "paper" in err.error_text
