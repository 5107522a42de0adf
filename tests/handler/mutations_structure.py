"""Structural mutations: fields dropped or of the wrong kind, unknown types, added items,
raw bytes and headers (for test_fuzz.py)."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from handler.contract.graph_schema import LEARNABLE_EMBEDDING_KEY
from tests.handler.mutation_kit import (
    DEEP_TOKEN,
    OK,
    SAME,
    Expect,
    Mutated,
    as_read,
    expect,
    ids_of,
    junk,
    new_ids,
    pick_feature,
    pick_index,
)


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
    i = pick_index(draw, nodes)
    key = draw(st.sampled_from(["node_type", "node_id", "features"]))
    ntype = nodes[i]["node_type"]
    del nodes[i][key]
    if key != "features":
        return Mutated(p, expect(411, words=(key, f"graph.nodes[{i}]")))
    # A featureless node type with learnable embeddings misses them: GraphStorm's 500.
    learnable = not info.transforms.get(ntype)
    return Mutated(p, expect(411, *((500,) if learnable else ()), words=(ntype,)))


def drop_feature(draw, p, info):
    pick = pick_feature(draw, p, lambda v: True)
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
    i = pick_index(draw, edges)
    key = draw(st.sampled_from(["edge_type", "src_node_id", "dest_node_id", "features"]))
    had = key in edges[i]
    edges[i].pop(key, None)
    if key == "features":
        return Mutated(p, expect(OK, 411, words=("features",)) if had else SAME)
    return Mutated(p, expect(411, words=(key, f"graph.edges[{i}]")))


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
    i = pick_index(draw, nodes)
    nodes[i] = draw(junk().filter(lambda v: not isinstance(v, dict) or "node_type" not in v))
    return Mutated(p, expect(411, words=(f"graph.nodes[{i}]",)))


def set_node_type(draw, p, info):
    nodes = p["graph"]["nodes"]
    i = pick_index(draw, nodes)
    old = nodes[i]["node_type"]
    value = draw(st.one_of(junk(), st.sampled_from(info.ntypes)))
    nodes[i]["node_type"] = value
    if value == old and isinstance(value, str):
        return Mutated(p, SAME)
    if isinstance(value, str) and value in info.ntypes:
        return Mutated(p, expect(OK, 403, 404, 411))
    return Mutated(p, expect(411, words=(f"graph.nodes[{i}]",)))


def set_edge_type(draw, p, info):
    edges = p["graph"]["edges"]
    if not edges:
        return Mutated(p, SAME)
    i = pick_index(draw, edges)
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


def duplicate_node(draw, p, info):
    """A second node with the same type and id but other feature values."""
    nodes = p["graph"]["nodes"]
    i = pick_index(draw, nodes)
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
    copy = json.loads(json.dumps(edges[pick_index(draw, edges)]))
    key = draw(st.sampled_from(["src_node_id", "dest_node_id"]))
    ntype = copy["edge_type"][0 if key == "src_node_id" else 2]
    copy[key] = draw(new_ids().filter(lambda v: v not in ids_of(p, ntype)))
    edges.insert(draw(st.integers(0, len(edges))), copy)
    return Mutated(p, expect(411, words=(str(as_read(copy[key])),)))


def empty_list(draw, p, info):
    which = draw(st.sampled_from(["graph", "edges", "targets", "vector"]))
    if which == "graph":
        p["graph"]["nodes"], p["graph"]["edges"] = [], []
        if info.edge_targets:  # the first target's source node is missing
            return Mutated(p, expect(404, words=("source node ID",)))
        return Mutated(p, expect(403, words=("node type",)))
    if which == "edges":
        p["graph"]["edges"] = []
        return Mutated(p, expect(OK))
    if which == "targets":
        p["targets"] = []
        return Mutated(p, expect(401, words=("targets",)))
    pick = pick_feature(draw, p, lambda v: isinstance(v, list))
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
        ntype = nodes[pick_index(draw, nodes)]["node_type"]
        holders = [n["features"] for n in nodes if n["node_type"] == ntype and "features" in n]
    else:
        holders = [{"top": p, "graph": p["graph"], "node": nodes[pick_index(draw, nodes)],
                    "target": p["targets"][pick_index(draw, p["targets"])]}[where]]
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
        pick = pick_feature(draw, p, lambda v: True)
        if pick is None:
            return Mutated(p, SAME)
        i, name = pick
        p["graph"]["nodes"][i]["features"][name] = DEEP_TOKEN
        want = expect(OK, 400, 411)
    opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opening * depth + "1" + closing * depth
    body = json.dumps(p, allow_nan=True).replace(f'"{DEEP_TOKEN}"', nested).encode()
    return Mutated(p, want, raw=body)


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
        # A flip inside a learnable embedding's key loses the embedding: GraphStorm's 500.
        key = f'"{LEARNABLE_EMBEDDING_KEY}"'.encode()
        in_key = any(body.startswith(key, start) for start in range(max(0, pos - len(key) + 1), pos + 1))
        statuses = (OK, 400, 401, 402, 403, 404, 411, 421, 422, *((500,) if in_key else ()))
        return Mutated(p, expect(*statuses), raw=body[:pos] + flipped + body[pos + 1:])
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
