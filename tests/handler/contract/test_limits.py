"""Tests of handler.contract.limits: configurable maxima, 413 envelopes naming the limit, defaults."""

from __future__ import annotations

import json
import logging
from functools import cache
from pathlib import Path

import pytest

from handler import RealtimePredictor
from handler.contract import envelope
from handler.contract.arrow_payload import payload_to_arrow
from handler.contract.arrow_response import arrow_response_to_envelope
from handler.contract.limits import WARN_TARGETS, RequestLimits
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE
from handler.serving.predictor import RawRequest
from tests.compare import artifacts_dir

BODY = (artifacts_dir("rgcn_nc").parent / "payloads" / "v02_small.json").read_bytes()
PAYLOAD = json.loads(BODY)


@cache
def _predictor(**limits: int) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir("rgcn_nc"), limits=RequestLimits(**limits))


def _counts() -> dict[str, int]:
    return {"nodes": len(PAYLOAD["graph"]["nodes"]), "edges": len(PAYLOAD["graph"]["edges"]),
            "targets": len(PAYLOAD["targets"]), "request_bytes": len(BODY)}


def test_defaults_are_documented_values():
    assert RequestLimits() == RequestLimits(
        max_request_bytes=6 * 1024 * 1024, max_response_bytes=6 * 1024 * 1024, max_nodes=100_000,
        max_edges=500_000, max_targets=1_000, max_batch_nodes=200_000, max_batch_edges=1_000_000)
    assert _predictor().limits == RequestLimits()


@pytest.mark.parametrize("content_type", [JSON_CONTENT_TYPE, ARROW_STREAM_CONTENT_TYPE])
@pytest.mark.parametrize("what", ["nodes", "edges", "targets", "request_bytes"])
def test_a_request_at_the_limit_passes_one_over_gets_413(what, content_type):
    body = BODY if content_type == JSON_CONTENT_TYPE else payload_to_arrow(PAYLOAD)
    count = len(body) if what == "request_bytes" else _counts()[what]
    at_limit = _predictor(**{f"max_{what}": count}).predict(body, content_type)
    assert at_limit["status_code"] == 200, at_limit
    over = _predictor(**{f"max_{what}": count - 1}).predict(body, content_type)
    assert over["status_code"] == 413 and over["data"] == {}, over
    assert over["request_uid"] == envelope.request_uid(body)
    assert over["error"].startswith("Request Too Large: ")
    assert f"max_{what}" in over["error"] and str(count) in over["error"] and str(count - 1) in over["error"]


def test_byte_limit_is_checked_before_parsing():
    env = _predictor(max_request_bytes=10).predict(b"{" * 11)  # not JSON: never parsed
    assert env["status_code"] == 413 and env["request_uid"] == envelope.request_uid(b"{" * 11)


def test_limits_leave_malformed_graphs_to_the_graph_builder():
    body = json.dumps({**PAYLOAD, "graph": {"nodes": "many", "edges": 3}}).encode()
    assert _predictor(max_nodes=1, max_edges=1).predict(body)["status_code"] == 411


def test_from_options_reads_the_handler_section_and_ignores_other_keys():
    limits = RequestLimits.from_options({"http_status": True, "max_nodes": 5, "max_targets": 7})
    assert limits == RequestLimits(max_nodes=5, max_targets=7)
    assert RequestLimits.from_options(None) == RequestLimits()
    assert RequestLimits.from_options(limits.as_options()) == limits


@pytest.mark.parametrize("bad", [0, -1, 2.5, "10", True, None])
def test_limits_must_be_positive_integers(bad):
    with pytest.raises(ValueError, match="max_edges must be a positive integer"):
        RequestLimits.from_options({"max_edges": bad})


def test_many_targets_are_answered_with_graphstorm_s_warning(caplog):
    target = PAYLOAD["targets"][0]
    body = json.dumps({**PAYLOAD, "targets": [target] * (WARN_TARGETS + 1)}).encode()
    with caplog.at_level(logging.WARNING, logger="handler.request.parse"):
        env = _predictor().predict(body)
    assert env["status_code"] == 200 and len(env["data"]["results"]) == WARN_TARGETS + 1
    assert any(f"{WARN_TARGETS + 1} targets" in r.getMessage() for r in caplog.records)


def _properties(name: str) -> dict[str, str]:
    lines = (Path(__file__).parents[3] / "serving_config" / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_torchserve_local_size_limits_agree_with_the_handler():
    """TorchServe refuses bodies over max_request_size itself (HTTP 413, no envelope): the
    handler's byte limit must not be larger, or it would never be the one answering."""
    props = _properties("config.properties")
    assert RequestLimits().max_request_bytes == int(props["max_request_size"])
    # A larger answer is the handler's 413 envelope, so every answer fits a response.
    assert RequestLimits().max_response_bytes <= int(props["max_response_size"])


def test_an_answer_over_the_response_limit_is_a_413_envelope():
    env = _predictor().predict(BODY)
    size = len(envelope.dumps(env))
    small = _predictor(max_response_bytes=size - 1).predict(BODY)
    assert small["status_code"] == 413 and small["request_uid"] == env["request_uid"]
    assert small["error"].startswith("Response Too Large: ") and "max_response_bytes" in small["error"]
    assert _predictor(max_response_bytes=size).predict(BODY) == env


def test_the_response_limit_applies_to_arrow_answers():
    arrow = RawRequest(BODY, JSON_CONTENT_TYPE, accept=ARROW_STREAM_CONTENT_TYPE)
    size = len(_predictor().answer([arrow])[0].body)
    at_limit = _predictor(max_response_bytes=size).answer([arrow])[0]
    assert arrow_response_to_envelope(at_limit.body)["status_code"] == 200
    over = _predictor(max_response_bytes=size - 1).answer([arrow])[0]
    assert over.content_type == ARROW_STREAM_CONTENT_TYPE  # asked Arrow: the 413 is Arrow too
    answer = arrow_response_to_envelope(over.body)
    assert answer["status_code"] == 413 and answer["error"].startswith("Response Too Large: ")


def test_a_batch_over_the_budget_is_split_into_forwards_with_the_same_answers():
    nodes = len(PAYLOAD["graph"]["nodes"])
    alone = envelope.dumps(_predictor().predict(BODY))
    split = _predictor(max_nodes=nodes, max_batch_nodes=nodes).answer([(BODY, "application/json")] * 3)
    # A budget of one request's nodes: three forwards of one request, each answer exactly the
    # one-request answer.
    assert [o.body for o in split] == [alone] * 3


def test_batch_budget_must_hold_one_request():
    with pytest.raises(ValueError, match="max_batch_nodes"):
        RequestLimits(max_nodes=10, max_batch_nodes=5)
