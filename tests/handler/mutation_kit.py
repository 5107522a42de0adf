"""The toolkit of the payload mutations (``mutations_structure``, ``mutations_values``).

A mutation takes a hypothesis ``draw``, a decoded valid payload (mutated in place) and the
model's ``ModelInfo``, and returns what to send and an ``Expect``: the statuses allowed and the
words the error must contain (what makes the message name the problem). ``junk`` draws a JSON
value of any kind.
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
    etypes: tuple[tuple[str, str, str], ...]  # relations a payload may carry (not derived ones)
    transforms: dict[str, dict[str, str]]  # node type -> feature -> transform name

    @classmethod
    def of(cls, predictor: RealtimePredictor) -> ModelInfo:
        schema = predictor.schema
        return cls(
            task=predictor.config.task_type,
            ntypes=tuple(schema.ntypes),
            target_ntypes=tuple(predictor.config.target_ntypes),
            etypes=tuple(et for et in schema.canonical_etypes if et not in schema.reverse_of),
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


def pick_index(draw, items: list) -> int:
    return draw(st.integers(0, len(items) - 1))


def ids_of(payload: dict, ntype: str) -> list[Any]:
    return [n["node_id"] for n in payload["graph"]["nodes"] if n["node_type"] == ntype]


def pick_feature(draw, payload: dict, kinds: Callable[[Any], bool]) -> tuple[int, str] | None:
    """A (node index, feature name) whose value satisfies ``kinds``, or None."""
    nodes = payload["graph"]["nodes"]
    options = [(i, k) for i, n in enumerate(nodes) for k, v in n.get("features", {}).items() if kinds(v)]
    return draw(st.sampled_from(options)) if options else None


def as_read(value: Any) -> Any:
    """A JSON integer as the server reads it: beyond 64 bits it is a float (orjson's rule)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return float(value)
    return value
