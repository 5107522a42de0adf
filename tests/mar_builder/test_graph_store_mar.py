"""gs-build-mar --graph-store checks the store against the model, and gs-predict --mar answers
targets-only payloads from the store the archive carries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson

from tests.compare import load_cases, result_key
from tests.handler.graph_store.stores import StoreCache
from tests.mar_builder.build_mar import build_mar

REPO = Path(__file__).resolve().parents[2]


def test_gs_predict_mar_answers_targets_only(tmp_path, capsys):
    stores = StoreCache(tmp_path / "stores")
    (tmp_path / "stores").mkdir()
    assert build_mar(tmp_path, "rgcn_nc", "--graph-store", str(stores.path("rgcn_nc")), "--embed-graph-store") == 0
    case = next(c for c in load_cases("rgcn_nc") if c.name == "v06_large_full")
    sent = json.loads(case.body)
    payload = tmp_path / "targets.json"
    payload.write_bytes(orjson.dumps({"version": sent["version"], "gml_task": sent["gml_task"],
                                      "targets": sent["targets"], "fanout": "full"}))
    proc = subprocess.run([sys.executable, "-m", "mar_builder.predict_cli", "--mar", str(tmp_path / "m.mar"),
                           str(payload)], capture_output=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    want = {result_key(r): r["prediction"] for r in case.target["data"]["results"]}
    assert [result_key(r) for r in got["data"]["results"]] == list(want)
    for r in got["data"]["results"]:
        assert max(abs(a - b) for a, b in zip(r["prediction"], want[result_key(r)], strict=True)) <= 1e-5


def test_store_of_another_graph_is_refused(tmp_path, capsys):
    stores = StoreCache(tmp_path / "stores")
    (tmp_path / "stores").mkdir()
    assert build_mar(tmp_path, "rgcn_nc", "--graph-store", str(stores.path("sage_homo_nc"))) == 2
    assert "--graph-store" in capsys.readouterr().err
    assert build_mar(tmp_path, "rgcn_nc", "--graph-store", str(tmp_path / "nowhere")) == 2
    assert build_mar(tmp_path, "rgcn_nc", "--embed-graph-store") == 2
    assert build_mar(tmp_path, "rgcn_nc", "--graph-store", "neptune-db://h.example:8182", "--embed-graph-store") == 2
    assert not list(tmp_path.glob("*.mar"))
