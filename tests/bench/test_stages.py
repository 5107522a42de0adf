"""The stage timings the benchmark reports are the request path's own, and cover every stage."""

from __future__ import annotations

from functools import cache

import pytest

from handler import RealtimePredictor
from handler.contract import envelope
from handler.serving.predictor import STAGES
from tests.compare import VARIANTS, artifacts_dir, lm_models, load_cases


@cache
def _predictor(variant: str) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir(variant), lm_models=lm_models(variant))


@pytest.mark.parametrize("variant", VARIANTS)
def test_answer_times_every_stage_and_equals_predict(variant):
    p = _predictor(variant)
    for case in load_cases(variant):
        if not case.name.startswith("v"):
            continue
        (outcome,) = p.answer([(case.body, case.content_type)])
        assert outcome.body == envelope.dumps(p.predict(case.body, case.content_type)), case.id
        assert set(outcome.timings_ms) == set(STAGES), case.id
        assert all(ms >= 0 for ms in outcome.timings_ms.values()), case.id
        assert outcome.num_nodes and outcome.num_edges is not None, case.id
