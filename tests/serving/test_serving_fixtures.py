"""Every fixture payload through a real TorchServe: /predictions/NAME and /invocations.

The .mar files are built by gs-build-mar from the fixtures; responses must satisfy the target/
rules of each case (tests/compare.py). rgcn_nc is the startup model, so plain /invocations
routes to it; hgt_nc and the models of issue 19 (a GSProcessing-built graph,
use_node_embeddings, RGAT with edge features) are registered afterwards and reached with
/invocations?model_name=.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.compare import arrow_case, assert_matches_target, load_cases
from tests.serving.torchserve_process import VERSIONING_CONFIG, serving

pytestmark = pytest.mark.torchserve

STARTUP_MODEL = "rgcn_nc"
REGISTERED_MODELS = ("hgt_nc", "gsp_rgcn_nc", "rgcn_nc_node_emb", "rgat_nc_efeat")
CASES = [case for variant in (STARTUP_MODEL, *REGISTERED_MODELS) for case in load_cases(variant)]
# The same requests as our Arrow content type (those with an exact Arrow form).
ARROW_CASES = [a for a in map(arrow_case, CASES) if a is not None]


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    store = tmp_path_factory.mktemp("store")
    for variant in (STARTUP_MODEL, *REGISTERED_MODELS):
        mar_builder(variant, store, flags=("--batch-size", "4", "--max-batch-delay", "5"))
    # One startup model (so /invocations needs no name) and one registered at runtime, which
    # takes the versioning config: model API with token authorisation (the helpers send keys).
    with serving(tmp_path_factory.mktemp("ts"), store, {STARTUP_MODEL: f"{STARTUP_MODEL}.mar"},
                 base_config=VERSIONING_CONFIG) as ts:
        for variant in REGISTERED_MODELS:
            resp = ts.register(f"{variant}.mar")
            assert resp.status == 200, (resp.body, ts.logs())
        yield ts


def _paths(variant: str) -> dict[str, str]:
    invocations = "/invocations" if variant == STARTUP_MODEL else f"/invocations?model_name={variant}"
    return {"predictions": f"/predictions/{variant}", "invocations": invocations}


def _post(ts, path: str, case):
    return ts.inference("POST", path, case.body, {"Content-Type": case.content_type})


@pytest.mark.parametrize("endpoint", ["predictions", "invocations"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_payload_matches_target(server, case, endpoint):
    resp = _post(server, _paths(case.variant)[endpoint], case)
    # GraphStorm's endpoint convention (the default): HTTP 200, the status in the envelope.
    assert resp.status == 200, resp.body
    assert resp.headers["content-type"] == "application/json"
    assert_matches_target(case, resp.json(), raw_body=resp.body)


@pytest.mark.parametrize("variant", [STARTUP_MODEL, *REGISTERED_MODELS])
def test_concurrent_requests_match_target(server, variant):
    """Requests that share a batch (one forward over their disjoint union) answer as alone."""
    cases = [c for c in CASES if c.variant == variant]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda c: _post(server, f"/predictions/{variant}", c), cases))
    for case, resp in zip(cases, responses, strict=True):
        assert_matches_target(case, resp.json(), raw_body=resp.body)


@pytest.mark.parametrize("case", ARROW_CASES, ids=lambda c: c.id)
def test_arrow_payload_matches_target(server, case):
    resp = _post(server, _paths(case.variant)["predictions"], case)
    assert resp.status == 200, resp.body
    assert resp.headers["content-type"] == "application/json"
    assert_matches_target(case, resp.json(), raw_body=resp.body)


def test_arrow_and_json_requests_share_batches(server):
    """JSON and Arrow requests in one batch answer as alone."""
    cases = [c for c in CASES if c.variant == STARTUP_MODEL]
    mixed = [a for c in cases for a in (c, arrow_case(c)) if a is not None]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda c: _post(server, f"/predictions/{STARTUP_MODEL}", c), mixed))
    for case, resp in zip(mixed, responses, strict=True):
        assert_matches_target(case, resp.json(), raw_body=resp.body)
