"""Parity through the Arrow content type: every fixture case whose JSON payload has an exact
Arrow form (``handler.contract.arrow_payload.payload_to_arrow``) is answered as ``target/`` says
when sent as Arrow (the format written now, v2; and, for the valid payloads, the v1 format the
server still reads). The request id is that of the Arrow body (the id of the exact bytes)."""

from __future__ import annotations

from functools import cache

import orjson
import pytest

from handler import RealtimePredictor
from handler.contract import envelope
from handler.contract.arrow_payload import ArrowConversionError, payload_to_arrow
from handler.contract.names import JSON_CONTENT_TYPE
from tests.compare import FixtureCase, all_cases, arrow_case, artifacts_dir, assert_matches_target, lm_models

CASES = [a for a in map(arrow_case, all_cases()) if a is not None]
V1_CASES = [a for a in (arrow_case(c, version=1) for c in all_cases() if c.kind == "valid") if a is not None]


@cache
def _predictor(variant: str) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir(variant), lm_models=lm_models(variant))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_arrow_case_matches_target(case: FixtureCase) -> None:
    raw = envelope.dumps(_predictor(case.variant).predict(case.body, case.content_type))
    assert_matches_target(case, orjson.loads(raw), raw)


@pytest.mark.parametrize("case", V1_CASES, ids=[c.id for c in V1_CASES])
def test_v1_arrow_case_matches_target(case: FixtureCase) -> None:
    raw = envelope.dumps(_predictor(case.variant).predict(case.body, case.content_type))
    assert_matches_target(case, orjson.loads(raw), raw)


def test_valid_payloads_convert() -> None:
    # Every valid payload converts, except one whose column mixes value kinds (a text feature
    # sent as a string for some nodes and a list for others): that one is refused, not changed.
    valid = [c for c in all_cases() if c.kind != "invalid" and c.content_type == JSON_CONTENT_TYPE]
    converted = {c.id for c in CASES}
    refused = [c for c in valid if c.id not in converted]
    assert {c.name for c in refused} <= {"t05_title_as_list"}, [c.id for c in refused]
    for case in refused:
        with pytest.raises(ArrowConversionError, match="has no Arrow type"):
            payload_to_arrow(orjson.loads(case.body))
