"""End-to-end parity: every case of every fixture answered as ``target/`` says.

Each payload's exact bytes go through ``RealtimePredictor.answer``; the serialized envelope
is compared with ``target/<case>.json`` by the case's ``target_compare`` rule (see
``compare.py``). ``predict_batch`` over a fixture's payloads must give the same answers as
one-by-one calls. Each case is asked as our Arrow response (``Accept:
application/vnd.apache.arrow.stream``), whose body converts back to exactly its JSON envelope.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache

import orjson
import pytest

from handler import RealtimePredictor
from handler.contract.arrow_response import arrow_response_to_envelope
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE
from handler.serving.predictor import RawRequest
from tests.compare import (
    VARIANTS,
    all_cases,
    artifacts_dir,
    assert_matches_target,
    lm_models,
    load_cases,
    result_key,
)

CASES = all_cases()


@cache
def _predictor(variant: str) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir(variant), lm_models=lm_models(variant))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_matches_target(case):
    """The answer matches target/, and asked as our Arrow response (one answer serialised both
    ways: a second forward per case would double this test's time), its Arrow body converts back
    to exactly its JSON body (same values, not rounded)."""
    request = RawRequest(case.body, case.content_type, accept=ARROW_STREAM_CONTENT_TYPE)
    outcome = _predictor(case.variant).answer([request])[0]
    raw = dataclasses.replace(outcome.envelope, media_type=JSON_CONTENT_TYPE).to_bytes()
    assert_matches_target(case, orjson.loads(raw), raw)
    assert outcome.content_type == ARROW_STREAM_CONTENT_TYPE
    # json, not orjson: a body echoing a lone surrogate escapes it ("\\ud800"), which orjson refuses.
    assert arrow_response_to_envelope(outcome.body) == json.loads(raw), case.id


@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_equals_one_by_one(variant):
    cases = [c for c in load_cases(variant) if c.kind != "invalid"]
    p = _predictor(variant)
    batch = p.predict_batch([c.body for c in cases], [c.content_type for c in cases])
    for case, got in zip(cases, batch, strict=True):
        alone = p.predict(case.body, case.content_type)
        assert (got["status_code"], got["request_uid"]) == (alone["status_code"], alone["request_uid"]), case.id
        if alone["status_code"] != 200:
            continue
        for g, a in zip(got["data"]["results"], alone["data"]["results"], strict=True):
            assert result_key(g) == result_key(a), case.id
            assert max(abs(x - y) for x, y in zip(g["prediction"], a["prediction"], strict=True)) <= 1e-6, case.id


def _omission_cases() -> list[tuple[str, str]]:
    """(variant, node type) for every node type of a fixture's first valid payload that no
    target needs."""
    cases = []
    for variant in VARIANTS:
        case = next(c for c in load_cases(variant) if c.kind == "valid")
        payload = orjson.loads(case.body)
        needed = {t["node_type"] for t in payload["targets"] if "node_type" in t}
        needed |= {nt for t in payload["targets"] if "edge_type" in t for nt in (t["edge_type"][0], t["edge_type"][2])}
        cases += [(variant, nt) for nt in sorted({n["node_type"] for n in payload["graph"]["nodes"]} - needed)]
    return cases


OMISSIONS = _omission_cases()


@pytest.mark.parametrize(("variant", "ntype"), OMISSIONS, ids=[f"{v}-{nt}" for v, nt in OMISSIONS])
def test_payload_without_a_node_type_is_answered(variant, ntype):
    """Every encoder and input kind (features, learnable or node embeddings, LM text, edge
    features): a payload that omits a node type (its nodes and their edges) is a 200, as
    though the type had no nodes in the graph; never a 500."""
    case = next(c for c in load_cases(variant) if c.kind == "valid")
    payload = orjson.loads(case.body)
    payload["graph"]["nodes"] = [n for n in payload["graph"]["nodes"] if n["node_type"] != ntype]
    payload["graph"]["edges"] = [e for e in payload["graph"]["edges"]
                                 if ntype not in (e["edge_type"][0], e["edge_type"][2])]
    got = _predictor(variant).predict(orjson.dumps(payload), "application/json")
    assert got["status_code"] == 200, got
