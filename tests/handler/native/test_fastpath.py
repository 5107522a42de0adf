"""The C happy path (``handler.native``): its answer is None or exactly the Python path's.

Random member lists, well formed and malformed in every way the extension must step aside for
(ints, bools, floats and NaN as ids, nested values, huge ints, mixed feature keys, missing
features, unknown and reverse relations, non-objects), go through ``group_nodes`` /
``group_edges`` with the extension on and off: the groups are the same (ids, feature dicts,
keys, order) or both raise the same error. ``number_column`` is None or bit for bit
``np.array``'s array; ``edge_index`` is None or the arrays the Python mapping makes (and None
whenever that mapping misses an endpoint); ``index_nodes`` gives the same indices or the same
error with ``index_ids`` and without. Repeated calls leave the inputs' reference counts and the allocated
blocks as they were, and a missing, broken or stale build (or ``GS_NATIVE=false``) leaves the
pure-Python path in charge.
"""

from __future__ import annotations

import gc
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler import native
from handler.contract.errors import RealtimeError
from handler.contract.graph_schema import GraphSchema
from handler.contract.settings import NATIVE_ENV
from handler.request.grouping import TypeGroup, group_edges, group_nodes, index_nodes
from tests.native_switch import extension

REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.skipif(native.fastpath is None, reason="the C extension is not built (python setup.py "
                                "build_ext --inplace) or is switched off (GS_NATIVE=false)")

WRITES = ("author", "writes", "paper")
CITES = ("paper", "cites", "paper")
WRITTEN_BY = ("paper", "writes-rev", "author")  # a reverse relation the server derives
SCHEMA = GraphSchema(
    ntypes=("author", "paper"),
    canonical_etypes=(WRITES, WRITTEN_BY, CITES),
    node_features={"author": (), "paper": ()},
    edge_features={WRITES: (), WRITTEN_BY: (), CITES: ()},
    add_reverse_edges=True,
    reverse_of={WRITTEN_BY: WRITES},
)

_HUGE = 2**70
# Mostly what a well-formed payload holds (so that whole lists are often well formed), then
# each unusual value the extension must refuse.
_ids = st.one_of(
    st.sampled_from(["a1", "a2", "p1", "p2", "p3", "é", "x" * 40]),
    st.text(max_size=3),
    st.sampled_from(["", 0, 7, 1.5, math.nan, math.inf, True, None, ["a1"], {"a": 1}, _HUGE]),
)
_leaves = st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64), st.floats(), st.integers(),
                    st.sampled_from([True, None, "1.5", [1.0], _HUGE, -0.0]))
_vectors = st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=3)
_values = st.one_of(_vectors, st.floats(allow_nan=False, allow_infinity=False), st.lists(_leaves, max_size=3), _leaves)
_features = st.one_of(
    st.dictionaries(st.sampled_from(["f", "g", "h"]), _values, max_size=3),
    st.sampled_from([None, [], "f", 1.0]),
)
_ABSENT = object()


@st.composite
def _members(draw: Any, kind: str) -> list[Any]:
    """A payload's node (``kind`` "node") or edge list; each member well formed or not."""
    rows = []
    clean = draw(st.booleans())  # a well-formed list (the C path answers), or any
    # The members of a list mostly share a key set (a clean list: all of them).
    template = draw(st.one_of(st.just(_ABSENT), st.dictionaries(st.sampled_from("fgh"), st.just(0), max_size=3)
                              if clean else _features))
    for _ in range(draw(st.integers(0, 12))):
        style = draw(st.integers(8 if clean else 0, 19))
        if style == 0:
            rows.append(draw(st.sampled_from([None, "node", [], 3, {}])))
            continue
        if kind == "node":
            member: dict[str, Any] = {"node_type": draw(st.sampled_from(["author", "paper"])) if style > 2
                                      else draw(st.sampled_from(["venue", "", 1, ["paper"], None]))}
            member["node_id"] = draw(st.sampled_from(["a1", "a2", "p1", "p2"]) if style > 4 else _ids)
        else:
            relation = draw(st.sampled_from([WRITES, CITES]) if style > 2 else st.sampled_from(
                [WRITTEN_BY, ("paper", "writes", "author"), ("author", "writes"), "author"]))
            member = {"edge_type": list(relation) if style != 2 else relation,
                      "src_node_id": draw(st.sampled_from(["a1", "p1"]) if style > 4 else _ids),
                      "dest_node_id": draw(st.sampled_from(["p1", "p2"]) if style > 5 else _ids)}
        if style == 1:
            member.pop(draw(st.sampled_from(sorted(member))))
        feats = template if style > 7 else draw(st.one_of(st.just(_ABSENT), _features))
        if isinstance(feats, dict):
            feats = {key: draw(_values) for key in feats}  # the template's keys, values of its own
        if feats is not _ABSENT:
            member["features"] = feats
        rows.append(member)
    return rows


def _outcome(group: Any, members: list[Any], *, in_c: bool) -> Any:
    """The groups (every attribute the Python path sets) or the error, with the extension on or off."""
    try:
        with extension(in_c):
            groups = group(members, SCHEMA)
    except RealtimeError as err:
        return type(err), err.status_code, str(err)
    return [(key, _fields(g)) for key, g in groups.items()]


def _fields(group: TypeGroup) -> tuple[Any, ...]:
    # Features are compared as objects: the Python path keeps each member's own dict.
    return (group.where, group.ids, [id(f) if f else f for f in group.features], group.keys,
            group.missing_features, group.columns, group.transformed)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_grouping_in_c_is_the_python_paths(data: Any) -> None:
    for group, kind in ((group_nodes, "node"), (group_edges, "edge")):
        members = data.draw(_members(kind))
        assert _outcome(group, members, in_c=True) == _outcome(group, members, in_c=False)


def test_grouping_in_c_takes_well_formed_lists() -> None:
    """The property test above compares; this checks the C path really answers (not None)."""
    nodes = [{"node_type": "author", "node_id": "a1", "features": {"f": [1.0], "g": 2.0}},
             {"node_type": "paper", "node_id": "p1"},
             {"node_type": "author", "node_id": "a2", "features": {"g": 3.0, "f": [0.5]}}]
    edges = [{"edge_type": list(WRITES), "src_node_id": "a1", "dest_node_id": "p1", "features": {}},
             {"edge_type": list(CITES), "src_node_id": "p1", "dest_node_id": "p1"}]
    assert native.fastpath is not None
    found = native.fastpath.group_nodes(nodes, SCHEMA.node_features)
    assert found == {"author": (["a1", "a2"], [nodes[0]["features"], nodes[2]["features"]], frozenset("fg")),
                     "paper": (["p1"], [{}], None)}
    found = native.fastpath.group_edges(edges, SCHEMA.edge_features, SCHEMA.reverse_of)
    assert found == {WRITES: ([("a1", "p1")], [{}], frozenset()), CITES: ([("p1", "p1")], [{}], None)}
    assert _outcome(group_nodes, nodes, in_c=True) == _outcome(group_nodes, nodes, in_c=False)


@pytest.mark.parametrize(("members", "kind"), [
    ([{"node_type": "author", "node_id": 1}], "node"),  # an int id: the Python path takes it
    ([{"node_type": "author", "node_id": "a1"}, {"node_type": "author", "node_id": "a2", "features": {}}], "node"),
    ([{"node_type": "author", "node_id": "a1", "features": {"f": 1.0}},
      {"node_type": "author", "node_id": "a2", "features": {"g": 1.0}}], "node"),
    ([{"node_type": "venue", "node_id": "v1"}], "node"),
    ([{"node_type": "author", "node_id": "a1", "features": None}], "node"),
    ([{"edge_type": list(WRITTEN_BY), "src_node_id": "p1", "dest_node_id": "a1"}], "edge"),
    ([{"edge_type": WRITES, "src_node_id": "a1", "dest_node_id": "p1"}], "edge"),  # a tuple is not JSON
    ([{"edge_type": [*WRITES, "x"], "src_node_id": "a1", "dest_node_id": "p1"}], "edge"),
    ([{"edge_type": list(WRITES), "src_node_id": "a1", "dest_node_id": ""}], "edge"),
])
def test_c_steps_aside(members: list[Any], kind: str) -> None:
    assert native.fastpath is not None
    if kind == "node":
        assert native.fastpath.group_nodes(members, SCHEMA.node_features) is None
    else:
        assert native.fastpath.group_edges(members, SCHEMA.edge_features, SCHEMA.reverse_of) is None


_int64s = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([2**63, -(2**63) - 1, 2**64, True]))
_rows = st.one_of(
    st.lists(st.one_of(st.floats(width=64), st.floats(allow_nan=False, allow_infinity=False)), max_size=8),
    st.lists(_int64s, max_size=8),
    st.integers(1, 3).flatmap(lambda width: st.lists(st.lists(_int64s, min_size=width, max_size=width), max_size=5)),
    st.integers(1, 4).flatmap(lambda width: st.lists(st.lists(
        st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.floats(min_value=-1e300, max_value=1e300),
                  st.sampled_from([-0.0, 2.0**63, -(2.0**63), 2.0**63 - 1024, math.nan, math.inf])),
        min_size=width, max_size=width), max_size=6)),
    st.lists(st.lists(_leaves, max_size=3), max_size=4),
    st.lists(_values, max_size=4),
)


@settings(max_examples=400, deadline=None)
@given(_rows)
def test_number_column_is_np_array_bit_for_bit(values: list[Any]) -> None:
    for column in (native.number_column(values), native.number_column([{"f": v} for v in values], "f")):
        if column is None:
            continue
        expected = np.array(values)
        assert column.dtype == expected.dtype and expected.dtype in (np.float64, np.int64)
        assert column.shape == expected.shape
        assert column.tobytes() == expected.tobytes()
        assert column.flags.writeable


def test_number_column_refuses_what_numpy_would_not_make_float64_or_int64_of() -> None:
    """Or what it would, but from values of both kinds (the Python path's ``float_rows`` takes those)."""
    for values in ([], [[]], [1.0, [1.0]], [[1.0], 1.0], [[1.0], [1.0, 2.0]], [[1.0, 2]], [[1, 2.0]], [1, 2.5],
                   [True], [1, True], [2**63], [-(2**63) - 1], [math.nan], [[math.inf]], [2.0**63], (1.0,),
                   [(1.0,)], [[np.float64(1.0)]], [np.int64(1)]):
        assert native.number_column(values) is None, values  # type: ignore[arg-type]
    assert native.number_column([{"f": 1.0}, {}], "f") is None
    assert native.number_column([{"f": 1.0}, []], "f") is None


_endpoints = st.one_of(st.sampled_from(["a1", "a2", "p1", "p2", "x"]), st.text(max_size=2),
                       st.sampled_from([0, 1, 1.0, math.nan, True, None, ("a1",)]))
_edge_ids = st.lists(st.one_of(st.tuples(_endpoints, _endpoints), st.tuples(st.sampled_from(["a1", "a2"]),
                                                                        st.sampled_from(["p1", "p2"])),
                               st.sampled_from([("a1",), ("a1", "p1", "p2"), ["a1", "p1"], "a1", None])), max_size=10)
_index_maps = st.dictionaries(st.one_of(_endpoints.filter(lambda key: key == key), st.just("é")),  # no NaN key
                              st.one_of(st.integers(0, 9), st.sampled_from([2**63 - 1, -1, 2**63, True, 1.5, "0"])),
                              max_size=6)


def _python_edge_index(ids: list[Any], src_map: dict[Any, Any], dst_map: dict[Any, Any]) -> Any:
    """What ``GraphBuilder._map_edges``' Python path makes of the ids (None: a lookup fails)."""
    try:
        return (np.fromiter((src_map[s] for s, _ in ids), np.int64, len(ids)),
                np.fromiter((dst_map[d] for _, d in ids), np.int64, len(ids)))
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


@settings(max_examples=400, deadline=None)
@given(_edge_ids, _index_maps, _index_maps, st.booleans())
def test_edge_index_is_the_python_mapping(ids: list[Any], src_map: dict[Any, Any], dst_map: dict[Any, Any],
                                         well_formed: bool) -> None:
    if well_formed:  # every endpoint present and a str, every index an int: the C path must answer
        ids = [(str(s), str(d)) for s, d in ids if type(s) is not tuple and type(d) is not tuple] \
            if all(type(e) is tuple and len(e) == 2 for e in ids) else []
        src_map = {s: i for i, (s, _) in enumerate(ids)}
        dst_map = {d: i + 3 for i, (_, d) in enumerate(ids)}
    expected = _python_edge_index(ids, src_map, dst_map)
    found = native.edge_index(ids, src_map, dst_map)
    if well_formed:
        assert found is not None
    if expected is None:
        assert found is None
    if found is not None:
        assert expected is not None
        for got, want in zip(found, expected, strict=True):
            assert got.dtype == np.int64 and got.shape == want.shape and got.flags.writeable
            assert got.tobytes() == want.tobytes()


def test_edge_index_steps_aside() -> None:
    """Not exact types, a missing endpoint anywhere (also the last), or an index out of int64."""
    maps = {"a1": 0, "a2": 1}, {"p1": 0}
    assert native.edge_index([("a1", "p1"), ("a2", "p1")], *maps) is not None
    for ids in ([("a1", "p1"), ("a2", "p2")], [("a3", "p1")], [["a1", "p1"]], (("a1", "p1"),), [("a1", "p1", "x")],
                [("a1",)], [(1, "p1")], [("a1", 0)], ["a1p1"]):
        assert native.edge_index(ids, *maps) is None, ids  # type: ignore[arg-type]
    assert native.edge_index([("a1", "p1")], {"a1": 2**63}, {"p1": 0}) is None
    assert native.edge_index([("a1", "p1")], {"a1": True}, {"p1": 0}) is None
    assert native.edge_index([("a1", "p1")], {"a1": np.int64(0)}, {"p1": 0}) is None
    assert native.fastpath is not None
    assert native.fastpath.edge_index([("a1", "p1")], maps[0].items(), maps[1]) is None
    empty = native.edge_index([], *maps)
    assert empty is not None and [len(column) for column in empty] == [0, 0]


def _indexed(groups: dict[str, TypeGroup], *, in_c: bool) -> Any:
    try:
        with extension(in_c):
            ids, index = index_nodes(groups)
    except RealtimeError as err:
        return type(err), err.status_code, str(err)
    return ids, [(ntype, list(local.items())) for ntype, local in index.items()]  # the order too


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.one_of(st.sampled_from(["a1", "a2", "p1", "é", "x" * 30]), st.text(max_size=2),
                                   st.sampled_from([0, 1, 1.0, True, -0.0])), max_size=12), max_size=3))
def test_index_nodes_in_c_is_the_python_paths(id_lists: list[list[Any]]) -> None:
    groups = {}
    for position, ids in enumerate(id_lists):
        groups[f"type{position}"] = group = TypeGroup(f"node type type{position}, node id")
        group.ids = ids
    assert _indexed(groups, in_c=True) == _indexed(groups, in_c=False)


def test_index_ids_steps_aside() -> None:
    fast = native.fastpath
    assert fast is not None
    ids = [f"n{i}" for i in range(3000)]
    assert list(fast.index_ids(ids).items()) == list(zip(ids, range(3000), strict=True))
    for refused in ([*ids, "n7"], ["a", 1], ["a", b"b"], ("a", "b"), ["a", ("b",)]):
        assert fast.index_ids(refused) is None


def _refcounts(objects: list[Any]) -> list[int]:
    return [sys.getrefcount(obj) for obj in objects]


def test_calls_keep_reference_counts_and_memory() -> None:
    """Each function, on inputs it takes and inputs it refuses half way, many times: the inputs'
    reference counts, the gc-tracked objects and the allocated blocks do not change."""
    fast = native.fastpath
    assert fast is not None
    nodes = [{"node_type": "author" if i % 3 else "paper", "node_id": f"n{i}",
              "features": {"f": [float(i), 0.5], "g": 1.5}} for i in range(50)]
    bad_nodes = [*nodes, {"node_type": "author", "node_id": "late", "features": {"f": [1.0]}}]
    edges = [{"edge_type": ["author", "writes", "paper"], "src_node_id": f"n{i}", "dest_node_id": f"n{i + 1}",
              "features": {"w": 0.5}} for i in range(50)]
    bad_edges = [*edges, {"edge_type": list(WRITTEN_BY), "src_node_id": "p", "dest_node_id": "a"}]
    columns = [[m["features"] for m in nodes], [m["features"] for m in bad_nodes]]
    index = {f"n{i}": i + 1000 for i in range(51)}  # beyond the cached small ints
    edge_ids = [(m["src_node_id"], m["dest_node_id"]) for m in edges]
    bad_edge_ids = [*edge_ids, ("n1", "gone"), ("n2", "n3")]
    node_ids = [m["node_id"] for m in nodes]
    calls = [
        lambda: fast.group_nodes(nodes, SCHEMA.node_features),
        lambda: fast.group_nodes(bad_nodes, SCHEMA.node_features),
        lambda: fast.group_edges(edges, SCHEMA.edge_features, SCHEMA.reverse_of),
        lambda: fast.group_edges(bad_edges, SCHEMA.edge_features, SCHEMA.reverse_of),
        lambda: fast.number_column(columns[0], "f"),
        lambda: fast.number_column(columns[1], "f"),
        lambda: fast.number_column([f["f"] for f in columns[0]], None),
        lambda: fast.number_column([1, 2, 3, 2**40, 2**70], None),
        lambda: fast.number_column([[1, 2], [3, 4]], None),
        lambda: fast.edge_index(edge_ids, index, index),
        lambda: fast.edge_index(bad_edge_ids, index, index),
        lambda: fast.index_ids(node_ids),
        lambda: fast.index_ids([*node_ids, "n7"]),
        lambda: fast.index_ids([*node_ids[:10], 3, *node_ids[10:]]),
    ]
    watched: list[Any] = [nodes, bad_nodes, edges, bad_edges, *columns, SCHEMA.node_features,
                          edge_ids, bad_edge_ids, index, *edge_ids[0], *index.values(), node_ids, *node_ids]
    for member in [*bad_nodes, *bad_edges]:
        watched += [member, *member.values()]
        watched += list(member.get("features", {}).values())
    for call in calls:
        call()  # first calls may intern or cache
    gc.collect()
    counts, tracked, blocks = _refcounts(watched), len(gc.get_objects()), sys.getallocatedblocks()
    for _ in range(300):
        for call in calls:
            call()
    gc.collect()
    assert _refcounts(watched) == counts
    assert len(gc.get_objects()) <= tracked + 10
    assert sys.getallocatedblocks() <= blocks + 100  # 4,200 calls: a leak per call would be thousands


def _run_copy(tmp_path: Path, prepare: Any, env: dict[str, str] | None = None) -> str:
    """Runs a check of ``handler.native`` in a copy of the handler package that ``prepare`` changed."""
    copy = tmp_path / "handler"
    shutil.copytree(REPO / "handler", copy, ignore=shutil.ignore_patterns("__pycache__"))
    prepare(copy / "native")
    code = ("from handler import native\n"
            "from handler.request.grouping import group_nodes\n"
            "from handler.contract.graph_schema import GraphSchema\n"
            "schema = GraphSchema(('a',), (), {'a': ()}, {})\n"
            "groups = group_nodes([{'node_type': 'a', 'node_id': 'x'}], schema)\n"
            "print(native.fastpath is None, groups['a'].ids)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(tmp_path), **(env or {})})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def _built(folder: Path) -> list[Path]:
    return sorted(folder.glob("_fastpath*.so"))


def _broken(folder: Path) -> None:
    for path in _built(folder):
        path.write_bytes(b"not a shared object")  # e.g. a .mar built elsewhere, on another Python


def _stale(folder: Path) -> None:
    for path in _built(folder):
        path.unlink()
    (folder / "_fastpath.py").write_text("ABI = -1\n")


def _absent(folder: Path) -> None:
    for path in _built(folder):
        path.unlink()


@pytest.mark.parametrize("prepare", [_broken, _stale, _absent])
def test_an_unusable_build_leaves_the_python_path(tmp_path: Path, prepare: Any) -> None:
    assert _run_copy(tmp_path, prepare) == "True ['x']"


@pytest.mark.parametrize(("value", "off"), [("false", True), ("0", True), ("true", False), ("", False),
                                            ("maybe", False)])
def test_the_switch_forces_the_python_path(tmp_path: Path, value: str, off: bool) -> None:
    assert _run_copy(tmp_path, lambda folder: None, {NATIVE_ENV: value}) == f"{off} ['x']"
