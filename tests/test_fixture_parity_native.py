"""Every fixture payload, as JSON and as its Arrow body, answered with the C happy path
(``handler.native``: ``json_columns``, ``arrow_columns``, ...) and without it: the same bytes.
The payloads go as one batch (each is parsed and built on its own, and ``transform_batch``
stacks their float rows in C): one forward per fixture keeps the test short, and
``test_fixture_parity`` already answers each alone (with the extension) against target/."""

from __future__ import annotations

from functools import cache

import pytest

from handler import RealtimePredictor, native
from handler.serving.predictor import RawRequest
from tests.compare import VARIANTS, FixtureCase, arrow_case, artifacts_dir, lm_models, load_cases
from tests.native_switch import extension

pytestmark = pytest.mark.skipif(native.fastpath is None, reason="the C extension is not built or is switched off")


@cache
def _predictor(variant: str) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir(variant), lm_models=lm_models(variant))


@cache
def _cases(variant: str) -> list[FixtureCase]:
    """The fixture's cases, then the Arrow form of each that has one."""
    cases = load_cases(variant)
    return cases + [a for a in map(arrow_case, cases) if a is not None]


def _answers(variant: str, in_c: bool) -> list[bytes]:
    """The response bodies of every case of the fixture, asked as one batch."""
    with extension(in_c):
        requests = [RawRequest(case.body, case.content_type) for case in _cases(variant)]
        return [outcome.body for outcome in _predictor(variant).answer(requests)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_answers_are_the_same_with_and_without_the_extension(variant: str) -> None:
    names = [f"{case.id} ({case.content_type})" for case in _cases(variant)]
    for name, got, expected in zip(names, _answers(variant, True), _answers(variant, False), strict=True):
        assert got == expected, name
