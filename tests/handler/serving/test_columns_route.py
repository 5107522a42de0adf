"""A request the C extension reads straight into columns (``handler.native.json_columns`` for a
JSON body, ``arrow_columns`` for an Arrow body) gets the very bytes the reference reading gives
it (the JSON document; pyarrow's reading of the Arrow body): every mutation of every fixture
payload (the fuzz kit's), as JSON and as its Arrow form, alone and in a batch with neighbours.
Where the columns route fails, the predictor reads the body again the reference way
(``RealtimePredictor._read_again``), so every error is that route's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler import native
from handler.contract.arrow_payload import payload_to_arrow
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE
from handler.serving.predictor import RawRequest
from tests.handler.fuzz_support import (
    FUZZ_FIXTURES,
    arrow_form,
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

EXAMPLES_PER_FIXTURE = 80
BATCHES_PER_FIXTURE = 6
# The body as sent: the JSON payload, or its Arrow form (a mutation without one: the base payload's).
FORMS = ("json", "arrow")


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    with one_torch_thread():
        yield


@st.composite
def requests(draw: Any, variant: str, form: str) -> tuple[bytes, str]:
    """A base payload as it is, or after one mutation of any kind (the fuzz kit's), in ``form``."""
    name = draw(st.sampled_from([c.name for c in base_cases(variant)]))
    base = base_payload_text(variant, name).encode()
    item = (base, JSON_CONTENT_TYPE)
    if draw(st.integers(0, 4)) > 0:
        kinds = mutations_for(has_edge_targets(variant))
        kind = draw(st.sampled_from(sorted(kinds)))
        mutated = kinds[kind](draw, json.loads(base), model_info(variant))
        item = (mutated.body(), mutated.content_type)
    if form == "json":
        return item
    return arrow_form(item[0]) or arrow_form(base), ARROW_STREAM_CONTENT_TYPE


def _bodies(variant: str, items: list[tuple[bytes, str]], columns_first: bool) -> list[tuple[int, bytes]]:
    outcomes = predictor(variant).answer([RawRequest(body, ct, None, columns_first) for body, ct in items])
    return [(o.status_code, o.body) for o in outcomes]


SETTINGS = dict(deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("variant", FUZZ_FIXTURES)
@settings(max_examples=EXAMPLES_PER_FIXTURE, **SETTINGS)
@given(data=st.data())
def test_a_request_gets_the_reference_routes_bytes(variant: str, form: str, data: Any) -> None:
    require_ready(variant)
    item = data.draw(requests(variant, form))
    assert _bodies(variant, [item], True) == _bodies(variant, [item], False)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("variant", FUZZ_FIXTURES)
@settings(max_examples=BATCHES_PER_FIXTURE, **SETTINGS)
@given(data=st.data())
def test_a_batch_gets_the_reference_routes_bytes(variant: str, form: str, data: Any) -> None:
    require_ready(variant)
    items = data.draw(st.lists(requests(variant, form), min_size=2, max_size=6))
    assert _bodies(variant, items, True) == _bodies(variant, items, False)


def _renumbered(value: Any, number: dict[str, int]) -> Any:
    """``value`` with every str node id (``*node_id`` keys) an int, the same int for the same id."""
    if isinstance(value, dict):
        return {k: number.setdefault(v, len(number) * 3 - 5) if k.endswith("node_id") and isinstance(v, str)
                else _renumbered(v, number) for k, v in value.items()}
    return [_renumbered(v, number) for v in value] if isinstance(value, list) else value


@pytest.mark.parametrize("variant", FUZZ_FIXTURES)
def test_integer_ids_get_the_document_routes_bytes(variant: str) -> None:
    """GraphStorm's ids may be numbers: every payload with its ids made ints (and once with one
    id a float, which the columns route leaves to the document route)."""
    require_ready(variant)
    items = []
    for case in base_cases(variant):
        payload = _renumbered(json.loads(base_payload_text(variant, case.name)), {})
        items.append((json.dumps(payload).encode(), JSON_CONTENT_TYPE))
        payload["graph"]["nodes"][0]["node_id"] = 0.5
        items.append((json.dumps(payload).encode(), JSON_CONTENT_TYPE))
    assert native.json_columns(items[0][0]) is not None
    assert _bodies(variant, items, True) == _bodies(variant, items, False)


@pytest.mark.parametrize("form", FORMS)
def test_a_failure_after_decode_is_answered_by_the_reference_route(form: str) -> None:
    """A payload the columns take whose target is not in its graph (a 404 found in ``build``):
    the request is read again the reference way, and the stage timings show the second reading."""
    variant = FUZZ_FIXTURES[0]
    require_ready(variant)
    payload = json.loads(base_payload_text(variant, base_cases(variant)[0].name))
    payload["targets"][0]["node_id"] = "not-in-the-graph"
    if form == "json":
        body, content_type = json.dumps(payload).encode(), JSON_CONTENT_TYPE
        assert native.json_columns(body) is not None
    else:
        body, content_type = payload_to_arrow(payload), ARROW_STREAM_CONTENT_TYPE
        assert native.arrow_columns(body) is not None
    fast, slow = (predictor(variant).answer([RawRequest(body, content_type, None, first)])[0]
                  for first in (True, False))
    assert fast.status_code == slow.status_code == 404
    assert fast.body == slow.body
    assert set(slow.timings_ms) <= set(fast.timings_ms)
