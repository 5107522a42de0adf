"""Neptune's openCypher CSV header grammar, and the exporter's refusals of values Neptune would
not give back unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from handler.graph_store.layout import LAYOUT_FORMAT, META_TABLE
from handler.graph_store.neptune_csv import (
    Column,
    NeptuneCsvError,
    check_header,
    export_store,
    neptune_id,
    read_node_file,
)


def test_valid_headers() -> None:
    assert check_header([":ID", ":LABEL", "name:String", "age:Int", "w:double", "tags:String[]"], "node") == [
        Column(":ID"), Column(":LABEL"), Column("name", "String"), Column("age", "Int"), Column("w", "double"),
        Column("tags", "String", array=True)]
    assert check_header([":ID(people)", "plain"], "node")[1] == Column("plain", "String")
    assert [c.name for c in check_header([":START_ID(p)", ":END_ID", ":TYPE", "since:DateTime"], "relationship")] == [
        ":START_ID", ":END_ID", ":TYPE", "since"]


@pytest.mark.parametrize("header, kind, message", [
    ([":LABEL", "a:String"], "node", "needs the system column(s) :ID"),
    ([":ID", ":ID", "a:String"], "node", "appears twice"),
    ([":ID", "a:String", "a:Long"], "node", "property 'a' appears twice"),
    ([":ID", "a:Decimal"], "node", "unknown type"),
    ([":ID", "has space:String"], "node", "no space"),
    ([":ID", ":String"], "node", "unknown system column"),
    ([":ID", ":TYPE"], "node", "does not belong in a node file"),
    ([":START_ID", ":END_ID"], "relationship", "needs the system column(s) :TYPE"),
    ([":ID", "name:ID"], "node", "`name:ID` columns"),
])
def test_header_refusals(header: list[str], kind: str, message: str) -> None:
    with pytest.raises(NeptuneCsvError, match=re.escape(message)):
        check_header(header, kind)


def test_ids_are_unique_across_labels() -> None:
    assert neptune_id("a:b", "c") != neptune_id("a", "b:c")
    assert neptune_id("author,writing,paper", 7) == "author,writing,paper:7"


def _store(tmp_path: Path, kind: str, values: list) -> Path:
    """A one-table store in the loader's layout whose property ``v`` holds ``values``."""
    import ladybug
    import pyarrow as pa

    ddl = {"STRING": "STRING", "DOUBLE": "DOUBLE", "DOUBLE[]": "DOUBLE[]", "STRING[]": "STRING[]"}[kind]
    arrow = {"STRING": pa.string(), "DOUBLE": pa.float64(), "DOUBLE[]": pa.list_(pa.float64()),
             "STRING[]": pa.list_(pa.string())}[kind]
    store = tmp_path / "store"
    store.mkdir()
    database = ladybug.Database(str(store / "graph.lbug"))
    connection = ladybug.Connection(database)
    connection.execute(f"CREATE NODE TABLE item(`~id` STRING PRIMARY KEY, v {ddl})")
    connection.execute(f"CREATE NODE TABLE {META_TABLE}(`~id` STRING PRIMARY KEY, json STRING)")
    rows = pa.table({"~id": [f"i{n}" for n in range(len(values))], "v": pa.array(values, arrow)})  # noqa: F841
    connection.execute("COPY item FROM rows")
    record = json.dumps({"format": LAYOUT_FORMAT, "types": {"item": {"~id": "STRING", "v": kind}}})
    connection.execute(f"CREATE (:{META_TABLE} {{`~id`: 'layout', json: $j}})", {"j": record})
    connection.close()
    database.close()
    return store


@pytest.mark.parametrize("kind, values, message", [
    ("STRING", ["a", ""], "an empty string reads back from Neptune as null"),
    ("DOUBLE", [1.0, float("nan")], "has no JSON form"),
    ("DOUBLE", [float("inf")], "has no JSON form"),
    ("DOUBLE[]", [[1.0], []], "an empty list reads back from Neptune as null"),
    ("STRING[]", [["a|b"]], "holds the separator"),
])
def test_values_neptune_cannot_give_back_are_refused(tmp_path: Path, kind: str, values: list, message: str) -> None:
    store = _store(tmp_path, kind, values)
    with pytest.raises(NeptuneCsvError, match=re.escape(message)) as info:
        export_store(store, tmp_path / "csv")
    assert "table 'item' property 'v' row" in str(info.value)


def test_exact_values_round_trip(tmp_path: Path) -> None:
    values = [[0.1, -2.5e-300, 1e308, 0.30000001192092896], None, [3.0]]
    store = _store(tmp_path, "DOUBLE[]", values)
    report = export_store(store, tmp_path / "csv")
    assert report.rows == {"item": 3, META_TABLE: 1}
    node_file = read_node_file(next(p for p in report.files if p.name.endswith("_item.csv")))
    parsed = [None if v is None else [float(x) for x in v.split("|")] for v in node_file.values["v"]]
    assert sorted(parsed, key=str) == sorted(values, key=str)
    with pytest.raises(NeptuneCsvError, match="is not empty"):
        export_store(store, tmp_path / "csv")


def test_neptune_commands_run_without_torch_or_numpy(tmp_path: Path) -> None:
    """gs-load-graph --neptune-csv (no --store) and gs-build-payload --store neptune-db+http://...
    with torch, numpy and pandas blocked: the client side needs the light dependencies only."""
    from tests.compare import artifacts_dir
    from tests.handler.graph_store.neptune_env import fake_aws
    from tests.handler.graph_store.neptune_server import FakeNeptune, ladybug_executor, load_neptune_csv
    from tests.handler.graph_store.test_graph_store_loader import RAW, _cli

    art = artifacts_dir("rgcn_nc")
    done = _cli("load", "--graph-json-config-file", str(art / "data_transform_new.json"),
                "--input-dir", str(RAW / "acm"), "--neptune-csv", str(tmp_path / "csv"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["store"] is None
    assert len(list((tmp_path / "csv").glob("*.csv"))) == 10  # 3 node types, 6 relations, the layout
    load_neptune_csv(tmp_path / "csv", tmp_path / "neptune.lbug")
    execute, close = ladybug_executor(str(tmp_path / "neptune.lbug"))
    try:
        with fake_aws(tmp_path / "aws"), FakeNeptune(execute) as fake:
            targets = json.dumps([{"node_type": "paper", "node_id": "p4995"}])
            built = _cli("build", "--model-dir", str(art), "--store", fake.uri("neptune-graph"), "--targets",
                         targets, "--seed", "5")
            assert built.returncode == 0, built.stderr
            assert json.loads(built.stdout)["targets"] == json.loads(targets)
            assert fake.count() == 1 + 3  # the layout record, then the seeds and one query per hop
    finally:
        close()
