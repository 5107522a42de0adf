"""An Arrow request read straight into columns by the extension (``handler.native.arrow_columns``)
gets the very bytes pyarrow's reading of it gives: the Arrow form of every mutation of every
fixture payload (the fuzz kit's), alone and in a batch with neighbours. Where the columns route
fails, the predictor reads the body again with pyarrow (``RealtimePredictor._read_again``), so
every error is that route's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler import native
from handler.contract.arrow_payload import ArrowConversionError, payload_to_arrow
from handler.contract.errors import UnreadableBodyError
from handler.contract.json_text import read_json
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE
from handler.serving.predictor import RawRequest
from tests.handler.fuzz_support import (
    FUZZ_FIXTURES,
    base_cases,
    base_payload_text,
    has_edge_targets,
    model_info,
    one_torch_thread,
    predictor,
    require_ready,
)
from tests.handler.payload_mutations import mutations_for

pytestmark = pytest.mark.skipif(native.fastpath is None, reason="the C extension is not built or is switched off")

EXAMPLES_PER_FIXTURE = 60
BATCHES_PER_FIXTURE = 5


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


def _arrow(document: Any) -> bytes | None:
    try:
        return payload_to_arrow(document)
    except ArrowConversionError:
        return None


@st.composite
def requests(draw: Any, variant: str) -> bytes:
    """The Arrow body of a base payload as it is, or after one mutation of any kind (the fuzz
    kit's) that keeps an exact Arrow form."""
    name = draw(st.sampled_from([c.name for c in base_cases(variant)]))
    document = json.loads(base_payload_text(variant, name))
    if draw(st.integers(0, 4)) > 0:
        kinds = mutations_for(has_edge_targets(variant))
        kind = draw(st.sampled_from(sorted(kinds)))
        mutated = kinds[kind](draw, document, model_info(variant))
        try:  # as the server reads the JSON body (deep nesting, strict UTF-8)
            document = read_json(mutated.body())
        except UnreadableBodyError:
            document = None
    body = None if document is None else _arrow(document)
    return body if body is not None else _arrow(json.loads(base_payload_text(variant, name)))


def _bodies(variant: str, bodies: list[bytes], columns_first: bool) -> list[tuple[int, bytes]]:
    outcomes = predictor(variant).answer([RawRequest(body, ARROW_STREAM_CONTENT_TYPE, None, columns_first)
                                          for body in bodies])
    return [(o.status_code, o.body) for o in outcomes]


SETTINGS = dict(deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


@pytest.mark.parametrize("variant", FUZZ_FIXTURES)
@settings(max_examples=EXAMPLES_PER_FIXTURE, **SETTINGS)
@given(data=st.data())
def test_a_request_gets_pyarrows_bytes(variant: str, data: Any) -> None:
    require_ready(variant)
    body = data.draw(requests(variant))
    assert _bodies(variant, [body], True) == _bodies(variant, [body], False)


@pytest.mark.parametrize("variant", FUZZ_FIXTURES)
@settings(max_examples=BATCHES_PER_FIXTURE, **SETTINGS)
@given(data=st.data())
def test_a_batch_gets_pyarrows_bytes(variant: str, data: Any) -> None:
    require_ready(variant)
    bodies = data.draw(st.lists(requests(variant), min_size=2, max_size=6))
    assert _bodies(variant, bodies, True) == _bodies(variant, bodies, False)


def test_a_failure_after_decode_is_answered_by_pyarrows_route() -> None:
    """A body the extension takes whose target is not in its graph (a 404 found in ``build``):
    the request is read again by pyarrow, and the stage timings show the second reading."""
    variant = FUZZ_FIXTURES[0]
    require_ready(variant)
    payload = json.loads(base_payload_text(variant, base_cases(variant)[0].name))
    payload["targets"][0]["node_id"] = "not-in-the-graph"
    body = payload_to_arrow(payload)
    assert native.arrow_columns(body) is not None
    fast, slow = (predictor(variant).answer([RawRequest(body, ARROW_STREAM_CONTENT_TYPE, None, first)])[0]
                  for first in (True, False))
    assert fast.status_code == slow.status_code == 404
    assert fast.body == slow.body
    assert set(slow.timings_ms) <= set(fast.timings_ms)
