"""Tests of handler.serving.predictor (and handler.contract.envelope): envelopes, batching, failure isolation."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import cache
from pathlib import Path

import orjson
import pytest
import torch

from handler import RealtimePredictor
from handler.contract import envelope
from handler.contract.errors import TargetNodeIdError
from handler.serving.predictor import disjoint_union

FIXTURES = Path(__file__).parents[2] / "fixtures"


@cache
def _predictor(variant: str) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(FIXTURES / variant / "artifacts")


def _body(variant: str, case: str) -> bytes:
    return (FIXTURES / variant / "payloads" / f"{case}.json").read_bytes()


def _predictions(env: dict) -> list[tuple[str, object, list[float]]]:
    assert env["status_code"] == 200, env
    return [(r["node_type"], r["node_id"], r["prediction"]) for r in env["data"]["results"]]


def _close(a: list[float], b: list[float], atol: float = 1e-6) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= atol for x, y in zip(a, b, strict=True))


def test_success_envelope_fields():
    body = _body("rgcn_nc", "v02_small")
    env = _predictor("rgcn_nc").predict(body)
    assert list(env) == ["status_code", "request_uid", "message", "error", "data"]
    assert env["request_uid"] == hashlib.sha256(body).hexdigest()[-16:]
    assert (env["status_code"], env["message"], env["error"]) == (200, "Request processed successfully.", "")
    targets = json.loads(body)["targets"]
    assert [(t["node_type"], t["node_id"]) for t in targets] == [r[:2] for r in _predictions(env)]
    for _, _, pred in _predictions(env):
        assert len(pred) == 5 and abs(sum(pred) - 1) < 1e-5


def test_error_envelope_fields():
    env = _predictor("rgcn_nc").predict(b"{not json", "application/json")
    assert env == {"status_code": 400, "request_uid": "", "message": "", "error": env["error"], "data": {}}
    assert env["error"].startswith("General JSON format error")


def test_results_follow_targets_order_and_duplicates_share_a_prediction():  # T12, T7
    payload = json.loads(_body("rgcn_nc", "v02_small"))
    t0, t1 = payload["targets"][:2]
    payload["targets"] = [t1, t0, t1]
    got = _predictions(_predictor("rgcn_nc").predict(json.dumps(payload).encode()))
    assert [r[1] for r in got] == [t1["node_id"], t0["node_id"], t1["node_id"]]
    assert got[0][2] == got[2][2]
    single = {r[1]: r[2] for r in _predictions(_predictor("rgcn_nc").predict(_body("rgcn_nc", "v02_small")))}
    assert all(_close(pred, single[nid]) for _, nid, pred in got)


@pytest.mark.parametrize("variant", ["rgcn_nc", "hgt_nc_efeat", "sage_homo_nc"])
def test_batch_equals_one_by_one_with_errors_in_between(variant):
    cases = ["v01_tiny", "x08_malformed_json" if variant != "sage_homo_nc" else "x07_malformed_json",
             "v03_medium_sampled", "e03_isolated_target", "x03_unknown_target_id", "v02_small"]
    bodies = [_body(variant, c) for c in cases]
    p = _predictor(variant)
    batch = p.predict_batch(bodies)
    for body, got in zip(bodies, batch, strict=True):
        alone = p.predict(body)
        assert got["status_code"] == alone["status_code"] and got["request_uid"] == alone["request_uid"]
        if got["status_code"] == 200:
            for (nt_a, id_a, pa), (nt_b, id_b, pb) in zip(_predictions(got), _predictions(alone), strict=True):
                assert (nt_a, id_a) == (nt_b, id_b) and _close(pa, pb)
        else:
            assert got == alone


def test_answer_reports_stages_sizes_and_serialised_envelopes():
    p = _predictor("rgcn_nc")
    ok, rejected = p.answer([(_body("rgcn_nc", "v02_small"), "application/json"),
                             (_body("rgcn_nc", "x03_unknown_target_id"), "application/json")])
    assert (ok.num_nodes, ok.num_edges) == (73, 80)
    assert set(ok.timings_ms) == {"decode", "expand", "parse", "transform", "build", "forward", "envelope"}
    assert ok.body == envelope.dumps(p.predict(_body("rgcn_nc", "v02_small")))
    assert rejected.status_code == TargetNodeIdError.status_code
    assert "forward" not in rejected.timings_ms and rejected.num_nodes is None
    assert p.answer([]) == []


class _Faulty(RealtimePredictor):
    """The real predictor whose ``build`` corrupts the model inputs of chosen requests, to
    exercise the forward's failure paths (no request can reach them otherwise)."""

    def __init__(self, base: RealtimePredictor, corrupt) -> None:
        super().__init__(base.model, base.schema, base.config, base.limits)
        self.corrupt = corrupt
        self.faulty_uids: set[str] = set()

    def build(self, parsed):
        graph = super().build(parsed)
        if parsed.uid.text in self.faulty_uids:
            graph = dataclasses.replace(graph, node_inputs=self.corrupt(graph.node_inputs))
        return graph


def test_a_failing_request_does_not_fail_its_batch():
    p = _Faulty(_predictor("rgcn_nc"), lambda x: {**x, "paper": x["paper"][:, :3]})
    bodies = [_body("rgcn_nc", c) for c in ("v01_tiny", "v02_small", "v03_medium_sampled")]
    p.faulty_uids.add(envelope.request_uid(bodies[1]))
    results = p.predict_batch(bodies)
    assert [r["status_code"] for r in results] == [200, 500, 200]
    assert results[0] == p.predict(bodies[0])
    assert results[1]["request_uid"] == envelope.request_uid(bodies[1]) and results[1]["data"] == {}
    assert "Traceback" not in results[1]["error"] and "shape" not in results[1]["error"]


def test_non_finite_predictions_are_a_422_never_a_nan_token():
    p = _Faulty(_predictor("rgcn_nc"), lambda x: {nt: torch.full_like(v, float("nan")) for nt, v in x.items()})
    body = _body("rgcn_nc", "v01_tiny")
    p.faulty_uids.add(envelope.request_uid(body))
    (outcome,) = p.answer([(body, "application/json")])
    assert outcome.status_code == 422 and "not finite" in outcome.envelope.error
    assert b"NaN" not in outcome.body and b"Infinity" not in outcome.body


def test_a_non_finite_prediction_is_a_422_for_its_request_alone():
    p = _Faulty(_predictor("rgcn_nc"), lambda x: {nt: torch.full_like(v, float("nan")) for nt, v in x.items()})
    bodies = [_body("rgcn_nc", c) for c in ("v01_tiny", "v02_small", "v01_tiny")]
    p.faulty_uids.add(envelope.request_uid(bodies[1]))
    results = p.predict_batch(bodies)
    assert [r["status_code"] for r in results] == [200, 422, 200]
    alone = _predictions(_predictor("rgcn_nc").predict(bodies[0]))
    for got in (results[0], results[2]):
        assert all(a[:2] == b[:2] and _close(a[2], b[2]) for a, b in zip(_predictions(got), alone, strict=True))


def test_the_union_offsets_each_requests_edges_by_the_nodes_before_it():
    p = _predictor("rgcn_nc")
    graphs = [p.build(p.parse(p.decode(_body("rgcn_nc", c), "application/json")))
              for c in ("v01_tiny", "v02_small", "v03_medium_sampled")]
    union = disjoint_union(graphs)
    for etype, (src, dst) in union.graph.edges.items():
        want_src, want_dst = [], []
        start = dict.fromkeys(graphs[0].num_nodes_by_type, 0)
        for g in graphs:
            want_src += [s + start[etype[0]] for s in g.edges[etype][0].tolist()]
            want_dst += [d + start[etype[2]] for d in g.edges[etype][1].tolist()]
            start = {nt: n + g.num_nodes_by_type[nt] for nt, n in start.items()}
        assert (src.tolist(), dst.tolist()) == (want_src, want_dst), etype
        assert src.dtype == dst.dtype == torch.int64
    assert union.graph.num_nodes == {nt: sum(g.num_nodes_by_type[nt] for g in graphs) for nt in union.graph.num_nodes}


def test_unexpected_errors_are_a_generic_500():
    (outcome,) = _predictor("rgcn_nc").answer([(12345, "application/json")])  # not bytes: a caller bug
    env = outcome.envelope.as_dict()
    assert env["status_code"] == 500 and env["data"] == {}
    assert env["error"].startswith("Internal Server Error")


def test_dumps_writes_compact_json_without_nan_tokens():
    env = envelope.Envelope.success("abc", [{"node_type": "p", "node_id": 1, "prediction": [0.25, float("nan")]}])
    raw = env.to_bytes()
    assert isinstance(raw, bytes) and b"NaN" not in raw
    assert orjson.loads(raw)["data"]["results"][0]["prediction"] == [0.25, None]


def test_the_pipeline_is_a_checked_list_of_typed_stages():
    from handler.serving.predictor import PIPELINE, STAGES, Stage, check_pipeline

    assert STAGES == ("decode", "expand", "parse", "transform", "build", "forward", "envelope")
    assert check_pipeline(PIPELINE) == STAGES
    decode, expand, parse, *rest = PIPELINE
    # A stage whose input is not its predecessor's output is refused.
    with pytest.raises(TypeError, match="stage transform takes ParsedRequest"):
        check_pipeline((decode, expand, *rest))
    # One entry adds a stage: same-typed, between decode and parse (as expand is).
    identity = Stage("identity", decode.gives, decode.gives, lambda p, d: d)
    assert check_pipeline((decode, identity, expand, parse, *rest))[1] == "identity"


def test_an_inserted_stage_is_timed_and_behind_the_one_error_boundary():
    from handler.contract.errors import InternalError
    from handler.serving.predictor import PIPELINE, Stage

    predictor = RealtimePredictor.from_artifacts(FIXTURES / "rgcn_nc" / "artifacts")
    body = _body("rgcn_nc", "v01_tiny")

    def failing(p, decoded):
        raise InternalError("the graph store is unavailable")

    predictor.stages = (PIPELINE[0], Stage("expand", PIPELINE[0].gives, PIPELINE[0].gives, lambda p, d: d),
                        *PIPELINE[1:])
    [ok] = predictor.answer([(body, "application/json")])
    assert ok.status_code == 200 and "expand" in ok.timings_ms
    assert ok.body == _predictor("rgcn_nc").answer([(body, "application/json")])[0].body
    predictor.stages = (PIPELINE[0], Stage("expand", PIPELINE[0].gives, PIPELINE[0].gives, failing),
                        *PIPELINE[1:])
    [failed] = predictor.answer([(body, "application/json")])
    assert failed.envelope.as_dict() == envelope.Envelope.from_error(
        envelope.request_uid(body), InternalError("the graph store is unavailable")).as_dict()
    assert failed.envelope.request_uid == envelope.request_uid(body)
    assert set(failed.timings_ms) == {"decode", "expand", "envelope"}


@pytest.mark.parametrize("variant", ["rgcn_nc", "rgcn_ec", "rgcn_lp", "hgt_nc_efeat", "rgcn_nc_learnable"])
def test_warm_up_runs_every_head_and_changes_no_answer(variant):
    cold = RealtimePredictor.from_artifacts(FIXTURES / variant / "artifacts")
    warm = RealtimePredictor.from_artifacts(FIXTURES / variant / "artifacts")
    assert warm.warm_up() >= 0
    bodies = sorted((FIXTURES / variant / "payloads").glob("*.json"))[:4]
    requests = [(b.read_bytes(), "application/json") for b in bodies]
    assert [o.body for o in warm.answer(requests)] == [o.body for o in cold.answer(requests)]


def test_profile_stages_option_marks_each_stage_in_a_profiler_trace():
    from handler.contract.settings import ServingOptions

    predictor = RealtimePredictor.from_artifacts(FIXTURES / "rgcn_nc" / "artifacts",
                                                 options=ServingOptions(profile_stages=True))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        [outcome] = predictor.answer([(_body("rgcn_nc", "v01_tiny"), "application/json")])
    assert outcome.status_code == 200
    names = {e.name for e in prof.events()}
    assert {f"gs.{s}" for s in outcome.timings_ms} <= names
