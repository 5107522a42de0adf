"""Hostile values (issue 10) placed anywhere in a valid payload (for test_fuzz.py).

Kinds: numbers beyond the double range (a raw ``1e999`` token, a 400-digit integer literal),
the non-finite tokens ``NaN`` / ``Infinity`` as ids, nesting of 990-1,100 levels (around a
value or the whole document), 100 KB strings, control characters and lone surrogates. Each
lands on one *spot* (a feature value, an id, a type, the task, ...); the spot and the kind of
value decide the answer. The server must answer every one with an envelope (never a 5xx),
naming the problem where its text allows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.handler.mutation_kit import (
    BEYOND_DOUBLE,
    NON_FINITE_TOKENS,
    OK,
    RAW_TOKEN,
    SAME,
    ModelInfo,
    Mutated,
    expect,
    ids_of,
    long_text,
    pick_edge_feature,
    pick_feature,
    pick_index,
    rename_node,
    renamed,
)

NUMERIC_TRANSFORMS = frozenset({"no-op", "bucket_numerical", "max_min_norm", "rank_gauss", "standard"})
# Around a value at depth ~5, orjson's limit (1,024 levels) falls inside this range.
DEPTHS = (990, 1000, 1010, 1016, 1020, 1023, 1024, 1025, 1100)
CONTROL = "".join(map(chr, range(32))) + "\x7f"
SURROGATES = ("\ud800", "\udbff", "\udc00", "\udfff")


@dataclass(frozen=True)
class Value:
    """A hostile value: ``python`` is placed in the payload; ``raw`` (when set) replaces it in
    the body text. ``kind``: "number" (reads as a non-finite float), "deep" or "string"."""

    kind: str
    python: Any
    raw: str | None = None


def _spots(p: dict, info: ModelInfo) -> list[str]:
    """The spots this payload has."""
    spots = ["node_id", "node_type", "target_type", "target_id", "task", "version", "extra_key"]
    if any(n.get("features") for n in p["graph"]["nodes"]):
        spots.append("feature")
    if p["graph"]["edges"]:
        spots += ["edge_endpoint", "edge_type_part"]
        if info.edge_transforms and any(e.get("features") for e in p["graph"]["edges"]):
            spots.append("edge_feature")
    return spots


def place(draw, p: dict, info: ModelInfo, value: Value, spots: list[str] | None = None) -> Mutated:
    """Puts ``value`` on a spot drawn from ``spots`` (default: every spot the payload has) and
    says what the answer must be."""
    spot = draw(st.sampled_from(spots or _spots(p, info)))
    slot = RAW_TOKEN if value.raw is not None else value.python
    raw = {RAW_TOKEN: value.raw} if value.raw is not None else {}
    if spot == "node_id" and value.kind == "string":
        nodes = p["graph"]["nodes"]
        ntype, old = (nodes[i := pick_index(draw, nodes)]["node_type"], nodes[i]["node_id"])
        if value.python not in ids_of(p, ntype):
            # A strange but valid id: the same answer. Cut so that the body, which repeats it
            # wherever the node is named (12 bytes per escaped emoji), stays within the limit.
            refs = 1 + json.dumps(p).count(json.dumps(old))
            new = value.python[: 300_000 // refs]
            rename_node(p, ntype, old, new)
            return Mutated(p, renamed({(ntype, old): new}), raw_values=raw)
    statuses, words = _put(draw, p, info, spot, slot, value.kind == "number")
    if value.kind == "deep":  # may also be too deep to read; its echo is not checked
        return Mutated(p, expect(*statuses, 400), raw_values=raw)
    if statuses == (OK,):
        return Mutated(p, SAME, raw_values=raw)
    return Mutated(p, expect(*statuses, words=words), raw_values=raw)


def _put(draw, p: dict, info: ModelInfo, spot: str, slot: Any,
         number: bool) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Writes ``slot`` at ``spot``; returns the statuses allowed and the words the error must
    contain (``number``: the value reads as a non-finite number; else a string or deep)."""
    nodes, edges, targets = p["graph"]["nodes"], p["graph"]["edges"], p["targets"]
    if spot == "feature":
        i, name = pick_feature(draw, p, lambda v: True)
        feats = nodes[i]["features"]
        if isinstance(feats[name], list) and feats[name] and draw(st.booleans()):
            feats[name][pick_index(draw, feats[name])] = slot
        else:
            feats[name] = slot
        if info.transforms.get(nodes[i]["node_type"], {}).get(name) in NUMERIC_TRANSFORMS:
            return (411,), (name,)
        return (OK, 411), ()  # categorical or text: a string may be a valid value
    if spot == "edge_feature":
        i, name = pick_edge_feature(draw, p, lambda v: True)
        edges[i]["features"][name] = slot
        return (411,), (name,)
    if spot == "node_id":
        i = pick_index(draw, nodes)
        nodes[i]["node_id"] = slot
        return (411,), (("node_id",) if number else ())
    if spot == "node_type":
        i = pick_index(draw, nodes)
        nodes[i]["node_type"] = slot
        return (411,), (f"graph.nodes[{i}]",)
    if spot == "target_type":
        i = pick_index(draw, targets)
        if info.edge_targets:
            targets[i]["edge_type"][draw(st.integers(0, 2))] = slot
            return ((400,), ("edge_type",)) if number else ((403,), ("target edge type",))
        targets[i]["node_type"] = slot
        return ((400,), ("node_type",)) if number else ((403,), ("target node type",))
    if spot == "target_id":
        i = pick_index(draw, targets)
        key = draw(st.sampled_from(["src_node_id", "dest_node_id"])) if info.edge_targets else "node_id"
        targets[i][key] = slot
        return ((400,), (key,)) if number else ((404,), ("node ID",))
    if spot == "edge_endpoint":
        i = pick_index(draw, edges)
        key = draw(st.sampled_from(["src_node_id", "dest_node_id"]))
        edges[i][key] = slot
        return (411,), ((key,) if number else ("edge type",))
    if spot == "edge_type_part":
        i = pick_index(draw, edges)
        edges[i]["edge_type"][draw(st.integers(0, 2))] = slot
        return (411,), (f"graph.edges[{i}]",)
    if spot == "task":
        p["gml_task"] = slot
        return (421,), ("task",)
    p["version" if spot == "version" else "__gs_fuzz_extra__"] = slot
    return (OK,), ()


def beyond_double(draw, p, info):
    """A number beyond the double range written into the body: ``1e999``, ``-1e999``, a
    400-digit integer (both signs), ``1.5e308000``: it reads as an infinity."""
    raw = draw(st.sampled_from(BEYOND_DOUBLE))
    return place(draw, p, info, Value("number", None, raw))


def non_finite_id(draw, p, info):
    """A node id, target endpoint or edge endpoint that is ``NaN``, ``Infinity``,
    ``-Infinity`` or beyond the double range: never an id (411 in the graph, 400 in targets)."""
    raw = draw(st.sampled_from((*NON_FINITE_TOKENS, *BEYOND_DOUBLE[:3])))
    spots = ["node_id", "target_id", *(["edge_endpoint"] if p["graph"]["edges"] else [])]
    return place(draw, p, info, Value("number", None, raw), spots)


def deep_value(draw, p, info):
    """A value nested 990-1,100 levels deep (lists or objects), or the whole document inside
    1,000-1,100 levels: a 400 when too deep to read, else the spot's answer."""
    depth = draw(st.sampled_from(DEPTHS))
    opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    if draw(st.integers(0, 5)) == 0:  # around the document
        text = json.dumps(p)
        body = (opening * depth + text + closing * depth).encode()
        return Mutated(p, expect(400 if opening == "[" else 421, 400), raw=body)
    return place(draw, p, info, Value("deep", None, opening * depth + "1" + closing * depth))


def long_string(draw, p, info):
    """A 100 KB string (plain, control characters, emoji, line separators, accents) as an id,
    a type, a feature value, the task, a feature name or the content type."""
    text = long_text(draw(st.sampled_from(["x", CONTROL, "\U0001f600", "\u2028é", "a\"\\"])))
    return _string_anywhere(draw, p, info, text)


def control_chars(draw, p, info):
    """Strings of control characters (NUL included), short or 5,000 long, anywhere."""
    text = draw(st.text(alphabet=CONTROL, min_size=1, max_size=40))
    if draw(st.booleans()):
        text = (text * (5000 // len(text) + 1))[:5000]
    return _string_anywhere(draw, p, info, text)


def lone_surrogate(draw, p, info):
    """Strings holding lone surrogates (legal JSON escapes, not UTF-8), short or 5,000 long,
    anywhere; the body is sent with ``\\uXXXX`` escapes."""
    text = draw(st.text(min_size=0, max_size=8)) + draw(st.sampled_from(SURROGATES))
    if draw(st.booleans()):
        text = (text * (5000 // len(text) + 1))[:5000]
    return _string_anywhere(draw, p, info, text)


def _string_anywhere(draw, p: dict, info: ModelInfo, text: str) -> Mutated:
    where = draw(st.sampled_from(["spot", "spot", "spot", "feature_name", "content_type"]))
    if where == "content_type":
        return Mutated(p, expect(400, words=("content type",)), content_type=text)
    if where == "feature_name":
        # An unknown feature on every node of one type: ignored (the name cut so that the
        # body stays within the request limit).
        nodes = p["graph"]["nodes"]
        ntype = nodes[pick_index(draw, nodes)]["node_type"]
        holders = [n["features"] for n in nodes if n["node_type"] == ntype and isinstance(n.get("features"), dict)]
        for feats in holders:
            feats[text[: 200_000 // len(holders)]] = 1.0
        return Mutated(p, SAME)
    return place(draw, p, info, Value("string", text))
