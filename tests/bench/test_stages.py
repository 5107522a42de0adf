"""The benchmark's staged pipeline stays the request path it claims to time."""

from __future__ import annotations

from functools import cache

import pytest

from bench.stages import STAGES, StagedRequest
from handler import RealtimePredictor, envelope
from tests.compare import VARIANTS, artifacts_dir, load_cases


@cache
def _predictor(variant: str) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir(variant))


@pytest.mark.parametrize("variant", VARIANTS)
def test_staged_answers_equal_predict(variant):
    p = _predictor(variant)
    for case in load_cases(variant):
        if not case.name.startswith("v"):
            continue
        staged = StagedRequest(p, case.body)
        assert staged.run() == envelope.dumps(p.predict(case.body)), case.id
        assert set(staged.timings_ms) == set(STAGES), case.id
        assert all(ms >= 0 for ms in staged.timings_ms.values()), case.id
