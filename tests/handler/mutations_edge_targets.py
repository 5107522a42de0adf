"""Target mutations (issue 12): edge targets of edge models and the wrong kind of target for
either kind of model (for test_fuzz.py).

An edge target is ``{"edge_type": [src_type, relation, dst_type], "src_node_id": ...,
"dest_node_id": ...}``; the relation must be one the model predicts (403 otherwise) and each
endpoint a payload node of its side's type (404 otherwise); a malformed target is a 400, an
empty endpoint id a 402. Duplicated and reordered targets are answered row by row.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

from tests.handler.mutation_kit import (
    OK,
    SAME,
    ModelInfo,
    Mutated,
    as_read,
    expect,
    ids_of,
    junk,
    new_ids,
    pick_index,
    reordered,
)

EDGE_KEYS = ("edge_type", "src_node_id", "dest_node_id")


def pair_expectation(p: dict, info: ModelInfo, etype: list, src: Any, dst: Any):
    """What a well-formed edge target ``(etype, src, dst)`` gets, the rest of ``p`` valid."""
    if tuple(etype) not in info.target_etypes:
        return expect(403, words=("target edge type",))
    for value, ntype in ((src, etype[0]), (dst, etype[2])):
        if as_read(value) not in ids_of(p, ntype):
            return expect(404, words=(str(as_read(value)),))
    return expect(OK)


def swap_endpoints(draw, p, info):
    """Source and destination exchanged: another valid pair when both sides have one node
    type (and both ids are nodes of it), else a 404 naming the misplaced id."""
    i = pick_index(draw, p["targets"])
    t = p["targets"][i]
    t["src_node_id"], t["dest_node_id"] = t["dest_node_id"], t["src_node_id"]
    return Mutated(p, pair_expectation(p, info, t["edge_type"], t["src_node_id"], t["dest_node_id"]))


def wrong_relation(draw, p, info):
    """A relation the model does not predict: the reverse one, another of the graph, the
    target relation written backwards, or an unknown one: 403."""
    i = pick_index(draw, p["targets"])
    etype = p["targets"][i]["edge_type"]
    others = [list(et) for et in info.etypes if et not in info.target_etypes]
    value = draw(st.one_of(
        st.sampled_from(others) if others else st.nothing(),
        st.just([etype[2], etype[1], etype[0]]),
        st.just([etype[0], etype[1].upper() + "_", etype[2]]),
        st.lists(st.text(max_size=8), min_size=3, max_size=3),
    ).filter(lambda v: tuple(v) not in info.target_etypes))
    p["targets"][i]["edge_type"] = value
    return Mutated(p, expect(403, words=("target edge type",)))


def drop_target_key(draw, p, info):
    """An edge target without ``edge_type``, ``src_node_id`` or ``dest_node_id``: 400."""
    i = pick_index(draw, p["targets"])
    del p["targets"][i][draw(st.sampled_from(EDGE_KEYS))]
    return Mutated(p, expect(400, words=(f"targets[{i}]",)))


def empty_target_endpoint(draw, p, info):
    """A null or empty endpoint id: 402 naming the key."""
    i = pick_index(draw, p["targets"])
    key = draw(st.sampled_from(EDGE_KEYS[1:]))
    p["targets"][i][key] = draw(st.sampled_from([None, ""]))
    return Mutated(p, expect(402, words=(key,)))


def set_edge_target_id(draw, p, info):
    """An endpoint id replaced by any value: 400 for a non-id, 404 for an id of no payload
    node of its type, the answer for another node's id."""
    i = pick_index(draw, p["targets"])
    t = p["targets"][i]
    key = draw(st.sampled_from(EDGE_KEYS[1:]))
    ntype = t["edge_type"][0 if key == "src_node_id" else 2]
    old = t[key]
    value = draw(st.one_of(junk(), new_ids(), st.sampled_from(ids_of(p, ntype))))
    t[key] = value
    read = as_read(value)
    if type(read) is type(old) and read == old:
        return Mutated(p, SAME)
    if read is None or read == "":
        return Mutated(p, expect(402, words=(key,)))
    if isinstance(read, bool) or not isinstance(read, str | int | float):
        return Mutated(p, expect(400, words=(key,)))
    if isinstance(read, float) and not math.isfinite(read):
        return Mutated(p, expect(400, words=(key,)))
    return Mutated(p, pair_expectation(p, info, t["edge_type"], t["src_node_id"], t["dest_node_id"]))


def edge_type_not_a_list(draw, p, info):
    """``edge_type`` as a string, an object, a list of 2 or 4 items, a number, null: 400."""
    i = pick_index(draw, p["targets"])
    etype = p["targets"][i]["edge_type"]
    value = draw(st.sampled_from([
        ",".join(etype), ":".join(etype), etype[1], dict(zip(("src", "rel", "dst"), etype, strict=True)),
        etype[:2], [*etype, etype[1]], [], [etype], 3, None, True, ""]))
    p["targets"][i]["edge_type"] = value
    return Mutated(p, expect(400, words=("edge_type",)))


def non_string_type_part(draw, p, info):
    """One part of ``edge_type`` is not a string: 400."""
    i = pick_index(draw, p["targets"])
    k = draw(st.integers(0, 2))
    p["targets"][i]["edge_type"][k] = draw(junk().filter(lambda v: not isinstance(v, str)))
    return Mutated(p, expect(400, words=("edge_type",)))


def node_target_to_edge_model(draw, p, info):
    """A node target (one, or all of them) sent to an edge model: 400 naming the target."""
    nodes = p["graph"]["nodes"]
    node = nodes[pick_index(draw, nodes)]
    as_node = {"node_type": node["node_type"], "node_id": node["node_id"]}
    if draw(st.booleans()):
        p["targets"] = [as_node]
        return Mutated(p, expect(400, words=("targets[0]",)))
    i = draw(st.integers(0, len(p["targets"])))
    p["targets"].insert(i, as_node)
    return Mutated(p, expect(400, words=(f"targets[{i}]",)))


def edge_target_to_node_model(draw, p, info):
    """An edge target sent to a node model: 400 (the target lacks node_type / node_id)."""
    edges = p["graph"]["edges"]
    if edges:
        e = edges[pick_index(draw, edges)]
        as_edge = {k: e[k] for k in EDGE_KEYS}
    else:
        node = p["graph"]["nodes"][0]
        as_edge = {"edge_type": list(info.etypes[0]), "src_node_id": node["node_id"],
                   "dest_node_id": node["node_id"]}
    i = draw(st.integers(0, len(p["targets"])))
    p["targets"].insert(i, as_edge)
    return Mutated(p, expect(400, words=("node_type",)))


def target_pair_not_an_edge(draw, p, info):
    """Any (source, destination) pair of payload nodes, edge or not: answered (issue 12)."""
    i = pick_index(draw, p["targets"])
    t = p["targets"][i]
    src_t, _, dst_t = t["edge_type"]
    t["src_node_id"] = draw(st.sampled_from(ids_of(p, src_t)))
    t["dest_node_id"] = draw(st.sampled_from(ids_of(p, dst_t)))
    return Mutated(p, expect(OK))


def duplicate_target(draw, p, info):
    """A target listed again (node or edge model): its result is repeated at that place."""
    targets = p["targets"]
    i = pick_index(draw, targets)
    j = draw(st.integers(0, len(targets)))
    targets.insert(j, json.loads(json.dumps(targets[i])))
    order = list(range(len(targets) - 1))
    order.insert(j, i)
    return Mutated(p, reordered(tuple(order)))


def shuffle_targets(draw, p, info):
    """The targets in another order (node or edge model): the results follow it."""
    targets = p["targets"]
    order = draw(st.permutations(range(len(targets))))
    p["targets"] = [targets[k] for k in order]
    return Mutated(p, reordered(tuple(order)))
