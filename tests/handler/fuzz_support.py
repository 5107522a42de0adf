"""What the fuzz and hostile-payload tests share: the fixtures they run over, their base
payloads, and the envelope checks.

The fixture list is data-driven: every fixture under ``tests/fixtures`` with a manifest
(``tests.compare.VARIANTS``: node, edge and text models). A fixture whose model does not load,
or whose base payloads do not yet answer as its ``target/`` says (a model still being
integrated), is skipped with the reason: parity first (``tests/test_fixture_parity.py``), then
fuzzing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

import pytest
import torch
import yaml

from handler import RealtimePredictor
from handler.contract import envelope
from handler.contract.arrow_payload import ArrowConversionError, payload_to_arrow
from handler.contract.errors import UnreadableBodyError
from handler.contract.json_text import read_json
from handler.contract.names import EDGE_TARGET_TASKS, TRAINING_CONFIG_FILE
from tests.compare import (
    VARIANTS,
    FixtureCase,
    artifacts_dir,
    assert_matches_target,
    lm_models,
    load_cases,
    result_key,
)
from tests.handler.mutation_kit import Expect, ModelInfo

FUZZ_FIXTURES = tuple(VARIANTS)
FIELDS = ["status_code", "request_uid", "message", "error", "data"]
CLIENT_ERRORS = frozenset({400, 401, 402, 403, 404, 411, 413, 421, 422})
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "site-packages/")
# An error envelope's size, whatever the body (issue 10 item 2: bounded echo). The detail is
# cut at 600 characters; an escaped non-BMP character takes 12 bytes.
MAX_ERROR_ENVELOPE_BYTES = 8 * 1024
# CPython's default recursion limit, which a TorchServe worker keeps. Hypothesis raises the
# limit while a test runs, which would hide a RecursionError on a deeply nested payload.
SERVER_RECURSION_LIMIT = 1000
# Base payloads per fixture: the smallest ones answered 200 (cheap to mutate and answer).
BASE_CASES_PER_FIXTURE = 3


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """One intra-op torch thread while a fuzz module runs: on tiny graphs more threads only add
    contention on a shared CI machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def arrow_form(body: bytes) -> bytes | None:
    """The Arrow body of a JSON body, or None: not JSON, or no exact Arrow form."""
    try:  # the document as the server reads the JSON body (strict UTF-8: not json.loads(bytes))
        document = read_json(body)
    except UnreadableBodyError:
        return None
    try:  # the converter answers a body or ArrowConversionError, nothing else
        return payload_to_arrow(document)
    except ArrowConversionError:
        return None


@cache
def has_edge_targets(variant: str) -> bool:
    """Whether the fixture's model takes edge targets (read from its training YAML, cheaply,
    at collection time)."""
    raw = yaml.safe_load((artifacts_dir(variant) / TRAINING_CONFIG_FILE).read_text())
    return raw["gsf"]["runtime"]["task_type"] in EDGE_TARGET_TASKS


@cache
def predictor(variant: str) -> RealtimePredictor:
    """The fixture's predictor (its language models included)."""
    return RealtimePredictor.from_artifacts(artifacts_dir(variant), lm_models=lm_models(variant))


@cache
def model_info(variant: str) -> ModelInfo:
    return ModelInfo.of(predictor(variant))


@cache
def base_cases(variant: str) -> tuple[FixtureCase, ...]:
    """The fixture's smallest cases whose ``target/`` is a 200 (withheld cases excluded)."""
    ok = [c for c in load_cases(variant) if c.target["status_code"] == 200]
    return tuple(sorted(ok, key=lambda c: len(c.body))[:BASE_CASES_PER_FIXTURE])


@cache
def _readiness(variant: str) -> str:
    """"" when the fixture can be fuzzed, else why not."""
    try:
        p = predictor(variant)
    except Exception as exc:  # noqa: BLE001 (any load failure means: not integrated yet)
        return f"{variant}: the model does not load ({type(exc).__name__}: {str(exc)[:200]})"
    for case in base_cases(variant):
        raw = envelope.dumps(p.predict(case.body, case.content_type))
        try:
            assert_matches_target(case, json.loads(raw), raw)
        except AssertionError as err:
            return f"{variant}: {case.name} does not match target/ yet ({str(err)[:200]})"
    return ""


def require_ready(variant: str) -> None:
    """Skips the calling test when the fixture cannot be fuzzed yet (see the module docstring)."""
    reason = _readiness(variant)
    if reason:
        pytest.skip(f"parity first: {reason}")


@cache
def base_payload_text(variant: str, name: str) -> str:
    return next(c for c in base_cases(variant) if c.name == name).body.decode()


@cache
def base_answer(variant: str, name: str) -> dict[str, Any]:
    answer = predictor(variant).predict(base_payload_text(variant, name).encode())
    assert answer["status_code"] == 200, answer
    return answer


_SERVER_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fuzz-server")
T = TypeVar("T")


def as_served(call: Callable[..., T], *args: Any) -> T:
    """Runs ``call(*args)`` as a worker would: on a thread of its own (a fresh stack) under
    ``SERVER_RECURSION_LIMIT``."""
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(SERVER_RECURSION_LIMIT)
    try:
        return _SERVER_THREAD.submit(call, *args).result()
    finally:
        sys.setrecursionlimit(saved)


def answer(variant: str, body: bytes, content_type: str) -> tuple[dict[str, Any], bytes]:
    """The envelope of one request and its exact response body (as a server sends it)."""
    outcome = as_served(predictor(variant).answer, [(body, content_type)])[0]
    return outcome.envelope.as_dict(), outcome.body


def _no_constant(token: str) -> None:
    raise AssertionError(f"{token} in a response body")


def check_response(response: bytes, label: str) -> dict[str, Any]:
    """The response body is a JSON envelope, without NaN/Infinity tokens, and an error
    envelope is at most ``MAX_ERROR_ENVELOPE_BYTES``; returns it parsed."""
    env = json.loads(response, parse_constant=_no_constant)
    assert isinstance(env, dict) and list(env) == FIELDS, (label, response[:300])
    if env["status_code"] != 200:
        assert len(response) <= MAX_ERROR_ENVELOPE_BYTES, (label, len(response), response[:300])
    return env


def check_envelope(env: dict[str, Any], response: bytes, body: bytes, want: Expect,
                   base: dict[str, Any] | None, label: str) -> None:
    """Asserts the envelope invariants and the mutation's expectation.

    Args:
        env: the envelope as a dict.
        response: the serialized response body.
        body: the request body.
        want: the mutation's expectation.
        base: the base payload's answer (for expectations that compare with it).
        label: names the case in assertion messages.
    """
    assert check_response(response, label) == env, label
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
            assert word in env["error"], (label, word, env["error"][:300])
    if want.renamed is not None:
        assert status == 200, (label, env)
        assert base is not None
        rows = base["data"]["results"]
        expected = [_renamed(rows[i], want.renamed) for i in (want.order or range(len(rows)))]
        got = env["data"]["results"]
        assert [result_key(r) for r in got] == [result_key(r) for r in expected], label
        for g, e in zip(got, expected, strict=True):
            assert max(abs(x - y) for x, y in zip(g["prediction"], e["prediction"], strict=True)) <= 1e-6, (label, g, e)


def _renamed(result: dict[str, Any], mapping: dict[tuple[str, Any], Any]) -> dict[str, Any]:
    """A base result with its node ids renamed (``(node type, old id) -> new id``)."""
    out = dict(result)
    if "edge_type" in result:
        src_t, _, dst_t = result["edge_type"]
        out["src_node_id"] = mapping.get((src_t, result["src_node_id"]), result["src_node_id"])
        out["dest_node_id"] = mapping.get((dst_t, result["dest_node_id"]), result["dest_node_id"])
    else:
        out["node_id"] = mapping.get((result["node_type"], result["node_id"]), result["node_id"])
    return out
