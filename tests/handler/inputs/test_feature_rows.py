"""``FeatureRows``: every fixture case built with the C rows (``handler.native.feature_rows``)
gives the model input tensors of the Python transforms bit for bit, or the same error, through
JSON read as columns and through Arrow, each request alone."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from handler import RealtimePredictor, native
from handler.contract.errors import RealtimeError
from handler.contract.names import JSON_CONTENT_TYPE
from handler.inputs.graph_builder import PayloadGraph
from handler.request.decode import JsonColumnsDeclined
from tests.compare import FixtureCase, all_cases, arrow_case, artifacts_dir, lm_models

pytestmark = pytest.mark.skipif(native.fastpath is None, reason="the C extension is not built or is switched off")

CASES = [c for c in all_cases() if c.body]
CASES += [a for a in map(arrow_case, CASES) if a is not None]


@cache
def _predictor(variant: str) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir(variant), lm_models=lm_models(variant))


def _build(p: RealtimePredictor, case: FixtureCase) -> PayloadGraph:
    """As the predictor builds a body: a JSON body as columns first, as a JSON document when
    the columns route declines or fails (the document route decides every JSON error)."""
    try:
        return p.build(p.parse(p.decode(case.body, case.content_type, json_columns_first=True)))
    except (JsonColumnsDeclined, RealtimeError):
        if case.content_type != JSON_CONTENT_TYPE:
            raise
    return p.build(p.parse(p.decode(case.body, case.content_type)))


def _built(case: FixtureCase, in_c: bool) -> PayloadGraph | tuple[int, str]:
    saved = native.fastpath
    native.fastpath = saved if in_c else None
    try:
        return _build(_predictor(case.variant), case)
    except RealtimeError as err:
        return err.status_code, str(err)
    finally:
        native.fastpath = saved


def _same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
        and np.array_equal(a[k].numpy().view(np.uint8), b[k].numpy().view(np.uint8)) for k in a)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.id}:{c.content_type.rsplit('.', 1)[-1]}" for c in CASES])
def test_c_rows_are_the_python_rows(case: FixtureCase) -> None:
    in_c, in_python = _built(case, True), _built(case, False)
    if not isinstance(in_python, PayloadGraph):
        assert in_c == in_python  # status and message
        return
    assert isinstance(in_c, PayloadGraph), in_c
    assert _same_tensors(in_c.node_inputs, in_python.node_inputs)
    assert _same_tensors(in_c.edge_inputs, in_python.edge_inputs)


def test_the_c_rows_serve_the_fixtures() -> None:
    """Every fixture's valid payloads take the C rows for some node type (the comparison above
    is not of two Python paths)."""
    served = {}
    for case in CASES:
        if case.kind == "invalid":
            continue
        p = _predictor(case.variant)
        try:
            request = p.parse(p.decode(case.body, case.content_type, json_columns_first=True))
        except JsonColumnsDeclined:
            continue
        builder = p.builder
        served.setdefault(case.variant, False)
        served[case.variant] |= any(
            plan.rows(group, "", "", builder._apply) is not None
            for nt, group in request.nodes.items() if (plan := builder._node_rows.get(nt)))
    # rgcn_nc_node_emb's model reads GraphStorm's node embeddings, not features.
    assert {variant for variant, rows in served.items() if not rows} == {"rgcn_nc_node_emb"}, served
