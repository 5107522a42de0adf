"""The toolkit of the payload mutations (``mutations_structure``, ``mutations_values``,
``mutations_hostile``, ``mutations_edge_targets``).

A mutation takes a hypothesis ``draw``, a decoded valid payload (mutated in place) and the
model's ``ModelInfo``, and returns what to send and an ``Expect``: the statuses allowed and the
words the error must contain (what makes the message name the problem). ``junk`` draws a JSON
value of any kind. Values ``json.dumps`` cannot write (``1e999``, a 400-digit integer, deep
nesting) are placed as string stand-ins and replaced in the body text (``Mutated.raw_values``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from handler import RealtimePredictor

OK = 200
# Raw-text stand-ins, replaced in the serialized body (json.dumps cannot write them).
HUGE_TOKEN, DEEP_TOKEN = "__gs_fuzz_huge__", "__gs_fuzz_deep__"
RAW_TOKEN = "__gs_fuzz_raw__"
# Numbers beyond the double range, as raw JSON text: 1e999 reads as inf, a 400-digit integer
# overflows float conversion; 1e-999 underflows to 0.0 (a valid value).
BEYOND_DOUBLE = ("1e999", "-1e999", "1" + "0" * 400, "-1" + "0" * 400, "1.5e308" + "0" * 3)
NON_FINITE_TOKENS = ("NaN", "Infinity", "-Infinity")
LONG_CHARS = 100_000  # a "long string": 100 KB


@dataclass(frozen=True)
class Expect:
    """What a mutated request must get.

    Attributes:
        statuses: the allowed status codes.
        words: strings the error must contain when the status is not 200 (422, float32
            overflow in the model, names no feature: its text is checked instead).
        renamed: when not None, the answer must equal the base payload's with node ids renamed
            by this map (``(node type, old id) -> new id``); ``{}`` means "same answer".
        order: with ``renamed``: the expected results are the base answer's results at these
            indices (duplicated or reordered targets); None: the base results as they are.
    """

    statuses: frozenset[int]
    words: tuple[str, ...] = ()
    renamed: dict[tuple[str, Any], Any] | None = None
    order: tuple[int, ...] | None = None


def expect(*statuses: int, words: tuple[str, ...] = ()) -> Expect:
    return Expect(frozenset(statuses), tuple(words))


SAME = Expect(frozenset({OK}), renamed={})


def renamed(mapping: dict[tuple[str, Any], Any]) -> Expect:
    """The base answer with node ids renamed by ``mapping`` (``(node type, old) -> new``)."""
    return Expect(frozenset({OK}), renamed=mapping)


def reordered(order: tuple[int, ...]) -> Expect:
    """The base answer's results at ``order`` (e.g. a duplicated target repeats its row)."""
    return Expect(frozenset({OK}), renamed={}, order=order)


@dataclass(frozen=True)
class ModelInfo:
    """What the mutations need to know about the served model."""

    task: str
    ntypes: tuple[str, ...]
    target_ntypes: tuple[str, ...]  # empty for edge models
    etypes: tuple[tuple[str, str, str], ...]  # relations a payload may carry (not derived ones)
    transforms: dict[str, dict[str, str]]  # node type -> feature -> transform name (features transformed)
    target_etypes: tuple[tuple[str, str, str], ...] = ()  # relations an edge model predicts
    edge_transforms: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)

    @property
    def edge_targets(self) -> bool:
        """Whether targets are edges (edge classification / regression, link prediction)."""
        return bool(self.target_etypes)

    @classmethod
    def of(cls, predictor: RealtimePredictor) -> ModelInfo:
        schema, config = predictor.schema, predictor.config
        applied = predictor.builder.transformed_node_features  # the rest are ignored (not transformed)
        return cls(
            task=config.task_type,
            ntypes=tuple(schema.ntypes),
            target_ntypes=tuple(config.target_ntypes),
            etypes=tuple(et for et in schema.canonical_etypes if et not in schema.reverse_of),
            transforms={nt: {s.name: s.transform_name for s in specs if s.name in applied.get(nt, ())}
                        for nt, specs in schema.node_features.items()},
            target_etypes=tuple(config.edge_task.target_etypes) if config.edge_task is not None else (),
            edge_transforms={et: {s.name: s.transform_name for s in specs}
                             for et, specs in schema.edge_features.items() if specs},
        )


@dataclass
class Mutated:
    """A request to send: the payload (or raw body), its content type and its expectation."""

    payload: Any
    expect: Expect
    content_type: str = "application/json"
    raw: bytes | None = None
    ascii_only: bool = field(default=True)
    raw_values: dict[str, str] = field(default_factory=dict)  # stand-in string -> raw JSON text

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        text = json.dumps(self.payload, allow_nan=True, ensure_ascii=self.ascii_only)
        for token, raw in {HUGE_TOKEN: "1e999", **self.raw_values}.items():
            text = text.replace(f'"{token}"', raw)
        return text.encode("utf-8")


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


def pick_index(draw, items: list) -> int:
    return draw(st.integers(0, len(items) - 1))


def ids_of(payload: dict, ntype: str) -> list[Any]:
    return [n["node_id"] for n in payload["graph"]["nodes"] if n["node_type"] == ntype]


def pick_feature(draw, payload: dict, kinds: Callable[[Any], bool]) -> tuple[int, str] | None:
    """A (node index, feature name) whose value satisfies ``kinds``, or None."""
    nodes = payload["graph"]["nodes"]
    options = [(i, k) for i, n in enumerate(nodes) for k, v in n.get("features", {}).items() if kinds(v)]
    return draw(st.sampled_from(options)) if options else None


def pick_edge_feature(draw, payload: dict, kinds: Callable[[Any], bool]) -> tuple[int, str] | None:
    """An (edge index, feature name) whose value satisfies ``kinds``, or None."""
    edges = payload["graph"]["edges"]
    options = [(i, k) for i, e in enumerate(edges) if isinstance(e.get("features"), dict)
               for k, v in e["features"].items() if kinds(v)]
    return draw(st.sampled_from(options)) if options else None


def rename_node(payload: dict, ntype: str, old: Any, new: Any) -> None:
    """Renames one node everywhere: ``graph.nodes``, edge endpoints, node and edge targets."""
    for node in payload["graph"]["nodes"]:
        if node["node_type"] == ntype and node["node_id"] == old:
            node["node_id"] = new
    for item in (*payload["graph"]["edges"], *payload["targets"]):
        if "edge_type" in item:
            src_t, _, dst_t = item["edge_type"]
            if src_t == ntype and item["src_node_id"] == old:
                item["src_node_id"] = new
            if dst_t == ntype and item["dest_node_id"] == old:
                item["dest_node_id"] = new
        elif item["node_type"] == ntype and item["node_id"] == old:
            item["node_id"] = new


def long_text(alphabet: str = "x") -> str:
    """A 100 KB string (``LONG_CHARS`` characters) of ``alphabet`` repeated."""
    return (alphabet * (LONG_CHARS // len(alphabet) + 1))[:LONG_CHARS]


def as_read(value: Any) -> Any:
    """A JSON integer as the server reads it: beyond 64 bits it is a float (orjson's rule)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return float(value)
    return value
