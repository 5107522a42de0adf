"""gs-load-graph and gs-build-payload on small hand-made graphs: refusals that name the table
and column and leave no store behind, hostile ids as data, reverse edges read as out-edges,
learnable embeddings, and both commands running with torch, numpy and orjson blocked (the store client needs none)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from handler.contract.arrow_payload import payload_to_arrow, read_arrow
from handler.contract.graph_schema import GraphSchema
from handler.contract.model_config import ModelConfig
from handler.graph_store.extract import StoreMismatchError
from handler.graph_store.ladybug_store import open_ladybug
from handler.graph_store.loader import LoadError, load_graph
from handler.graph_store.payload import PayloadBuilder
from tests.compare import artifacts_dir
from tests.handler.graph_store.stores import RAW

REPO = Path(__file__).resolve().parents[3]
HOSTILE_IDS = ["it's", 'say "hi"', "back`tick", "x` RETURN 1 //", "MATCH (n) DETACH DELETE n",
               "}) RETURN n //", "$ids", "\\", "é漢字", "a" * 1_000_000]


def _config(add_reverse: bool = False) -> dict:
    return {
        "version": "gconstruct-runtime-v0.1",
        "add_reverse_edges": add_reverse,
        "nodes": [
            {"node_type": "user", "node_id_col": "uid", "format": {"name": "parquet"},
             "files": ["/elsewhere/users.parquet"],
             "features": [{"feature_col": "age", "feature_name": "age"},
                          {"feature_col": "vec", "feature_name": "vec"},
                          {"feature_col": "bio", "feature_name": "bio"}]},
        ],
        "edges": [
            {"relation": ["user", "follows", "item"], "source_id_col": "src", "dest_id_col": "dst",
             "format": {"name": "csv", "separator": ","}, "files": ["/elsewhere/follows.csv"],
             "features": [{"feature_col": "w", "feature_name": "weight"}]},
        ],
    }


def _model(num_layers: int = 2) -> ModelConfig:
    return ModelConfig.from_dict({"gsf": {
        "basic": {"model_encoder_type": "rgcn"},
        "gnn": {"num_layers": num_layers, "hidden_size": 4, "fanout": "2,2",
                "node_feat_name": ["user:age,vec,bio"]},
        "node_classification": {"target_ntype": "item", "num_classes": 2},
    }})


def _write_tables(folder: Path, ids: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({
        "uid": ids,
        "age": pa.array([i if i % 3 else None for i in range(len(ids))], pa.int64()),
        "vec": pa.array([[0.5, float(i)] for i in range(len(ids))], pa.list_(pa.float32())),
        "bio": [f"text {i}" if i % 2 else None for i in range(len(ids))],
    }), folder / "users.parquet")
    with open(folder / "follows.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["src", "dst", "w"])
        writer.writerows([ids[i], f"item{i % 2}", i / 10] for i in range(len(ids)))
    # item: an endpoint-only, featureless type: the model needs its learnable embeddings
    (folder / "emb").mkdir(exist_ok=True)
    (folder / "emb" / "item_gs_learnable_embedding.json").write_text(
        json.dumps({"item0": [0.25, -1.0], "item1": [2.0, 0.125]}))


@pytest.fixture(scope="module")
def hostile_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    _write_tables(root / "in", HOSTILE_IDS)
    schema = GraphSchema.from_dict(_config())
    load_graph(schema, root / "in", root / "store", learnable_dir=root / "in" / "emb")
    runner = open_ladybug(root / "store")
    yield PayloadBuilder(runner, schema, _model())
    runner.close()


def test_hostile_ids_are_data(hostile_store):
    payload = hostile_store.payload([{"node_type": "item", "node_id": "item0"}], "full", seed=1)
    users = {n["node_id"]: n["features"] for n in payload["graph"]["nodes"] if n["node_type"] == "user"}
    assert set(users) == set(HOSTILE_IDS[0::2])
    assert users["it's"] == {"age": None, "vec": [0.5, 0.0], "bio": None}  # nulls stay null
    items = {n["node_id"]: n["features"] for n in payload["graph"]["nodes"] if n["node_type"] == "item"}
    assert items == {"item0": {"gs_learnable_embedding": [0.25, -1.0]}}
    assert users["MATCH (n) DETACH DELETE n"] == {"age": 4, "vec": [0.5, 4.0], "bio": None}
    odd = hostile_store.payload([{"node_type": "item", "node_id": "item1"}], "full", seed=1)
    odd_users = {n["node_id"]: n["features"] for n in odd["graph"]["nodes"] if n["node_type"] == "user"}
    assert set(odd_users) == set(HOSTILE_IDS[1::2])
    assert odd_users["a" * 1_000_000] == {"age": None, "vec": [0.5, 9.0], "bio": "text 9"}
    edge = next(e for e in payload["graph"]["edges"] if e["src_node_id"] == "back`tick")
    assert edge == {"edge_type": ["user", "follows", "item"], "src_node_id": "back`tick",
                    "dest_node_id": "item0", "features": {"weight": 0.2}}
    for hostile in HOSTILE_IDS:  # as target ids: looked up, not found, nothing happens
        with pytest.raises(KeyError):
            hostile_store.payload([{"node_type": "item", "node_id": hostile}], "full", seed=1)
    again = hostile_store.payload([{"node_type": "item", "node_id": "item0"}], "full", seed=1)
    assert again == payload


def test_reverse_edges_are_read_as_out_edges(tmp_path):
    ids = [f"u{i}" for i in range(6)]
    _write_tables(tmp_path / "in", ids)
    schema = GraphSchema.from_dict(_config(add_reverse=True))
    load_graph(schema, tmp_path / "in", tmp_path / "store", learnable_dir=tmp_path / "in" / "emb")
    runner = open_ladybug(tmp_path / "store")
    try:
        builder = PayloadBuilder(runner, schema, _model(num_layers=2))
        # item0 <- u0, u2, u4 (follows); u0 <- item0 (follows-rev): 2 hops reach u2 and u4 only
        # through item0, and the payload carries forward edges only (the server derives -rev)
        payload = builder.payload([{"node_type": "user", "node_id": "u0"}], "full", seed=0)
        edges = sorted((e["src_node_id"], e["dest_node_id"]) for e in payload["graph"]["edges"])
        assert edges == [("u0", "item0"), ("u2", "item0"), ("u4", "item0")]
        assert {e["edge_type"][1] for e in payload["graph"]["edges"]} == {"follows"}
    finally:
        runner.close()


@pytest.mark.parametrize(("break_it", "words"), [
    (lambda c: c["nodes"][0]["features"][0].update(feature_col="agee"), ["users.parquet", "agee"]),
    (lambda c: c["edges"][0].update(dest_id_col="nope"), ["follows.csv", "nope"]),
    (lambda c: c["edges"][0].update(files=["/x/missing.csv"]), ["missing.csv"]),
    (lambda c: c["edges"][0]["relation"].__setitem__(2, "user"), ["follows.csv", "'dst'", "item0"]),
])
def test_load_refusals_name_table_and_column_and_leave_nothing(tmp_path, break_it, words):
    _write_tables(tmp_path / "in", ["u0", "u1"])
    config = _config()
    break_it(config)
    with pytest.raises(LoadError) as err:
        load_graph(GraphSchema.from_dict(config), tmp_path / "in", tmp_path / "store")
    for word in words:
        assert word in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no store, no partial folder


def test_learnable_embeddings_required_and_loaded(tmp_path, stores):
    variant = "rgcn_nc_learnable"
    schema = GraphSchema.from_file(artifacts_dir(variant) / "data_transform_new.json")
    load_graph(schema, RAW / "acm", tmp_path / "bare")
    runner = open_ladybug(tmp_path / "bare")
    try:
        with pytest.raises(StoreMismatchError, match="'subject'"):
            PayloadBuilder.from_model_dir(runner, artifacts_dir(variant))
    finally:
        runner.close()
    payload = stores.builder(variant).payload([{"node_type": "paper", "node_id": "p4995"}], "10,10", seed=3)
    subjects = [n for n in payload["graph"]["nodes"] if n["node_type"] == "subject"]
    assert subjects and all(list(n["features"]) == ["gs_learnable_embedding"] for n in subjects)


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torch", "numpy", "pandas", "orjson"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
from handler.graph_store.cli import load_main, build_payload_main
command = {"load": load_main, "build": build_payload_main}[sys.argv[1]]
rc = command(sys.argv[2:])
assert not [m for m in sys.modules if m.split(".")[0] in ("torch", "numpy")]
sys.exit(rc)
"""


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", BLOCKER, *args], capture_output=True, text=True,
                          env=env, timeout=120, cwd=REPO)


def test_commands_run_without_torch_or_numpy(tmp_path):
    art = artifacts_dir("rgcn_nc")
    store = tmp_path / "store"
    done = _cli("load", "--graph-json-config-file", str(art / "data_transform_new.json"),
                "--input-dir", str(RAW / "acm"), "--store", str(store))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["nodes"] == {"paper": 5000, "author": 2500, "subject": 40}
    assert "loaded paper" in done.stderr  # progress
    targets = json.dumps([{"node_type": "paper", "node_id": "p4995"}])
    first = _cli("build", "--model-dir", str(art), "--store", str(store), "--targets", targets, "--seed", "5")
    assert first.returncode == 0, first.stderr
    (tmp_path / "t.json").write_text(targets)
    second = _cli("build", "--model-dir", str(art), "--store", str(store), "--targets", f"@{tmp_path / 't.json'}",
                  "--seed", "5", "--fanout", "10,10")
    assert second.stdout == first.stdout  # the model's fanout is 10,10
    payload = json.loads(first.stdout)
    assert payload["version"] == "gs-realtime-v0.1" and payload["targets"] == json.loads(targets)
    missing = _cli("build", "--model-dir", str(art), "--store", str(store), "--targets",
                   json.dumps([{"node_type": "paper", "node_id": "nope'`"}]))
    assert missing.returncode == 4 and "nope" in missing.stderr
    again = _cli("load", "--graph-json-config-file", str(art / "data_transform_new.json"),
                 "--input-dir", str(RAW / "acm"), "--store", str(store))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_build_payload_as_arrow_is_the_json_payload_as_columns(stores):
    """--format arrow: the same request as our Arrow content type, still without torch, numpy or orjson."""
    art = artifacts_dir("rgcn_nc")
    store = stores.path("rgcn_nc")
    targets = json.dumps([{"node_type": "paper", "node_id": "p4995"}])
    env = dict(os.environ, PYTHONPATH=str(REPO))
    runs = {fmt: subprocess.run([sys.executable, "-c", BLOCKER, "build", "--model-dir", str(art), "--store",
                                 str(store), "--targets", targets, "--seed", "5", "--format", fmt],
                                capture_output=True, env=env, timeout=120, cwd=REPO)
            for fmt in ("json", "arrow")}
    assert all(r.returncode == 0 for r in runs.values()), {f: r.stderr for f, r in runs.items()}
    doc = json.loads(runs["json"].stdout)
    assert runs["arrow"].stdout == payload_to_arrow(doc)
    assert read_arrow(runs["arrow"].stdout).to_document()["targets"] == doc["targets"]
