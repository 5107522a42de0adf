"""gs-build-mar --graph-store checks the store against the model, and gs-predict --mar answers
targets-only payloads from the store the archive carries."""

from __future__ import annotations

from pathlib import Path

from tests.compare import load_cases
from tests.handler.graph_store.stores import StoreCache
from tests.mar_builder.build_mar import build_mar, predict_targets_only

REPO = Path(__file__).resolve().parents[2]


def test_gs_predict_mar_answers_targets_only(tmp_path, capsys):
    stores = StoreCache(tmp_path / "stores")
    (tmp_path / "stores").mkdir()
    assert build_mar(tmp_path, "rgcn_nc", "--graph-store", str(stores.path("rgcn_nc")), "--embed-graph-store") == 0
    case = next(c for c in load_cases("rgcn_nc") if c.name == "v06_large_full")
    predict_targets_only(tmp_path / "m.mar", case, tmp_path)


def test_store_of_another_graph_is_refused(tmp_path, capsys):
    stores = StoreCache(tmp_path / "stores")
    (tmp_path / "stores").mkdir()
    assert build_mar(tmp_path, "rgcn_nc", "--graph-store", str(stores.path("sage_homo_nc"))) == 2
    assert "--graph-store" in capsys.readouterr().err
    assert build_mar(tmp_path, "rgcn_nc", "--graph-store", str(tmp_path / "nowhere")) == 2
    assert build_mar(tmp_path, "rgcn_nc", "--embed-graph-store") == 2
    assert build_mar(tmp_path, "rgcn_nc", "--graph-store", "neptune-db://h.example:8182", "--embed-graph-store") == 2
    assert not list(tmp_path.glob("*.mar"))
