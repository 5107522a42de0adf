"""``handler.native.json_columns``: a JSON body read straight into columns is the JSON document
orjson reads, value for value and type for type, or None.

The route through the predictor (columns first, the JSON document when they fail) is checked
against the document route in ``tests/handler/serving/test_columns_route.py``.
"""

from __future__ import annotations

import gc
import json
import math
import struct
import sys
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler import native
from handler.contract.graph_columns import GraphColumns
from tests.native_switch import extension

pytestmark = pytest.mark.skipif(native.fastpath is None, reason="the C extension is not built or is switched off")

SETTINGS = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (a float by its bits: -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def grouped(document: dict[str, Any]) -> dict[str, Any]:
    """The document as ``GraphColumns.to_document`` gives it: members grouped by type, types in
    order of first appearance, the other top-level fields first."""
    def by_type(members: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
        order: dict[Any, int] = {}
        for m in members:
            order.setdefault(key(m), len(order))
        return sorted(members, key=lambda m: order[key(m)])

    graph = document["graph"]
    nodes = by_type(graph["nodes"], lambda m: m["node_type"])
    edges = by_type(graph["edges"], lambda m: tuple(m["edge_type"]))
    fields = {k: v for k, v in document.items() if k not in ("graph", "targets")}
    return {**fields, "graph": {"nodes": nodes, "edges": edges}, "targets": document["targets"]}


def member_order(document: dict[str, Any]) -> dict[str, Any]:
    """Each member's keys in the order ``to_document`` writes them (type, ids, features)."""
    order = ("node_type", "edge_type", "node_id", "src_node_id", "dest_node_id", "features")
    for members in document["graph"].values():
        for i, m in enumerate(members):
            members[i] = {k: m[k] for k in order if k in m}
    return document


def check(body: bytes) -> GraphColumns | None:
    """``json_columns(body)``, checked against orjson when it is not None."""
    columns = native.json_columns(body)
    if columns is None:
        return None
    expected = member_order(grouped(orjson.loads(body)))
    assert same(columns.to_document(), expected)
    position = {ntype: {node_id: i for i, node_id in enumerate(m.ids["node_id"])} for ntype, m in columns.nodes.items()}
    for (src_type, _, dst_type), members in columns.edges.items():
        src, dst = members.ids["src_node_id"], members.ids["dest_node_id"]
        everywhere = all(s in position.get(src_type, {}) for s in src) and all(
            d in position.get(dst_type, {}) for d in dst)
        assert (members.endpoints is not None) == everywhere
        if members.endpoints is not None:  # each endpoint's local index in its node type
            assert members.endpoints[0].tolist() == [position[src_type][s] for s in src]
            assert members.endpoints[1].tolist() == [position[dst_type][d] for d in dst]
    for members in [*columns.nodes.values(), *columns.edges.values()]:
        for name, values in (members.features or {}).items():
            if isinstance(values, np.ndarray):  # exactly the array np.array makes of the values
                assert values.flags.writeable
                made = np.array(values.tolist())
                assert made.dtype == values.dtype and made.shape == values.shape
            # a text feature is marked (taken as it is by parse) exactly when every value is a str
            texts = isinstance(values, list) and all(type(v) is str for v in values)
            assert (name in members.text_features) == texts, name
    return columns


# -- generated payloads ------------------------------------------------------------------------

FLOATS = st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.0, -0.0, 5e-324, 2.0**63, -(2.0**63), 9.2e18, 1e308, 0.1, 1 / 3])
INTS = st.integers(-(2**63), 2**63 - 1) | st.sampled_from([0, -1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30])
TEXT = st.text(max_size=6) | st.sampled_from(["", "é", "\u2028", "\\", '"', "\x00", "\U0001f600"])
ODD = st.none() | st.booleans() | TEXT | st.lists(TEXT, max_size=2) | st.dictionaries(TEXT, INTS, max_size=2) \
    | st.lists(st.lists(FLOATS, max_size=2), max_size=2) | st.lists(INTS | FLOATS, max_size=3)


@st.composite
def column_values(draw: Any, rows: int) -> list[Any]:
    """One feature's values: mostly one kind (floats, ints, strs, vectors of one width), now
    and then an odd one (another kind, a null, a ragged vector, ...)."""
    kind = draw(st.sampled_from(["float", "int", "str", "vec_float", "vec_int", "odd"]))
    width = draw(st.integers(1, 4))
    one = {"float": FLOATS, "int": INTS, "str": TEXT, "odd": ODD,
           "vec_float": st.lists(FLOATS, min_size=width, max_size=width),
           "vec_int": st.lists(INTS, min_size=width, max_size=width)}[kind]
    return [draw(one if draw(st.integers(0, 9)) else ODD) for _ in range(rows)]


@st.composite
def payloads(draw: Any) -> bytes:
    """A payload-shaped document (types, ids, features, edges, targets), mostly well formed."""
    ntypes = draw(st.lists(st.sampled_from(["a", "b", "c", "é"]), min_size=1, max_size=3, unique=True))
    int_ids = draw(st.booleans())  # GraphStorm's ids may be numbers
    nodes, edges = [], []
    for ntype in ntypes:
        rows = draw(st.integers(1, 5))
        names = draw(st.lists(st.sampled_from(["f", "g", "h"]), max_size=3, unique=True))
        columns = {name: draw(column_values(rows)) for name in names}
        with_features = draw(st.integers(0, 4)) > 0
        for r in range(rows):
            # mostly a distinct id, now and then any text (empty, repeated, escaped)
            node_id: Any = r * 7 - 3 if int_ids else f"{ntype}{r}"
            if not draw(st.integers(0, 9)):
                node_id = draw(TEXT | INTS | FLOATS)
            node: dict[str, Any] = {"node_type": ntype, "node_id": node_id}
            if with_features:
                node["features"] = {name: values[r] for name, values in columns.items()}
            nodes.append(node)
    ids = {t: [n["node_id"] for n in nodes if n["node_type"] == t] for t in ntypes}
    for _ in range(draw(st.integers(0, 6))):
        src, dst = draw(st.sampled_from(ntypes)), draw(st.sampled_from(ntypes))
        # mostly the id of a node of the endpoint's type, now and then any text
        src_id = draw(st.sampled_from(ids[src]) if draw(st.integers(0, 5)) else TEXT)
        dst_id = draw(st.sampled_from(ids[dst]) if draw(st.integers(0, 5)) else TEXT)
        edge: dict[str, Any] = {"edge_type": [src, draw(st.sampled_from(["r", "s"])), dst],
                                "src_node_id": src_id, "dest_node_id": dst_id}
        if draw(st.booleans()):
            edge["features"] = {"w": draw(FLOATS)}
        edges.append(edge)
    draw(st.randoms()).shuffle(nodes)
    document: dict[str, Any] = {"version": "gs-realtime-v0.1", "gml_task": draw(TEXT | st.just("node_classification")),
                                "graph": {"nodes": nodes, "edges": edges},
                                "targets": [{"node_type": ntypes[0], "node_id": draw(TEXT)}]}
    if draw(st.integers(0, 5)) == 0:  # a member gets a key it may not have, or loses one
        member = draw(st.sampled_from(nodes + edges))
        key = draw(st.sampled_from(["node_type", "node_id", "features", "extra", "src_node_id"]))
        if key in member:
            del member[key]
        else:
            member[key] = draw(ODD)
    indent = draw(st.sampled_from([None, 1, "\t"]))
    return json.dumps(document, indent=indent, ensure_ascii=draw(st.booleans())).encode()


@SETTINGS
@given(body=payloads())
def test_columns_are_the_document_orjson_reads(body: bytes) -> None:
    check(body)


def test_a_fixture_payload_becomes_typed_columns() -> None:
    body = json.dumps({
        "version": "gs-realtime-v0.1", "gml_task": "node_classification",
        "graph": {"nodes": [
            {"node_type": "paper", "node_id": "p1", "features": {"feat": [0.5, -1.25], "year": 2016, "venue": "KDD"}},
            {"node_type": "author", "node_id": "a1"},
            {"node_type": "paper", "node_id": "p2", "features": {"feat": [1.0, 2.0], "year": 1999, "venue": "WWW"}},
        ], "edges": [
            {"edge_type": ["author", "writing", "paper"], "src_node_id": "a1", "dest_node_id": "p2",
             "features": {"order": [1, 2], "weight": None}},
        ]},
        "targets": [{"node_type": "paper", "node_id": "p1"}], "extra": {"k": [1, None]},
    }).encode()
    columns = check(body)
    assert columns is not None
    assert list(columns.nodes) == ["paper", "author"]
    paper = columns.nodes["paper"]
    assert paper.ids == {"node_id": ["p1", "p2"]}
    assert paper.features is not None and paper.features["feat"].dtype == np.float64
    assert paper.features["feat"].shape == (2, 2) and paper.features["year"].dtype == np.int64
    assert paper.features["venue"] == ["KDD", "WWW"] and paper.text_features == {"venue"}
    assert columns.nodes["author"].features is None
    edge = columns.edges["author", "writing", "paper"]
    assert edge.ids == {"src_node_id": ["a1"], "dest_node_id": ["p2"]}
    assert edge.endpoints is not None and [e.tolist() for e in edge.endpoints] == [[0], [1]]
    assert edge.ids["src_node_id"][0] is columns.nodes["author"].ids["node_id"][0]  # the node's own str
    assert edge.features is not None and edge.features["order"].shape == (1, 2)
    assert edge.features["weight"] == [None]  # a null: the column holds the JSON values
    assert edge.text_features == frozenset()
    assert columns.envelope == {"version": "gs-realtime-v0.1", "gml_task": "node_classification",
                                "extra": {"k": [1, None]}}


NODE = '{"node_type": "a", "node_id": "x", "features": {"f": 1.5}}'


@pytest.mark.parametrize("body", [
    "",
    "[]",
    '{"targets": [], "graph": {"nodes": [' + NODE + '], "edges": []}} trailing',
    '{"targets": [], "graph": {"nodes": [' + NODE + '], "edges": []}, "targets": []}',  # a field twice
    '{"targets": [], "graph": {"nodes": [' + NODE + '], "edges": []}, "graph": {}}',
    '{"graph": {"nodes": [' + NODE + '], "edges": []}}',  # no targets
    '{"targets": []}',  # targets only: the graph store's route
    '{"targets": [], "graph": {"nodes": [], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [' + NODE + ']}}',
    '{"targets": [], "graph": {"nodes": [' + NODE + '], "edges": [], "more": 1}}',
    '{"targets": [], "graph": {"nodes": [{"node_type": "a", "node_id": 7.0}], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [{"node_type": "a", "node_id": true}], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [{"node_type": "a", "node_id": 18446744073709551616}], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [{"node_type": "a", "node_id": "x", "node_id": "y"}], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [{"node_type": "a", "node_id": "x", "weight": 1}], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [' + NODE + ', {"node_type": "a", "node_id": "y"}], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [' + NODE + ', {"node_type": "a", "node_id": "y", "features": {"g": 1}}],'
    ' "edges": []}}',
    '{"targets": [], "graph": {"nodes": [{"node_type": "a", "node_id": "x", "features": {"f": 1, "f": 2}}],'
    ' "edges": []}}',
    '{"targets": [], "graph": {"nodes": [' + NODE + '], "edges": [{"edge_type": ["a", "r"], "src_node_id": "x",'
    ' "dest_node_id": "x"}]}}',
    '{"targets": [], "graph": {"nodes": [{"node_type": "a", "node_id": "x", "features": {"f": NaN}}], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [{"node_type": "a", "node_id": "x", "features": {"f": 1e999}}], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [{"node_type": "a", "node_id": "\\ud800"}], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [' + NODE + '], "edges": []}, "x": {"k": 1, "k": 2}}',
    '{"targets": [' + "[" * 80 + "]" * 80 + '], "graph": {"nodes": [' + NODE + '], "edges": []}}',
    '{"targets": [], "graph": {"nodes": [' + NODE + '], "edges": [],}}',
])
def test_anything_unusual_is_left_to_the_json_path(body: str) -> None:
    assert native.json_columns(body.encode()) is None


def test_off_without_the_extension() -> None:
    with extension(False):
        body = '{"targets": [], "graph": {"nodes": [' + NODE + '], "edges": []}}'
        assert native.json_columns(body.encode()) is None


def test_calls_keep_memory() -> None:
    """Bodies it takes (typed and mixed columns) and bodies it refuses half way, many times:
    the gc-tracked objects and the allocated blocks do not grow."""
    nodes = [{"node_type": "a" if i % 3 else "b", "node_id": f"n{i}",
              "features": {"f": [float(i), 0.5], "g": i, "h": None if i % 7 == 0 else 1.5, "t": f"s{i}"}}
             for i in range(60)]
    edges = [{"edge_type": ["a", "r", "b"], "src_node_id": f"n{i}", "dest_node_id": f"n{i + 1}",
              "features": {"w": [0.5, 1.0] if i % 5 else [1, 2]}} for i in range(60)]
    good = {"gml_task": "node_classification", "graph": {"nodes": nodes, "edges": edges},
            "targets": [{"node_type": "a", "node_id": "n1"}]}
    late_edge = {**good, "graph": {"nodes": nodes, "edges": [*edges, {"edge_type": ["a", "r"]}]}}
    late_node = {**good, "graph": {"nodes": [*nodes, {"node_type": "a", "node_id": 1}], "edges": edges}}
    bodies = [json.dumps(d).encode() for d in (good, late_edge, late_node)]
    bodies.append(bodies[0][:-40])  # not JSON
    for body in bodies:
        native.json_columns(body)
    gc.collect()
    tracked, blocks = len(gc.get_objects()), sys.getallocatedblocks()
    for _ in range(300):
        for body in bodies:
            native.json_columns(body)
    gc.collect()
    assert len(gc.get_objects()) <= tracked + 10
    assert sys.getallocatedblocks() <= blocks + 100  # 1,200 calls: a leak per call would be thousands


def test_floats_are_read_as_python_reads_them() -> None:
    """Correctly rounded: the text of hard cases (halfway points, 17+ digits, subnormals)."""
    texts = ["0.1", "2.2250738585072011e-308", "2.2250738585072012e-308", "4.9e-324", "1.7976931348623157e308",
             "9007199254740993.0", "0.30000000000000004", "123456789012345678901234567890.5",
             "1.00000000000000011102230246251565404236316680908203125", "7.038531e-26", "-0.0",
             "2.4703282292062328e-324", "0.25978031754493713", "3.0e-5", "1E2"]
    nodes = ", ".join(f'{{"node_type": "a", "node_id": "n{i}", "features": {{"f": {t}}}}}' for i, t in enumerate(texts))
    columns = native.json_columns(f'{{"targets": [], "graph": {{"nodes": [{nodes}], "edges": []}}}}'.encode())
    assert columns is not None and columns.nodes["a"].features is not None
    column = columns.nodes["a"].features["f"]  # a list: the floats of 2**63 and beyond are not typed
    got = column if isinstance(column, list) else column.tolist()
    assert [struct.pack("<d", g) for g in got] == [struct.pack("<d", float(t)) for t in texts]
    assert not any(math.isnan(g) for g in got)


def _id_hash(text: str) -> int:
    """json_columns.c's id hash (FNV-1a over the UTF-8 bytes, then a shift-xor)."""
    value = 14695981039346656037
    for byte in text.encode():
        value = ((value ^ byte) * 1099511628211) % 2**64
    return value ^ (value >> 29)


def test_crafted_colliding_ids_are_left_to_the_json_path() -> None:
    """Node ids crafted to share their id-table slot would make every lookup a long probe: past
    a bounded probe the body is left to the JSON path (whose dicts hash with a per-process key)."""
    colliding = [f"n{i}" for i in range(200_000) if _id_hash(f"n{i}") & 255 == 7][:120]
    assert len(colliding) == 120
    nodes = [{"node_type": "a", "node_id": i} for i in colliding]
    body = json.dumps({"targets": [], "graph": {"nodes": nodes, "edges": []}}).encode()
    assert native.json_columns(body) is None
    spread = [{"node_type": "a", "node_id": f"n{i}"} for i in range(120)]
    assert native.json_columns(json.dumps({"targets": [], "graph": {"nodes": spread, "edges": []}}).encode())


def test_a_type_with_very_many_feature_keys_is_left_to_the_json_path() -> None:
    features = {f"f{i}": 1.0 for i in range(1025)}
    body = json.dumps({"targets": [], "graph": {"nodes": [{"node_type": "a", "node_id": "x", "features": features}],
                                                "edges": []}}).encode()
    assert native.json_columns(body) is None
