"""Edge models through a real TorchServe, side by side with a node model: every case of the edge
fixtures (edge classification, edge regression, link prediction) via /predictions/NAME and
/invocations?model_name=NAME, each model from its own .mar built with
``gs-build-mar --infer-task-type edge_classification|edge_regression|link_prediction``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.compare import assert_matches_target, load_cases
from tests.serving.torchserve_process import serving

pytestmark = pytest.mark.torchserve

NODE_MODEL = "rgcn_nc"
EDGE_MODELS = ("rgcn_ec", "hgt_er", "rgcn_lp")
CASES = [c for v in EDGE_MODELS for c in load_cases(v)]


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    store = tmp_path_factory.mktemp("store")
    for variant in (NODE_MODEL, *EDGE_MODELS):
        mar_builder(variant, store, flags=("--batch-size", "4", "--max-batch-delay", "5"))
    models = {name: f"{name}.mar" for name in (NODE_MODEL, *EDGE_MODELS)}
    with serving(tmp_path_factory.mktemp("ts"), store, models) as ts:
        yield ts


def _post(ts, path: str, case):
    return ts.inference("POST", path, case.body, {"Content-Type": case.content_type})


@pytest.mark.parametrize("endpoint", ["/predictions/{}", "/invocations?model_name={}"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_payload_matches_target(server, case, endpoint):
    resp = _post(server, endpoint.format(case.variant), case)
    assert resp.status == 200, resp.body
    assert resp.headers["content-type"] == "application/json"
    assert_matches_target(case, resp.json(), raw_body=resp.body)


def test_mixed_node_and_edge_stream(server):
    """Concurrent requests to the node model and the three edge models, interleaved: each model
    answers its own requests (batched with their neighbours) as target/ says."""
    mixed = [(f"/predictions/{c.variant}", c) for c in CASES if c.kind != "invalid"]
    mixed += [(f"/predictions/{NODE_MODEL}", c) for c in load_cases(NODE_MODEL) if c.kind != "invalid"]
    mixed.sort(key=lambda pc: pc[1].name)  # interleave the models
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda pc: _post(server, *pc), mixed))
    for (_, case), resp in zip(mixed, responses, strict=True):
        assert_matches_target(case, resp.json(), raw_body=resp.body)
