"""Mutations of valid fixture payloads, each with the answer it must get (for test_fuzz.py).

A mutation takes a hypothesis ``draw``, a decoded valid payload (mutated in place) and the
model's ``ModelInfo``, and returns what to send and an ``Expect``: the statuses allowed and the
words the error must contain (what makes the message name the problem). ``MUTATIONS`` lists
them; ``junk`` draws a JSON value of any kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from handler import RealtimePredictor
from handler.schema import LEARNABLE_EMBEDDING_KEY

OK = 200
# Raw-text stand-ins, replaced in the serialized body (json.dumps cannot write them).
HUGE_TOKEN, DEEP_TOKEN = "__gs_fuzz_huge__", "__gs_fuzz_deep__"


@dataclass(frozen=True)
class Expect:
    """What a mutated request must get.

    Attributes:
        statuses: the allowed status codes.
        words: strings the error must contain when the status is not 200 (422, float32
            overflow in the model, names no feature: its text is checked instead).
        renamed: when not None, the answer must equal the base payload's with node ids renamed
            by this map (``(node type, old id) -> new id``); ``{}`` means "same answer".
    """

    statuses: frozenset[int]
    words: tuple[str, ...] = ()
    renamed: dict[tuple[str, Any], Any] | None = None


def expect(*statuses: int, words: tuple[str, ...] = ()) -> Expect:
    return Expect(frozenset(statuses), tuple(words))


SAME = Expect(frozenset({OK}), renamed={})


@dataclass(frozen=True)
class ModelInfo:
    """What the mutations need to know about the served model."""

    task: str
    ntypes: tuple[str, ...]
    target_ntypes: tuple[str, ...]
    etypes: tuple[tuple[str, str, str], ...]
    transforms: dict[str, dict[str, str]]  # node type -> feature -> transform name

    @classmethod
    def of(cls, predictor: RealtimePredictor) -> ModelInfo:
        schema = predictor.schema
        return cls(
            task=predictor.config.task_type,
            ntypes=tuple(schema.ntypes),
            target_ntypes=tuple(predictor.config.target_ntypes),
            etypes=tuple(schema.canonical_etypes),
            transforms={nt: {s.name: s.transform_name for s in specs}
                        for nt, specs in schema.node_features.items()},
        )


@dataclass
class Mutated:
    """A request to send: the payload (or raw body), its content type and its expectation."""

    payload: Any
    expect: Expect
    content_type: str = "application/json"
    raw: bytes | None = None
    ascii_only: bool = field(default=True)

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        text = json.dumps(self.payload, allow_nan=True, ensure_ascii=self.ascii_only)
        return text.replace(f'"{HUGE_TOKEN}"', "1e999").encode("utf-8")


def junk(max_leaves: int = 4) -> st.SearchStrategy:
    """Any JSON value: scalars of every kind (NaN, infinities, huge ints, unicode) and nestings."""
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=12),
    )
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
        max_leaves=max_leaves)


def new_ids() -> st.SearchStrategy:
    """Valid node ids of every kind: unicode strings, integers (64-bit), finite floats."""
    return st.one_of(st.text(min_size=1, max_size=16), st.integers(-(2**63), 2**63 - 1),
                     st.floats(allow_nan=False, allow_infinity=False))


def _index(draw, items: list) -> int:
    return draw(st.integers(0, len(items) - 1))


def _ids_of(payload: dict, ntype: str) -> list[Any]:
    return [n["node_id"] for n in payload["graph"]["nodes"] if n["node_type"] == ntype]


def _pick_feature(draw, payload: dict, kinds: Callable[[Any], bool]) -> tuple[int, str] | None:
    """A (node index, feature name) whose value satisfies ``kinds``, or None."""
    nodes = payload["graph"]["nodes"]
    options = [(i, k) for i, n in enumerate(nodes) for k, v in n.get("features", {}).items() if kinds(v)]
    return draw(st.sampled_from(options)) if options else None


# -- fields dropped ------------------------------------------------------------------------

def drop_top(draw, p, info):
    key = draw(st.sampled_from(["gml_task", "targets", "graph", "version"]))
    del p[key]
    return Mutated(p, {"gml_task": expect(421, words=("task",)), "targets": expect(401, words=("targets",)),
                       "graph": expect(411, words=("graph",)), "version": SAME}[key])


def drop_graph_key(draw, p, info):
    key = draw(st.sampled_from(["nodes", "edges"]))
    del p["graph"][key]
    return Mutated(p, expect(411, words=(key,)))


def drop_node_key(draw, p, info):
    nodes = p["graph"]["nodes"]
    i = _index(draw, nodes)
    key = draw(st.sampled_from(["node_type", "node_id", "features"]))
    ntype = nodes[i]["node_type"]
    del nodes[i][key]
    if key != "features":
        return Mutated(p, expect(411, words=(key, f"graph.nodes[{i}]")))
    # A featureless node type with learnable embeddings misses them: GraphStorm's 500.
    learnable = not info.transforms.get(ntype)
    return Mutated(p, expect(411, *((500,) if learnable else ()), words=(ntype,)))


def drop_feature(draw, p, info):
    pick = _pick_feature(draw, p, lambda v: True)
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    del p["graph"]["nodes"][i]["features"][name]
    learnable = name == LEARNABLE_EMBEDDING_KEY
    return Mutated(p, expect(OK, 404, 411, *((500,) if learnable else ()), words=(name,)))


def drop_edge_key(draw, p, info):
    edges = p["graph"]["edges"]
    if not edges:
        return Mutated(p, SAME)
    i = _index(draw, edges)
    key = draw(st.sampled_from(["edge_type", "src_node_id", "dest_node_id", "features"]))
    had = key in edges[i]
    edges[i].pop(key, None)
    if key == "features":
        return Mutated(p, expect(OK, 411, words=("features",)) if had else SAME)
    return Mutated(p, expect(411, words=(key, f"graph.edges[{i}]")))


# -- values of the wrong kind --------------------------------------------------------------

def set_task(draw, p, info):
    value = draw(st.one_of(junk(), st.sampled_from(
        ["node_classification", "node_regression", "edge_classification", "link_prediction", ""])))
    p["gml_task"] = value
    return Mutated(p, SAME if value == info.task and isinstance(value, str) else expect(421, words=("task",)))


def set_targets(draw, p, info):
    value = draw(junk().filter(lambda v: not isinstance(v, list) or not all(isinstance(x, dict) for x in v)
                               or v == []))
    p["targets"] = value
    empty = value is None or (isinstance(value, list | dict | str) and len(value) == 0)
    return Mutated(p, expect(401 if empty else 400, words=("targets",)))


def set_target_field(draw, p, info):
    targets = p["targets"]
    i = _index(draw, targets)
    key = draw(st.sampled_from(["node_type", "node_id"]))
    old = targets[i][key]
    ntype = targets[i]["node_type"]
    if key == "node_type":
        value = draw(st.one_of(junk(), st.sampled_from(info.ntypes)))
    else:
        value = draw(st.one_of(junk(), new_ids(), st.sampled_from(_ids_of(p, ntype)), st.sampled_from([None, ""])))
    targets[i][key] = value
    value = as_read(value)
    if type(value) is type(old) and value == old:
        return Mutated(p, SAME)
    if key == "node_type":
        if not isinstance(value, str):
            return Mutated(p, expect(400, words=("node_type",)))
        if value in info.target_ntypes:
            return Mutated(p, expect(OK, 404))
        return Mutated(p, expect(403, words=(value,)))
    if value is None or value == "":
        return Mutated(p, expect(402, words=("node_id",)))
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return Mutated(p, expect(400, words=("node_id",)))
    if value in _ids_of(p, ntype):
        return Mutated(p, expect(OK))
    return Mutated(p, expect(404, words=(str(value),)))


def set_graph(draw, p, info):
    p["graph"] = draw(junk().filter(lambda v: not isinstance(v, dict) or "nodes" not in v or "edges" not in v))
    return Mutated(p, expect(411, words=("graph",)))


def set_graph_list(draw, p, info):
    key = draw(st.sampled_from(["nodes", "edges"]))
    value = draw(junk().filter(lambda v: v != []))
    p["graph"][key] = value
    if isinstance(value, list) and all(isinstance(x, dict) for x in value):
        return Mutated(p, expect(411, 403))
    return Mutated(p, expect(411, words=(key,)))


def set_node_item(draw, p, info):
    nodes = p["graph"]["nodes"]
    i = _index(draw, nodes)
    nodes[i] = draw(junk().filter(lambda v: not isinstance(v, dict) or "node_type" not in v))
    return Mutated(p, expect(411, words=(f"graph.nodes[{i}]",)))


def set_node_type(draw, p, info):
    nodes = p["graph"]["nodes"]
    i = _index(draw, nodes)
    old = nodes[i]["node_type"]
    value = draw(st.one_of(junk(), st.sampled_from(info.ntypes)))
    nodes[i]["node_type"] = value
    if value == old and isinstance(value, str):
        return Mutated(p, SAME)
    if isinstance(value, str) and value in info.ntypes:
        return Mutated(p, expect(OK, 403, 404, 411))
    return Mutated(p, expect(411, words=(f"graph.nodes[{i}]",)))


def set_node_id(draw, p, info):
    nodes = p["graph"]["nodes"]
    i = _index(draw, nodes)
    ntype, old = nodes[i]["node_type"], nodes[i]["node_id"]
    others = [x for x in _ids_of(p, ntype) if x != old]
    value = draw(st.one_of(junk(), new_ids(), st.sampled_from(others or [old]), st.sampled_from([None, ""])))
    nodes[i]["node_id"] = value
    value = as_read(value)
    if type(value) is type(old) and value == old:
        return Mutated(p, SAME)
    if value is None or value == "":
        return Mutated(p, expect(402, words=("node_id",)))
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return Mutated(p, expect(411, words=("node_id",)))
    if value in others:
        return Mutated(p, expect(411, words=("listed twice",)))
    return Mutated(p, expect(OK, 404, 411))


def rename_id(draw, p, info):
    """Renames one node everywhere (nodes, edges, targets): the answer must not change."""
    nodes = p["graph"]["nodes"]
    i = _index(draw, nodes)
    ntype, old = nodes[i]["node_type"], nodes[i]["node_id"]
    existing = _ids_of(p, ntype)
    # Lone surrogates are legal JSON escapes ("\ud800") though not UTF-8: sent escaped.
    new = draw(st.one_of(new_ids(), st.sampled_from(["\ud800", "x\udfff", "\udbff\ud800"]))
               .filter(lambda v: v not in existing))
    ascii_only = draw(st.booleans()) or (isinstance(new, str) and not new.isprintable())
    nodes[i]["node_id"] = new
    for edge in p["graph"]["edges"]:
        src_t, _, dst_t = edge["edge_type"]
        if src_t == ntype and edge["src_node_id"] == old:
            edge["src_node_id"] = new
        if dst_t == ntype and edge["dest_node_id"] == old:
            edge["dest_node_id"] = new
    for target in p["targets"]:
        if target["node_type"] == ntype and target["node_id"] == old:
            target["node_id"] = new
    return Mutated(p, Expect(frozenset({OK}), renamed={(ntype, old): new}), ascii_only=ascii_only)


def set_feature(draw, p, info):
    pick = _pick_feature(draw, p, lambda v: True)
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    p["graph"]["nodes"][i]["features"][name] = draw(st.one_of(junk(), st.just([]), st.text()))
    return Mutated(p, expect(OK, 411, 422, words=(name,)))


def feature_dim(draw, p, info):
    pick = _pick_feature(draw, p, lambda v: isinstance(v, list) and len(v) > 1)
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    vec = p["graph"]["nodes"][i]["features"][name]
    extra = draw(st.integers(1, 3))
    vec[:] = vec[:-extra] if draw(st.booleans()) else vec + [0.5] * extra
    return Mutated(p, expect(OK, 411, words=(name,)))


def feature_nonfinite(draw, p, info):
    pick = _pick_feature(draw, p, lambda v: isinstance(v, int | float | list) and not isinstance(v, bool))
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    node = p["graph"]["nodes"][i]
    bad = draw(st.sampled_from([float("nan"), float("inf"), float("-inf"), HUGE_TOKEN]))
    value = node["features"][name]
    if isinstance(value, list) and value:
        value[_index(draw, value)] = bad
    else:
        node["features"][name] = bad
    categorical = info.transforms.get(node["node_type"], {}).get(name) == "to_categorical"
    return Mutated(p, expect(OK, 411) if categorical else expect(411, words=(name, str(node["node_id"]))))


def feature_extreme(draw, p, info):
    pick = _pick_feature(draw, p, lambda v: isinstance(v, int | float | list) and not isinstance(v, bool))
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    extreme = draw(st.sampled_from([1e300, -1e300, 3.5e38, -3.5e38, 3e38, -3e38, 1e30, -1e30, 2**63 - 1, -(2**63),
                                    2**64 - 1, 2**70, -(2**70), 1e-300, 5e-324, -0.0, -1, -12345.5]))
    value = p["graph"]["nodes"][i]["features"][name]
    if isinstance(value, list) and value:
        value[_index(draw, value)] = extreme
    else:
        p["graph"]["nodes"][i]["features"][name] = extreme
    return Mutated(p, expect(OK, 411, 422, words=(name,)))


# -- edges ---------------------------------------------------------------------------------

def set_edge_type(draw, p, info):
    edges = p["graph"]["edges"]
    if not edges:
        return Mutated(p, SAME)
    i = _index(draw, edges)
    old = edges[i]["edge_type"]
    known = [list(et) for et in info.etypes]
    value = draw(st.one_of(junk(), st.sampled_from(known), st.lists(st.text(max_size=8), min_size=3, max_size=3),
                           st.just(dict.fromkeys(old, 1)), st.just(old[:2]), st.just(",".join(old))))
    edges[i]["edge_type"] = value
    if value == old:
        return Mutated(p, SAME)
    if value in known:
        return Mutated(p, expect(OK, 411))
    return Mutated(p, expect(411, words=(f"graph.edges[{i}]",)))


def set_edge_endpoint(draw, p, info):
    edges = p["graph"]["edges"]
    if not edges:
        return Mutated(p, SAME)
    i = _index(draw, edges)
    key = draw(st.sampled_from(["src_node_id", "dest_node_id"]))
    ntype = edges[i]["edge_type"][0 if key == "src_node_id" else 2]
    old, existing = edges[i][key], _ids_of(p, ntype)
    value = draw(st.one_of(junk(), new_ids(), st.sampled_from(existing), st.sampled_from([None, ""])))
    edges[i][key] = value
    value = as_read(value)
    if type(value) is type(old) and value == old:
        return Mutated(p, SAME)
    if value is None or value == "":
        return Mutated(p, expect(402, words=(key,)))
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return Mutated(p, expect(411, words=(key,)))
    if value in existing:
        return Mutated(p, expect(OK))
    return Mutated(p, expect(411, words=(str(value),)))


# -- added items ---------------------------------------------------------------------------

def duplicate_node(draw, p, info):
    """A second node with the same type and id but other feature values."""
    nodes = p["graph"]["nodes"]
    i = _index(draw, nodes)
    copy = json.loads(json.dumps(nodes[i]))
    for name, value in copy.get("features", {}).items():
        copy["features"][name] = [v + 1 for v in value] if isinstance(value, list) and all(
            isinstance(v, int | float) for v in value) else value
    nodes.insert(draw(st.integers(0, len(nodes))), copy)
    return Mutated(p, expect(411, words=("listed twice",)))


def add_unknown_type(draw, p, info):
    name = draw(st.text(max_size=10).filter(lambda t: t not in info.ntypes))
    src, _, dst = draw(st.sampled_from(info.etypes))
    if draw(st.booleans()) or (src, name, dst) in info.etypes:
        nodes = p["graph"]["nodes"]
        pos = draw(st.integers(0, len(nodes)))
        nodes.insert(pos, {"node_type": name, "node_id": "x1", "features": {}})
        return Mutated(p, expect(411, words=(f"graph.nodes[{pos}]",)))
    edges = p["graph"]["edges"]
    pos = draw(st.integers(0, len(edges)))
    edges.insert(pos, {"edge_type": [src, name, dst], "src_node_id": "x", "dest_node_id": "y"})
    return Mutated(p, expect(411, words=(f"graph.edges[{pos}]",)))


def edge_to_unknown_node(draw, p, info):
    edges = p["graph"]["edges"]
    if not edges:
        return Mutated(p, SAME)
    copy = json.loads(json.dumps(edges[_index(draw, edges)]))
    key = draw(st.sampled_from(["src_node_id", "dest_node_id"]))
    ntype = copy["edge_type"][0 if key == "src_node_id" else 2]
    copy[key] = draw(new_ids().filter(lambda v: v not in _ids_of(p, ntype)))
    edges.insert(draw(st.integers(0, len(edges))), copy)
    return Mutated(p, expect(411, words=(str(as_read(copy[key])),)))


def empty_list(draw, p, info):
    which = draw(st.sampled_from(["graph", "edges", "targets", "vector"]))
    if which == "graph":
        p["graph"]["nodes"], p["graph"]["edges"] = [], []
        return Mutated(p, expect(403, words=("node type",)))
    if which == "edges":
        p["graph"]["edges"] = []
        return Mutated(p, expect(OK))
    if which == "targets":
        p["targets"] = []
        return Mutated(p, expect(401, words=("targets",)))
    pick = _pick_feature(draw, p, lambda v: isinstance(v, list))
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    p["graph"]["nodes"][i]["features"][name] = []
    return Mutated(p, expect(411, words=(name,)))


def extra_fields(draw, p, info):
    """Unknown keys anywhere the spec allows them: ignored."""
    where = draw(st.sampled_from(["top", "graph", "node", "target", "feature"]))
    reserved = {"version", "gml_task", "graph", "targets", "nodes", "edges", "node_type", "node_id",
                "features", LEARNABLE_EMBEDDING_KEY, *(f for t in info.transforms.values() for f in t)}
    key = draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in reserved))
    nodes = p["graph"]["nodes"]
    if where == "feature":
        # Every node of a type must carry the same feature keys: add it to all of them.
        ntype = nodes[_index(draw, nodes)]["node_type"]
        holders = [n["features"] for n in nodes if n["node_type"] == ntype and "features" in n]
    else:
        holders = [{"top": p, "graph": p["graph"], "node": nodes[_index(draw, nodes)],
                    "target": p["targets"][_index(draw, p["targets"])]}[where]]
    for holder in holders:
        holder[key] = draw(junk())
    return Mutated(p, SAME, ascii_only=draw(st.booleans()))


def deep_nesting(draw, p, info):
    depth = draw(st.sampled_from([10, 100, 900, 1100, 5000, 100_000]))
    where = draw(st.sampled_from(["top", "feature", "target", "node"]))
    if where == "top":
        p["deep"] = DEEP_TOKEN
        want = expect(OK, 400)
    elif where == "target":
        p["targets"][0] = DEEP_TOKEN
        want = expect(400)
    elif where == "node":
        p["graph"]["nodes"][0] = DEEP_TOKEN
        want = expect(400, 411)
    else:
        pick = _pick_feature(draw, p, lambda v: True)
        if pick is None:
            return Mutated(p, SAME)
        i, name = pick
        p["graph"]["nodes"][i]["features"][name] = DEEP_TOKEN
        want = expect(OK, 400, 411)
    opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opening * depth + "1" + closing * depth
    body = json.dumps(p, allow_nan=True).replace(f'"{DEEP_TOKEN}"', nested).encode()
    return Mutated(p, want, raw=body)


# -- bytes and headers ---------------------------------------------------------------------

def raw_bytes(draw, p, info):
    body = json.dumps(p, ensure_ascii=False).encode("utf-8")
    op = draw(st.sampled_from(["bad_utf8", "truncate", "flip", "bom", "utf16", "empty", "whitespace"]))
    if op == "bad_utf8":
        pos = draw(st.integers(0, len(body)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]))
        return Mutated(p, expect(400), raw=body[:pos] + bad + body[pos:])
    if op == "truncate":
        return Mutated(p, expect(400), raw=body[:draw(st.integers(0, len(body) - 1))])
    if op == "flip":
        pos = draw(st.integers(0, len(body) - 1))
        flipped = bytes([body[pos] ^ (1 << draw(st.integers(0, 7)))])
        return Mutated(p, expect(OK, 400, 401, 402, 403, 404, 411, 421, 422), raw=body[:pos] + flipped + body[pos + 1:])
    if op == "bom":
        return Mutated(p, expect(OK, 400), raw=b"\xef\xbb\xbf" + body)
    if op == "utf16":
        return Mutated(p, expect(OK, 400), raw=body.decode("utf-8").encode("utf-16"))
    if op == "empty":
        return Mutated(p, expect(400), raw=b"")
    pad = draw(st.sampled_from([b" ", b"\n", b"\r\n\t "]))
    return Mutated(p, Expect(frozenset({OK}), renamed={}), raw=pad + body + pad)


def content_type(draw, p, info):
    value = draw(st.one_of(st.sampled_from(
        ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain",
         "application/xml", "", "application/jsonx", "application/x-npy", "multipart/form-data"]),
        st.text(max_size=20)))
    is_json = value.split(";", 1)[0].strip().lower() == "application/json"
    return Mutated(p, SAME if is_json else expect(400, words=("content type",)), content_type=value)


def as_read(value: Any) -> Any:
    """A JSON integer as the server reads it: beyond 64 bits it is a float (orjson's rule)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return float(value)
    return value


MUTATIONS: dict[str, Callable[..., Mutated]] = {f.__name__: f for f in (
    drop_top, drop_graph_key, drop_node_key, drop_feature, drop_edge_key, set_task, set_targets,
    set_target_field, set_graph, set_graph_list, set_node_item, set_node_type, set_node_id, rename_id,
    set_feature, feature_dim, feature_nonfinite, feature_extreme, set_edge_type, set_edge_endpoint,
    duplicate_node, add_unknown_type, edge_to_unknown_node, empty_list, extra_fields, deep_nesting,
    raw_bytes, content_type,
)}
