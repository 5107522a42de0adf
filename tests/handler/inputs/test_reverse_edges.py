"""Reverse edges derived by the graph builder for graphs built with ``add_reverse_edges``.

No fixture was built with GConstruct's ``--add-reverse-edges``, but the heterogeneous ones
list relations named exactly as GConstruct's reverse ones (``writing`` / ``writing-rev``...).
So a copy of a fixture's ``data_transform_new.json`` keeping only the forward relations, with
``add_reverse_edges: true``, describes the same model graph; served with the same model.bin,
a payload of forward edges only must get the original model's answer on the payload that
lists the reverse edges explicitly.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from handler import RealtimePredictor, native
from handler.contract.graph_schema import REVERSE_SUFFIX, GraphSchema
from handler.contract.limits import RequestLimits
from handler.contract.model_config import ModelConfig
from handler.inputs.graph_builder import GraphBuilder
from handler.request.decode import decode
from handler.request.parse import RequestParser
from tests.compare import artifacts_dir
from tests.native_switch import extension

# Heterogeneous fixtures whose models read no features of the -rev relations (GConstruct's
# reverse edges have none).
HETERO = ("rgcn_nc", "rgat_nc", "hgt_nc", "rgcn_nr", "rgcn_nc_learnable")
ATOL = 1e-5


def _variant_with_reverse_edges(variant: str, out: Path) -> Path:
    """The fixture's artifacts, configured with forward relations and ``add_reverse_edges``."""
    art = artifacts_dir(variant)
    out.mkdir()
    for name in ("model.bin", "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"):
        shutil.copyfile(art / name, out / name)
    conf = json.loads((art / "data_transform_new.json").read_text())
    conf["edges"] = [e for e in conf["edges"] if not e["relation"][1].endswith(REVERSE_SUFFIX)]
    conf["add_reverse_edges"] = True
    (out / "data_transform_new.json").write_text(json.dumps(conf))
    return out


def _payload(variant: str, case: str = "v02_small") -> dict:
    return json.loads((artifacts_dir(variant).parent / "payloads" / f"{case}.json").read_bytes())


def _is_reverse(edge: dict) -> bool:
    return edge["edge_type"][1].endswith(REVERSE_SUFFIX)


def _swapped(edge: dict) -> dict:
    """The edge in the other direction, of the other relation of its forward/reverse pair."""
    src, rel, dst = edge["edge_type"]
    rel = rel.removesuffix(REVERSE_SUFFIX) if rel.endswith(REVERSE_SUFFIX) else rel + REVERSE_SUFFIX
    return {**edge, "edge_type": [dst, rel, src], "src_node_id": edge["dest_node_id"],
            "dest_node_id": edge["src_node_id"]}


def _with_edges(payload: dict, edges: list[dict]) -> bytes:
    return json.dumps({**payload, "graph": {**payload["graph"], "edges": edges}}).encode()


def _predictions(answer: dict) -> list[tuple[str, str, list[float]]]:
    assert answer["status_code"] == 200, answer
    return [(r["node_type"], r["node_id"], r["prediction"]) for r in answer["data"]["results"]]


def _assert_same(got: dict, expected: dict) -> None:
    for (gt, gid, gp), (et, eid, ep) in zip(_predictions(got), _predictions(expected), strict=True):
        assert (gt, gid) == (et, eid)
        assert max(abs(a - b) for a, b in zip(gp, ep, strict=True)) <= ATOL, (gid, gp, ep)


def _max_diff(a: dict, b: dict) -> float:
    return max(abs(x - y) for (_, _, pa), (_, _, pb) in zip(_predictions(a), _predictions(b), strict=True)
               for x, y in zip(pa, pb, strict=True))


@pytest.mark.parametrize("variant", HETERO)
def test_heterogeneous_reverse_relations_are_derived(variant, tmp_path):
    derived = RealtimePredictor.from_artifacts(_variant_with_reverse_edges(variant, tmp_path / variant))
    original = RealtimePredictor.from_artifacts(artifacts_dir(variant))
    assert derived.schema.canonical_etypes == original.schema.canonical_etypes  # GConstruct's order
    payload = _payload(variant)
    forward = [e for e in payload["graph"]["edges"] if not _is_reverse(e)]
    reverse = [e for e in payload["graph"]["edges"] if _is_reverse(e)]
    assert forward and reverse
    sent = forward + [_swapped(e) for e in reverse]  # every edge once, as a forward edge
    got = derived.predict(_with_edges(payload, sent))
    explicit = original.predict(_with_edges(payload, sent + [_swapped(e) for e in sent]))
    _assert_same(got, explicit)
    # The derived edges matter: without them the original model answers differently.
    assert _max_diff(original.predict(_with_edges(payload, sent)), explicit) > 1e-3


@pytest.mark.parametrize("variant", HETERO[:1])
def test_explicit_reverse_edges_are_411(variant, tmp_path):
    derived = RealtimePredictor.from_artifacts(_variant_with_reverse_edges(variant, tmp_path / variant))
    answer = derived.predict(json.dumps(_payload(variant)).encode())
    assert answer["status_code"] == 411
    assert "-rev" in answer["error"] and "derive" in answer["error"]


def test_derived_reverse_relation_has_no_features_and_swapped_edges(tmp_path):
    derived = RealtimePredictor.from_artifacts(_variant_with_reverse_edges("rgcn_nc", tmp_path / "v"))
    payload = _payload("rgcn_nc")
    payload["graph"]["edges"] = [e for e in payload["graph"]["edges"] if not _is_reverse(e)]
    body = json.dumps(payload).encode()
    graph = _build(derived, body)
    transformed = derived.builder.transform(derived.parse(derived.decode(body, "application/json")))
    for reverse, forward in derived.schema.reverse_of.items():
        src, dst = graph.edges[forward]
        rsrc, rdst = graph.edges[reverse]
        assert rsrc.tolist() == dst.tolist() and rdst.tolist() == src.tolist()
        assert reverse not in transformed.edge_features and reverse not in graph.edge_inputs
    assert graph.num_edges == 2 * len(payload["graph"]["edges"])


def test_homogeneous_reverse_edges_are_appended_to_the_relation(tmp_path):
    variant = "sage_homo_nc"
    derived = RealtimePredictor.from_artifacts(_variant_with_reverse_edges(variant, tmp_path / variant))
    original = RealtimePredictor.from_artifacts(artifacts_dir(variant))
    assert derived.schema.canonical_etypes == (("_N", "_E", "_N"),) and not derived.schema.reverse_of
    payload = _payload(variant)
    edges = payload["graph"]["edges"]
    swapped = [{**e, "src_node_id": e["dest_node_id"], "dest_node_id": e["src_node_id"]} for e in edges]
    got = derived.predict(_with_edges(payload, edges))
    explicit = original.predict(_with_edges(payload, edges + swapped))
    _assert_same(got, explicit)
    assert _max_diff(original.predict(_with_edges(payload, edges)), explicit) > 1e-3
    graph = _build(derived, _with_edges(payload, edges))
    src, dst = graph.edges[("_N", "_E", "_N")]
    n = len(edges)
    assert src[n:].tolist() == dst[:n].tolist() and dst[n:].tolist() == src[:n].tolist()


def _build(predictor: RealtimePredictor, body: bytes):
    """The payload graph the ``build`` stage makes of a body."""
    return predictor.build(predictor.parse(predictor.decode(body, "application/json")))


def test_schema_reverse_relations_follow_gconstruct():
    conf = {"nodes": [{"node_type": "a"}, {"node_type": "b"}], "add_reverse_edges": True,
            "edges": [{"relation": ["a", "r", "b"], "features": [{"feature_col": "w"}]},
                      {"relation": ["b", "s", "b"]}]}
    schema = GraphSchema.from_dict(conf)
    assert schema.canonical_etypes == (("a", "r", "b"), ("b", "r-rev", "a"), ("b", "s", "b"), ("b", "s-rev", "b"))
    assert schema.reverse_of == {("b", "r-rev", "a"): ("a", "r", "b"), ("b", "s-rev", "b"): ("b", "s", "b")}
    assert schema.edge_features[("b", "r-rev", "a")] == ()
    # A configured relation after the one it reverses keeps its own edges (GConstruct's dict).
    conf["edges"].append({"relation": ["b", "r-rev", "a"]})
    schema = GraphSchema.from_dict(conf)
    assert ("b", "r-rev", "a") not in schema.reverse_of
    assert schema.reverse_of[("a", "r-rev-rev", "b")] == ("b", "r-rev", "a")
    # Before it, GConstruct replaced its edges with the reverse ones: refused.
    conf["edges"] = [conf["edges"][2], conf["edges"][0]]
    with pytest.raises(ValueError, match="reverse"):
        GraphSchema.from_dict(conf)


def test_homogeneous_reverse_edges_duplicate_the_edge_feature_rows(tmp_path):
    """With edge features the model reads, the appended reverse edges carry their forward
    edges' rows (GConstruct duplicates the features): the C rows (``FeatureRows``) as the
    Python path's."""
    art = _variant_with_reverse_edges("sage_homo_nc", tmp_path / "homo")
    conf = json.loads((art / "data_transform_new.json").read_text())
    conf["edges"][0]["features"] = [
        {"feature_col": "order", "feature_name": "order", "feature_dim": [1],
         "transform": {"name": "max_min_norm", "max_val": [5], "min_val": [1]}},
        {"feature_col": "w", "feature_name": "w", "feature_dim": [2]}]
    (art / "data_transform_new.json").write_text(json.dumps(conf))
    schema = GraphSchema.from_file(art / "data_transform_new.json")
    config = ModelConfig.from_yaml(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml", schema.ntypes,
                                   schema.canonical_etypes)
    etype = ("_N", "_E", "_N")
    builder = GraphBuilder(schema, dataclasses.replace(config, edge_feat_names={etype: ("order", "w")}),
                           edge_input_dims={etype: 3})
    parser = RequestParser(schema, config.task_type, RequestLimits())
    payload = _payload("sage_homo_nc")
    edges = [{**e, "features": {"order": i % 5 + 1, "w": [i / 4, -i / 8]}}
             for i, e in enumerate(payload["graph"]["edges"])]
    body = _with_edges(payload, edges)
    built = {}
    for in_c in (True, False):
        with extension(in_c):
            decoded = decode(body, "application/json", RequestLimits(), columns_first=in_c)
            built[in_c] = builder.build(parser.parse(decoded))
    n = len(edges)
    rows = built[False].edge_inputs[etype]
    assert rows.shape == (2 * n, 3) and rows[n:].tolist() == rows[:n].tolist()
    assert rows[:, 0].tolist()[:n] == [((i % 5) / 4) for i in range(n)]
    assert built[True].edge_inputs[etype].numpy().tobytes() == rows.numpy().tobytes()
    if native.fastpath is not None:
        group = parser.parse(decode(body, "application/json", RequestLimits(), columns_first=True)).edges[etype]
        assert builder._edge_rows[etype].rows(group, "", "", builder._apply) is not None  # the C rows served it
