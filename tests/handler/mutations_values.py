"""Value mutations: task, targets, node ids and feature values (for test_fuzz.py)."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from handler.contract.graph_schema import LEARNABLE_EMBEDDING_KEY
from tests.handler.mutation_kit import (
    HUGE_TOKEN,
    OK,
    SAME,
    Mutated,
    as_read,
    expect,
    ids_of,
    junk,
    new_ids,
    pick_edge_feature,
    pick_feature,
    pick_index,
    rename_node,
    renamed,
)


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
    i = pick_index(draw, targets)
    key = draw(st.sampled_from(["node_type", "node_id"]))
    old = targets[i][key]
    ntype = targets[i]["node_type"]
    if key == "node_type":
        value = draw(st.one_of(junk(), st.sampled_from(info.ntypes)))
    else:
        value = draw(st.one_of(junk(), new_ids(), st.sampled_from(ids_of(p, ntype)), st.sampled_from([None, ""])))
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
    if isinstance(value, float) and not math.isfinite(value):  # an id is a finite number (or a string)
        return Mutated(p, expect(400, words=("node_id", "finite")))
    if value in ids_of(p, ntype):
        return Mutated(p, expect(OK))
    return Mutated(p, expect(404, words=(str(value),)))


def set_node_id(draw, p, info):
    nodes = p["graph"]["nodes"]
    i = pick_index(draw, nodes)
    ntype, old = nodes[i]["node_type"], nodes[i]["node_id"]
    others = [x for x in ids_of(p, ntype) if x != old]
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
    i = pick_index(draw, nodes)
    ntype, old = nodes[i]["node_type"], nodes[i]["node_id"]
    existing = ids_of(p, ntype)
    # Lone surrogates are legal JSON escapes ("\ud800") though not UTF-8: sent escaped.
    new = draw(st.one_of(new_ids(), st.sampled_from(["\ud800", "x\udfff", "\udbff\ud800"]))
               .filter(lambda v: v not in existing))
    ascii_only = draw(st.booleans()) or (isinstance(new, str) and not new.isprintable())
    rename_node(p, ntype, old, new)
    return Mutated(p, renamed({(ntype, old): new}), ascii_only=ascii_only)


def set_feature(draw, p, info):
    pick = pick_feature(draw, p, lambda v: True)
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    p["graph"]["nodes"][i]["features"][name] = draw(st.one_of(junk(), st.just([]), st.text()))
    return Mutated(p, expect(OK, 411, 422, words=(name,)))


def feature_null(draw, p, info):
    """A node or edge feature value set to JSON null: a missing value (GSProcessing imputers
    fill it, categoricals encode it as zeros); else a 411 naming the feature, never a 500."""
    on_edge = draw(st.booleans())
    pick = (pick_edge_feature if on_edge else pick_feature)(draw, p, lambda v: v is not None)
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    p["graph"]["edges" if on_edge else "nodes"][i]["features"][name] = None
    return Mutated(p, expect(OK, 411, words=(name,)))


def feature_dim(draw, p, info):
    pick = pick_feature(draw, p, lambda v: isinstance(v, list) and len(v) > 1)
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    vec = p["graph"]["nodes"][i]["features"][name]
    extra = draw(st.integers(1, 3))
    vec[:] = vec[:-extra] if draw(st.booleans()) else vec + [0.5] * extra
    return Mutated(p, expect(OK, 411, words=(name,)))


def feature_nonfinite(draw, p, info):
    pick = pick_feature(draw, p, lambda v: isinstance(v, int | float | list) and not isinstance(v, bool))
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    node = p["graph"]["nodes"][i]
    bad = draw(st.sampled_from([float("nan"), float("inf"), float("-inf"), HUGE_TOKEN]))
    value = node["features"][name]
    if isinstance(value, list) and value:
        value[pick_index(draw, value)] = bad
    else:
        node["features"][name] = bad
    transforms = info.transforms.get(node["node_type"], {})
    if name not in transforms and name != LEARNABLE_EMBEDDING_KEY:  # a value the server ignores
        return Mutated(p, SAME)
    categorical = transforms.get(name) == "to_categorical"
    return Mutated(p, expect(OK, 411) if categorical else expect(411, words=(name, str(node["node_id"]))))


def feature_extreme(draw, p, info):
    pick = pick_feature(draw, p, lambda v: isinstance(v, int | float | list) and not isinstance(v, bool))
    if pick is None:
        return Mutated(p, SAME)
    i, name = pick
    extreme = draw(st.sampled_from([1e300, -1e300, 3.5e38, -3.5e38, 3e38, -3e38, 1e30, -1e30, 2**63 - 1, -(2**63),
                                    2**64 - 1, 2**70, -(2**70), 1e-300, 5e-324, -0.0, -1, -12345.5]))
    value = p["graph"]["nodes"][i]["features"][name]
    if isinstance(value, list) and value:
        value[pick_index(draw, value)] = extreme
    else:
        p["graph"]["nodes"][i]["features"][name] = extreme
    return Mutated(p, expect(OK, 411, 422, words=(name,)))


def set_edge_endpoint(draw, p, info):
    edges = p["graph"]["edges"]
    if not edges:
        return Mutated(p, SAME)
    i = pick_index(draw, edges)
    key = draw(st.sampled_from(["src_node_id", "dest_node_id"]))
    ntype = edges[i]["edge_type"][0 if key == "src_node_id" else 2]
    old, existing = edges[i][key], ids_of(p, ntype)
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
