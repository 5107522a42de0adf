"""Fuzzing ``RealtimePredictor`` with mutated fixture payloads (hypothesis).

Every request, however broken, must get an envelope: the right status (``Expect`` of the
mutation, ``payload_mutations.py``), an error that names the problem and carries no stack
trace, and nothing may escape ``predict``. Valid requests in a batch must get their solo
answers whatever their neighbours are. Runs >= 1,000 generated cases; scale with
``GS_FUZZ_SCALE`` (e.g. ``GS_FUZZ_SCALE=20`` for a long local run; add
``GS_FUZZ_RANDOM=1`` to draw new examples instead of the fixed CI ones).
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from handler import RealtimePredictor, envelope
from tests.compare import artifacts_dir
from tests.handler.payload_mutations import MUTATIONS, Expect, ModelInfo, Mutated, junk

VARIANTS = ("rgcn_nc", "rgcn_nc_efeat", "rgcn_nc_learnable", "hgt_nc", "sage_homo_nc")
BASE_CASES = ("v01_tiny", "v02_small", "e03_isolated_target", "e07_duplicate_target")
FIELDS = ["status_code", "request_uid", "message", "error", "data"]
CLIENT_ERRORS = frozenset({400, 401, 402, 403, 404, 411, 413, 421, 422})
TRACE_MARKERS = ("Traceback (most recent call last)", "File \"/", "site-packages/")
SCALE = float(os.environ.get("GS_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=int(examples * SCALE), deadline=None, database=None,
                    derandomize=not os.environ.get("GS_FUZZ_RANDOM"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    # Tiny graphs: threads only add contention on a shared CI machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@cache
def predictor(variant: str) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir(variant))


@cache
def model_info(variant: str) -> ModelInfo:
    return ModelInfo.of(predictor(variant))


@cache
def base_body(variant: str, case: str) -> bytes:
    return (artifacts_dir(variant).parent / "payloads" / f"{case}.json").read_bytes()


@cache
def base_answer(variant: str, case: str) -> dict[str, Any]:
    answer = predictor(variant).predict(base_body(variant, case))
    assert answer["status_code"] == 200, answer
    return answer


@st.composite
def mutated(draw, variant: str | None = None) -> tuple[str, str, str, Mutated]:
    """(variant, base case, mutation name, the mutated request)."""
    variant = variant or draw(st.sampled_from(VARIANTS))
    case = draw(st.sampled_from(BASE_CASES))
    name = draw(st.sampled_from(sorted(MUTATIONS)))
    payload = json.loads(base_body(variant, case))
    return variant, case, name, MUTATIONS[name](draw, payload, model_info(variant))


def _no_constant(token: str) -> None:
    raise AssertionError(f"{token} in a response body")


def check_envelope(env: dict[str, Any], body: bytes, want: Expect, base: dict[str, Any] | None,
                   label: str) -> None:
    """Asserts the envelope invariants and the mutation's expectation."""
    assert list(env) == FIELDS, label
    raw = envelope.dumps(env)
    assert json.loads(raw, parse_constant=_no_constant) == env, label
    status = env["status_code"]
    assert status in want.statuses, (label, want, env)
    assert env["request_uid"] == envelope.request_uid(body) or (env["request_uid"] == "" and status == 400), label
    if status == 200:
        assert env["error"] == "" and env["message"], (label, env)
        assert isinstance(env["data"]["results"], list) and env["data"]["results"], (label, env)
    else:
        assert env["message"] == "" and env["data"] == {} and env["error"], (label, env)
        for marker in TRACE_MARKERS:
            assert marker not in env["error"], (label, env["error"])
        words = ("not finite", "too large in magnitude") if status == 422 else want.words
        for word in words:
            assert word in env["error"], (label, word, env["error"])
    if want.renamed is not None:
        assert status == 200, (label, env)
        expected = [(r["node_type"], want.renamed.get((r["node_type"], r["node_id"]), r["node_id"]),
                     r["prediction"]) for r in base["data"]["results"]]
        got = [(r["node_type"], r["node_id"], r["prediction"]) for r in env["data"]["results"]]
        assert [g[:2] for g in got] == [e[:2] for e in expected], label
        for g, e in zip(got, expected, strict=True):
            assert max(abs(x - y) for x, y in zip(g[2], e[2], strict=True)) <= 1e-6, (label, g, e)


@fuzz_settings(examples=650)
@given(mutated())
def test_single_mutation_gets_its_envelope(request_case):
    variant, case, name, m = request_case
    event(name)
    body = m.body()
    env = predictor(variant).predict(body, m.content_type)
    check_envelope(env, body, m.expect, base_answer(variant, case), f"{variant}/{case}/{name}")


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) into a JSON value, the root excluded."""
    out = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        out.append((*path, key))
        out.extend(_paths(child, (*path, key)))
    return out


@st.composite
def stacked_edits(draw) -> tuple[str, bytes]:
    """A fixture payload after 1-4 random edits anywhere in its tree (replace, delete, wrap)."""
    variant = draw(st.sampled_from(VARIANTS))
    payload = json.loads(base_body(variant, draw(st.sampled_from(BASE_CASES[:1] + BASE_CASES[2:]))))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(payload)
        if not paths:
            break
        *parent_path, key = draw(st.sampled_from(paths))
        parent = payload
        for step in parent_path:
            parent = parent[step]
        op = draw(st.sampled_from(["replace", "delete", "wrap", "duplicate"]))
        if op == "replace":
            parent[key] = draw(junk())
        elif op == "delete":
            del parent[key]
        elif op == "wrap":
            parent[key] = [parent[key]]
        elif isinstance(parent, list):
            parent.insert(key, json.loads(json.dumps(parent[key])))
        else:
            parent[key] = {"dup": parent[key]}
    return variant, json.dumps(payload, allow_nan=True).encode()


@fuzz_settings(examples=250)
@given(stacked_edits())
def test_stacked_random_edits_never_escape(edited):
    variant, body = edited
    env = predictor(variant).predict(body)
    # A payload edited at random may still be valid; the one allowed 500 is GraphStorm's for
    # a node type without its learnable embeddings (docs/compatibility.md).
    if env["status_code"] == 500:
        assert "gs_learnable_embedding" in env["error"], env
    allowed = Expect(CLIENT_ERRORS | {200, 500})
    check_envelope(env, body, allowed, None, f"{variant}/stacked")


@st.composite
def mixed_batch(draw) -> tuple[str, list[tuple[bytes, str]]]:
    """2-6 requests for one model: untouched fixture payloads and mutated ones, in any order."""
    variant = draw(st.sampled_from(VARIANTS))
    items = []
    for _ in range(draw(st.integers(2, 6))):
        if draw(st.booleans()):
            items.append((base_body(variant, draw(st.sampled_from(BASE_CASES))), "application/json"))
        else:
            _, _, _, m = draw(mutated(variant))
            items.append((m.body(), m.content_type))
    return variant, items


@fuzz_settings(examples=150)
@given(mixed_batch())
def test_batch_neighbours_do_not_change_answers(batch):
    variant, items = batch
    p = predictor(variant)
    answers = p.predict_batch([b for b, _ in items], [ct for _, ct in items])
    for (body, ct), got in zip(items, answers, strict=True):
        alone = p.predict(body, ct)
        assert {k: got[k] for k in FIELDS[:4]} == {k: alone[k] for k in FIELDS[:4]}, (got, alone)
        if alone["status_code"] != 200:
            assert got["data"] == {}
            continue
        for g, a in zip(got["data"]["results"], alone["data"]["results"], strict=True):
            assert (g["node_type"], g["node_id"]) == (a["node_type"], a["node_id"])
            assert max(abs(x - y) for x, y in zip(g["prediction"], a["prediction"], strict=True)) <= 1e-6


@pytest.mark.parametrize("variant", ["rgcn_nc", "hgt_nc"])
def test_float32_overflow_inside_the_model_is_a_422(variant):
    payload = json.loads(base_body(variant, "v02_small"))
    for node in payload["graph"]["nodes"]:
        if node["node_type"] == "paper":
            node["features"]["feat"] = [3e38] * len(node["features"]["feat"])  # finite in float32
    body = json.dumps(payload).encode()
    env = predictor(variant).predict(body)
    check_envelope(env, body, Expect(frozenset({422})), None, variant)
