"""Targets-only requests through a real TorchServe whose `.mar` names a Neptune store (the loopback
fake Neptune, real boto3 in the worker): answers like target/; a throttling Neptune gives a
bounded 503 envelope, the worker keeps serving, and no credential reaches TorchServe's logs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import orjson
import pytest

from tests.compare import load_cases, result_key
from tests.handler.graph_store.neptune_env import fake_aws, leaked
from tests.handler.graph_store.neptune_stores import NeptuneCopies
from tests.handler.graph_store.stores import StoreCache
from tests.serving.torchserve_process import serving

pytestmark = pytest.mark.torchserve

VARIANT = "rgcn_nc"
MODEL = "neptune"


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder) -> Iterator[tuple]:
    stores = StoreCache(tmp_path_factory.mktemp("gs_store"))
    with fake_aws(tmp_path_factory.mktemp("aws-home")):  # TorchServe's workers inherit the environment
        copies = NeptuneCopies(stores, tmp_path_factory.mktemp("neptune"))
        try:
            fake = copies.get(VARIANT).server
            uri = fake.uri("neptune-db", read_timeout=2, max_attempts=2)
            model_store = tmp_path_factory.mktemp("mars")
            mar_builder(VARIANT, model_store, name=MODEL, flags=("--graph-store", uri))
            with serving(tmp_path_factory.mktemp("ts"), model_store, {MODEL: f"{MODEL}.mar"},
                         workers={MODEL: 1}) as ts:
                yield ts, fake
        finally:
            copies.close()
            stores.close()


def _targets_only(case) -> bytes:
    sent = json.loads(case.body)
    return orjson.dumps({"version": sent["version"], "gml_task": sent["gml_task"],
                         "targets": sent["targets"], "fanout": "full"})


def _post(ts, body: bytes) -> dict:
    resp = ts.inference("POST", f"/predictions/{MODEL}", body, {"Content-Type": "application/json"})
    assert resp.status == 200, resp.body
    return resp.json()


def test_targets_only_from_neptune_through_torchserve(server) -> None:
    ts, fake = server
    for case in [c for c in load_cases(VARIANT) if c.name.endswith("_full")]:
        got = _post(ts, _targets_only(case))
        assert got["status_code"] == 200, (got, ts.logs()[-3000:])
        want = {result_key(r): r["prediction"] for r in case.target["data"]["results"]}
        assert [result_key(r) for r in got["data"]["results"]] == list(want)
        for r in got["data"]["results"]:
            assert max(abs(a - b) for a, b in zip(r["prediction"], want[result_key(r)], strict=True)) <= 1e-5
    assert fake.count(path="/opencypher") > 0

    case = next(c for c in load_cases(VARIANT) if c.name == "v02_small")
    fake.inject("throttle", times=100)
    started = time.perf_counter()
    try:
        failed = _post(ts, _targets_only(case))
    finally:
        fake.clear()
    assert failed["status_code"] == 503 and failed["error"].startswith("Graph Store Failure: ")
    assert "TooManyRequestsException (HTTP 429) after 2 attempt(s)" in failed["error"]
    assert time.perf_counter() - started < 10
    assert _post(ts, case.body)["status_code"] == 200  # the worker still serves
    assert _post(ts, _targets_only(case))["status_code"] == 200  # and Neptune again once it recovers
    assert not leaked(ts.logs()) and not leaked(json.dumps(failed))
