"""Targets-only requests through a real TorchServe: .mar files built with --graph-store (the
store's path) and --graph-store --embed-graph-store (the store inside the archive, two workers
opening it read-only at once) answer the fixture's _full targets sent alone as target/ says."""

from __future__ import annotations

import json

import orjson
import pytest

from tests.compare import load_cases, result_key
from tests.handler.graph_store.stores import StoreCache
from tests.serving.torchserve_process import serving

pytestmark = pytest.mark.torchserve

VARIANT = "rgcn_nc"
MODELS = {"embedded": 2, "by_path": 1}  # model name -> workers


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    stores = StoreCache(tmp_path_factory.mktemp("gs_store"))
    store = stores.path(VARIANT)
    model_store = tmp_path_factory.mktemp("mars")
    mar_builder(VARIANT, model_store, name="embedded",
                flags=("--graph-store", str(store), "--embed-graph-store", "--min-workers", "2"))
    mar_builder(VARIANT, model_store, name="by_path", flags=("--graph-store", str(store)))
    with serving(tmp_path_factory.mktemp("ts"), model_store, {m: f"{m}.mar" for m in MODELS},
                 workers=MODELS) as ts:
        yield ts


def _targets_only(case) -> bytes:
    sent = json.loads(case.body)
    return orjson.dumps({"version": sent["version"], "gml_task": sent["gml_task"],
                         "targets": sent["targets"], "fanout": "full"})


@pytest.mark.parametrize("model", list(MODELS))
def test_targets_only_requests_answer_target(server, model):
    cases = [c for c in load_cases(VARIANT) if c.name.endswith("_full")]
    for case in cases * 2:  # twice: both workers of the embedded model answer
        resp = server.inference("POST", f"/predictions/{model}", _targets_only(case),
                                {"Content-Type": "application/json"})
        assert resp.status == 200, resp.body
        got = resp.json()
        assert got["status_code"] == 200, (got, server.logs()[-3000:])
        want = {result_key(r): r["prediction"] for r in case.target["data"]["results"]}
        assert [result_key(r) for r in got["data"]["results"]] == list(want)
        for r in got["data"]["results"]:
            assert max(abs(a - b) for a, b in zip(r["prediction"], want[result_key(r)], strict=True)) <= 1e-5
    unknown = {"version": "gs-realtime-v0.1", "gml_task": "node_classification",
               "targets": [{"node_type": "paper", "node_id": "no'such`paper"}]}
    resp = server.inference("POST", f"/predictions/{model}", orjson.dumps(unknown),
                            {"Content-Type": "application/json"})
    assert resp.json()["status_code"] == 404
    graph_case = next(c for c in load_cases(VARIANT) if c.name == "v02_small")  # a graph: as today
    resp = server.inference("POST", f"/predictions/{model}", graph_case.body, {"Content-Type": "application/json"})
    assert resp.json()["status_code"] == 200
