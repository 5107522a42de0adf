"""Fuzzing ``RealtimePredictor`` with mutated fixture payloads (hypothesis), over every fixture.

Every request, however broken, must get an envelope: the right status (``Expect`` of the
mutation, ``payload_mutations.py``), an error that names the problem, carries no stack trace
and stays within a few KB, a body that is JSON without NaN/Infinity tokens, and nothing may
escape ``answer``. A mutated payload with an exact Arrow form gets the same envelope as an Arrow
body. Valid requests in a batch must get their solo answers whatever their neighbours are.

The cost is fixed: each (fixture, mutation kind) pair runs ``EXAMPLES_PER_KIND`` seeded
examples (more for the edge-target and hostile kinds), each fixture ``STACKED_PER_FIXTURE``
stacked edits and ``BATCHES_PER_FIXTURE`` mixed batches. For a long local run scale them with
``GS_FUZZ_SCALE`` (e.g. ``GS_FUZZ_SCALE=25``) and add ``GS_FUZZ_RANDOM=1`` to draw new examples
instead of the fixed CI ones; ``GS_FUZZ_STATS=PATH`` writes the cases run per mutation kind and
status as JSON.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.contract.envelope import request_uid
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE
from tests.handler.fuzz_support import (
    CLIENT_ERRORS,
    FIELDS,
    FUZZ_FIXTURES,
    answer,
    arrow_form,
    as_served,
    base_answer,
    base_cases,
    base_payload_text,
    check_envelope,
    has_edge_targets,
    model_info,
    one_torch_thread,
    predictor,
    require_ready,
)
from tests.handler.mutation_kit import Expect
from tests.handler.payload_mutations import junk, mutations_for

SCALE = float(os.environ.get("GS_FUZZ_SCALE", "1"))
EXAMPLES_PER_KIND = 2
STACKED_PER_FIXTURE = 12
BATCHES_PER_FIXTURE = 5
# Edge-target kinds run on the 3 edge fixtures only, the hostile kinds have many spots: more
# examples each.
EXAMPLES_PER_KIND_OVERRIDE = {
    **dict.fromkeys(("swap_endpoints", "wrong_relation", "drop_target_key", "empty_target_endpoint",
                     "set_edge_target_id", "edge_type_not_a_list", "non_string_type_part",
                     "node_target_to_edge_model", "target_pair_not_an_edge"), 4),
    **dict.fromkeys(("beyond_double", "non_finite_id", "deep_value", "long_string", "control_chars",
                     "lone_surrogate"), 3),
}
KINDS = [(v, kind) for v in FUZZ_FIXTURES for kind in sorted(mutations_for(has_edge_targets(v)))]
MEMBER_POSITION = re.compile(r"graph\.(nodes|edges)\[\d+\]")
STATS: Counter = Counter()  # (kind, status) -> cases


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, database=None,
                    derandomize=not os.environ.get("GS_FUZZ_RANDOM"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread_and_stats():
    with one_torch_thread():
        yield
    if os.environ.get("GS_FUZZ_STATS"):
        table: dict[str, dict[str, int]] = {}
        for (kind, status), n in sorted(STATS.items()):
            table.setdefault(kind, {})[str(status)] = n
        with open(os.environ["GS_FUZZ_STATS"], "w") as f:
            json.dump(table, f, indent=1, sort_keys=True)


def _base(draw, variant: str) -> tuple[str, Any]:
    name = draw(st.sampled_from([c.name for c in base_cases(variant)]))
    return name, json.loads(base_payload_text(variant, name))


@pytest.mark.parametrize(("variant", "kind"), KINDS, ids=[f"{v}-{k}" for v, k in KINDS])
def test_single_mutation_gets_its_envelope(variant, kind):
    require_ready(variant)
    examples = EXAMPLES_PER_KIND_OVERRIDE.get(kind, EXAMPLES_PER_KIND)
    fuzz_settings(examples)(given(data=st.data())(_one_mutation))(variant, kind)


def _one_mutation(variant: str, kind: str, data) -> None:
    name, payload = _base(data.draw, variant)
    m = mutations_for(has_edge_targets(variant))[kind](data.draw, payload, model_info(variant))
    body = m.body()
    env, response = answer(variant, body, m.content_type)
    STATS[kind, env["status_code"]] += 1
    check_envelope(env, response, body, m.expect, base_answer(variant, name), f"{variant}/{name}/{kind}")
    if m.content_type == "application/json":
        _same_through_arrow(variant, body, env, kind)


def _same_through_arrow(variant: str, body: bytes, env: dict[str, Any], kind: str) -> None:
    """A mutated JSON payload with an exact Arrow form (``payload_to_arrow``) gets the same
    envelope sent as Arrow: the request id is that of the Arrow bytes, and a member's position
    an error cites is its position in the document read back (members grouped by type;
    docs/schema/gs-realtime-arrow.md)."""
    arrow = arrow_form(body)
    if arrow is None:
        return
    got, _ = answer(variant, arrow, ARROW_STREAM_CONTENT_TYPE)
    STATS[f"{kind} (as Arrow)", got["status_code"]] += 1
    want = {**env, "request_uid": request_uid(arrow) if env["request_uid"] else ""}
    got["error"], want["error"] = (MEMBER_POSITION.sub(r"graph.\1[_]", e) for e in (got["error"], want["error"]))
    assert got == want, (kind, got, want)


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path (keys and indices) into a JSON value, the root excluded."""
    out = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        out.append((*path, key))
        out.extend(_paths(child, (*path, key)))
    return out


@st.composite
def stacked_edits(draw, variant: str) -> bytes:
    """A base payload after 1-4 random edits anywhere in its tree (replace, delete, wrap)."""
    _, payload = _base(draw, variant)
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
    return json.dumps(payload, allow_nan=True).encode()


@pytest.mark.parametrize("variant", FUZZ_FIXTURES)
@fuzz_settings(examples=STACKED_PER_FIXTURE)
@given(data=st.data())
def test_stacked_random_edits_never_escape(variant, data):
    require_ready(variant)
    body = data.draw(stacked_edits(variant))
    env, response = answer(variant, body, "application/json")
    STATS["stacked_edits", env["status_code"]] += 1
    # A payload edited at random may still be valid; the one allowed 500 is GraphStorm's for
    # a node type without its learnable embeddings (docs/compatibility.md).
    if env["status_code"] == 500:
        assert "gs_learnable_embedding" in env["error"], env
    check_envelope(env, response, body, Expect(CLIENT_ERRORS | {200, 500}), None, f"{variant}/stacked")
    _same_through_arrow(variant, body, env, "stacked_edits")


@st.composite
def mixed_batch(draw, variant: str) -> list[tuple[bytes, str]]:
    """2-6 requests for one model: untouched base payloads and mutated ones, in any order, each
    JSON request sent as Arrow instead now and then (when it has an exact Arrow form)."""
    kinds = mutations_for(has_edge_targets(variant))
    items = []
    for _ in range(draw(st.integers(2, 6))):
        name, payload = _base(draw, variant)
        if draw(st.booleans()):
            item = (base_payload_text(variant, name).encode(), "application/json")
        else:
            m = kinds[draw(st.sampled_from(sorted(kinds)))](draw, payload, model_info(variant))
            item = (m.body(), m.content_type)
        if item[1] == "application/json" and draw(st.integers(0, 3)) == 0:
            arrow = arrow_form(item[0])
            if arrow is not None:
                item = (arrow, ARROW_STREAM_CONTENT_TYPE)
        items.append(item)
    return items


@pytest.mark.parametrize("variant", FUZZ_FIXTURES)
@fuzz_settings(examples=BATCHES_PER_FIXTURE)
@given(data=st.data())
def test_batch_neighbours_do_not_change_answers(variant, data):
    require_ready(variant)
    items = data.draw(mixed_batch(variant))
    p = predictor(variant)
    answers = as_served(p.predict_batch, [b for b, _ in items], [ct for _, ct in items])
    for (body, ct), got in zip(items, answers, strict=True):
        alone = as_served(p.predict, body, ct)
        assert {k: got[k] for k in FIELDS[:4]} == {k: alone[k] for k in FIELDS[:4]}, (got, alone)
        if alone["status_code"] != 200:
            assert got["data"] == {}
            continue
        for g, a in zip(got["data"]["results"], alone["data"]["results"], strict=True):
            def without_prediction(entry: dict) -> dict:
                return {k: v for k, v in entry.items() if k != "prediction"}

            assert without_prediction(g) == without_prediction(a)
            # float32 sums in another order: relative (a feature near float32's edge gives
            # predictions of 1e36, whose last bits differ by 1e30).
            assert all(abs(x - y) <= 1e-6 * max(1.0, abs(y)) for x, y in zip(g["prediction"], a["prediction"],
                                                                           strict=True)), (g, a)


@pytest.mark.parametrize("variant", ["rgcn_nc", "hgt_nc"])
def test_float32_overflow_inside_the_model_is_a_422(variant):
    payload = json.loads(base_payload_text(variant, base_cases(variant)[-1].name))
    for node in payload["graph"]["nodes"]:
        if node["node_type"] == "paper":
            node["features"]["feat"] = [3e38] * len(node["features"]["feat"])  # finite in float32
    body = json.dumps(payload).encode()
    env, response = answer(variant, body, "application/json")
    check_envelope(env, response, body, Expect(frozenset({422})), None, variant)
