"""Stage ``expand`` through ``RealtimePredictor``: targets-only requests answered from the graph
store as target/ says, a new target node sent with its in-edges predicted as if it were stored,
unknown ids (404), bad sampling fields (400), a failing store (503, its batch neighbour
unharmed)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from handler import RealtimePredictor
from handler.contract.graph_schema import GraphSchema
from handler.contract.names import JSON_CONTENT_TYPE
from handler.graph_store.loader import load_graph
from handler.graph_store.payload import dumps
from tests.compare import artifacts_dir, lm_models, load_cases
from tests.handler.graph_store.stores import StoreCache, input_dir
from tests.handler.serving.targets_only import results, targets_only

VARIANTS = ("rgcn_nc", "rgcn_ec", "sage_homo_nc")
NEW_ID = "p-new`'\"node"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    stores = StoreCache(tmp_path_factory.mktemp("expand_stores"))
    yield stores
    stores.close()


@pytest.fixture(scope="module")
def predictors(cache):
    made: dict[str, RealtimePredictor] = {}

    def get(variant: str, store: Path | None = None) -> RealtimePredictor:
        key = f"{variant}:{store}"
        if key not in made:
            made[key] = RealtimePredictor.from_artifacts(
                artifacts_dir(variant), lm_models=lm_models(variant),
                graph_store=str(store or cache.path(variant)))
        return made[key]

    yield get
    for predictor in made.values():
        predictor.expander.close()


def _close(got: list[float], want: list[float], atol: float = 1e-5) -> bool:
    return len(got) == len(want) and all(abs(g - w) <= atol for g, w in zip(got, want, strict=True))


@pytest.mark.parametrize("variant", VARIANTS)
def test_targets_only_full_fanout_answers_target(predictors, variant):
    for case in [c for c in load_cases(variant) if c.name.endswith("_full")]:
        envelope = predictors(variant).predict(targets_only(case, fanout="full"))
        got, want = results(envelope), results(case.target)
        assert list(got) == list(want), case.id
        for key, values in want.items():
            assert _close(got[key], values), (case.id, key)


def test_graph_requests_work_as_today(predictors):
    case = next(c for c in load_cases("rgcn_nc") if c.name == "v03_medium_sampled")
    envelope = predictors("rgcn_nc").predict(case.body)
    assert results(envelope).keys() == results(case.target).keys()
    for key, values in results(case.target).items():
        assert _close(results(envelope)[key], values)


def test_targets_only_default_fanout_and_seed(predictors):
    case = next(c for c in load_cases("rgcn_nc") if c.name == "v05_multi8_sampled")
    predictor = predictors("rgcn_nc")
    one = predictor.predict(targets_only(case, seed=5))
    two = predictor.predict(targets_only(case, seed=5, fanout="10,10"))  # the model's fanout
    assert results(one) == results(two)
    assert predictor.predict(targets_only(case, seed=6))["status_code"] == 200


@pytest.mark.parametrize("variant", VARIANTS)
def test_targets_only_reaches_parse_as_columns_and_answers_what_its_json_payload_answers(predictors, variant):
    case = next(c for c in load_cases(variant) if c.name.endswith("_full"))
    predictor = predictors(variant)
    body = targets_only(case, seed=11)
    expanded = predictor.expand(predictor.decode(body, JSON_CONTENT_TYPE))
    assert expanded.document is None and expanded.columns is not None
    payload = predictor.expander.builder.payload(json.loads(body)["targets"], None, seed=11)
    assert expanded.columns.to_document()["graph"] == payload["graph"]
    by_columns, by_json = predictor.predict(body), predictor.predict(dumps(payload).encode())
    assert results(by_columns) == results(by_json)  # exactly: the same arrays reach the transforms


def _store_with_new_paper(root: Path, full_case) -> Path:
    """The ACM tables plus a new paper (p4995's features) that has p4995's in-edges only."""
    variant = "rgcn_nc"
    config = json.loads((artifacts_dir(variant) / "data_transform_new.json").read_text())
    tables = root / "tables"
    tables.mkdir()
    raw = input_dir(variant, root)
    sent = json.loads(full_case.body)["graph"]
    target = sent["nodes"][0]
    assert target["node_id"] == "p4995"
    paper = pq.read_table(raw / "paper.parquet")
    row = paper.filter(pa.compute.equal(paper.column("paper_id"), "p4995"))
    row = row.set_column(0, "paper_id", pa.array([NEW_ID]))
    pq.write_table(pa.concat_tables([paper, row]), tables / "paper.parquet")
    for name in ("author", "subject"):
        pq.write_table(pq.read_table(raw / f"{name}.parquet"), tables / f"{name}.parquet")
    for i, block in enumerate(config["edges"]):
        table = pq.read_table(raw / Path(block["files"][0]).name)
        etype = block["relation"]
        new_rows = [e for e in sent["edges"] if e["edge_type"] == etype and e["dest_node_id"] == "p4995"]
        if new_rows:
            cols = {block["source_id_col"]: [e["src_node_id"] for e in new_rows],
                    block["dest_id_col"]: [NEW_ID] * len(new_rows)}
            for feat in block.get("features", []):
                cols[feat["feature_col"]] = [e["features"][feat["feature_name"]] for e in new_rows]
            extra = pa.table({k: pa.array(v, table.schema.field(k).type) for k, v in cols.items()})
            table = pa.concat_tables([table, extra], promote_options="default")
        name = f"edges{i}.parquet"
        pq.write_table(table, tables / name)
        block["files"] = [name]
    store = root / "store"
    load_graph(GraphSchema.from_dict(config), tables, store)
    return store


def test_new_target_node_with_in_edges_predicted_as_if_stored(tmp_path, predictors):
    full = next(c for c in load_cases("rgcn_nc") if c.name == "v04_medium_full")
    sent = json.loads(full.body)
    stored = predictors("rgcn_nc", _store_with_new_paper(tmp_path, full))
    target = [{"node_type": "paper", "node_id": NEW_ID}]
    as_if_stored = stored.predict(orjson.dumps(
        {"version": sent["version"], "gml_task": sent["gml_task"], "targets": target, "fanout": "full"}))
    node = dict(sent["graph"]["nodes"][0], node_id=NEW_ID)
    in_edges = [dict(e, dest_node_id=NEW_ID) for e in sent["graph"]["edges"] if e["dest_node_id"] == "p4995"]
    assert in_edges
    request = {"version": sent["version"], "gml_task": sent["gml_task"], "targets": target, "fanout": "full",
               "complete_from_store": True, "graph": {"nodes": [node], "edges": in_edges}}
    got = predictors("rgcn_nc").predict(orjson.dumps(request))
    want = results(as_if_stored)[("paper", NEW_ID)]
    assert _close(results(got)[("paper", NEW_ID)], want)
    # without its edges the new node is alone: another prediction
    alone = predictors("rgcn_nc").predict(orjson.dumps(dict(request, graph={"nodes": [node], "edges": []})))
    assert not _close(results(alone)[("paper", NEW_ID)], want)


@pytest.mark.parametrize(("extra", "status", "words"), [
    ({"targets": [{"node_type": "paper", "node_id": "no-such-paper"}]}, 404, ["no-such-paper", "graph store"]),
    ({"targets": [{"node_type": "paper", "node_id": "x`}) MATCH (n) DETACH DELETE n //"}]}, 404, ["DETACH"]),
    ({"targets": [{"node_type": "venue", "node_id": "p1"}]}, 403, []),
    ({"fanout": "1,2,3"}, 400, ["fanout", "3 layer"]),
    ({"fanout": "paper/nope/paper:3,4"}, 400, ["nope"]),
    ({"seed": -1}, 400, ["seed"]),
    ({"seed": "7"}, 400, ["seed"]),
])
def test_bad_targets_and_sampling_fields(predictors, extra, status, words):
    case = next(c for c in load_cases("rgcn_nc") if c.name == "v01_tiny")
    envelope = predictors("rgcn_nc").predict(targets_only(case, **extra))
    assert envelope["status_code"] == status, envelope
    for word in words:
        assert word in envelope["error"]


def test_failing_store_is_a_bounded_503_and_spares_its_batch_neighbour(cache):
    predictor = RealtimePredictor.from_artifacts(artifacts_dir("rgcn_nc"), graph_store=str(cache.path("rgcn_nc")))
    case = next(c for c in load_cases("rgcn_nc") if c.name == "v02_small")
    predictor.expander.close()  # the store is gone: every query now fails
    failed, neighbour = predictor.predict_batch([targets_only(case), case.body])
    assert failed["status_code"] == 503 and failed["error"].startswith("Graph Store Failure: ")
    assert len(failed["error"]) < 1000
    assert neighbour["status_code"] == 200


def test_store_location_archive_record_and_environment_override(tmp_path):
    from handler.contract.settings import ServingOptions
    from handler.serving.expand import store_location

    assert store_location(ServingOptions.from_sources({}), tmp_path) is None
    assert store_location(ServingOptions.from_sources({"graph_store": "/data/s"}), tmp_path) == "/data/s"
    archived = ServingOptions.from_sources({"graph_store": "graph_store", "graph_store_in_archive": True})
    assert store_location(archived, tmp_path) == str(tmp_path / "graph_store")
    assert ServingOptions.from_sources(archived.as_section()) == archived  # the section round trip
    uri = "neptune-db://cluster.example:8182"
    overridden = ServingOptions.from_sources(archived.as_section(), {"GS_GRAPH_STORE": uri})
    assert store_location(overridden, tmp_path) == uri


def test_extraction_over_the_edge_limit_is_a_413_before_reading(cache):
    from handler.contract.limits import RequestLimits

    predictor = RealtimePredictor.from_artifacts(
        artifacts_dir("rgcn_nc"), limits=RequestLimits(max_edges=50, max_batch_edges=1_000_000),
        graph_store=str(cache.path("rgcn_nc")))
    try:
        case = next(c for c in load_cases("rgcn_nc") if c.name == "v06_large_full")
        envelope = predictor.predict(targets_only(case, fanout="full"))
        assert envelope["status_code"] == 413 and "max_edges" in envelope["error"]
    finally:
        predictor.expander.close()
