"""handler.request.grouping's node index: a type whose ids are known distinct is indexed when read."""

from __future__ import annotations

import pytest

from handler.contract.errors import GraphConstructionError
from handler.request.grouping import TypeGroup, index_nodes


def _group(ntype: str, ids: list[object], distinct: bool) -> TypeGroup:
    group = TypeGroup(f"node type {ntype}, node id")
    group.ids = ids
    group.distinct_ids = distinct
    return group


def test_distinct_ids_are_indexed_when_read_as_the_others_are():
    ids = {"paper": ["p1", "p2", "p3"], "author": ["a1", 7], "subject": ["s1"]}
    eager = index_nodes({nt: _group(nt, i, False) for nt, i in ids.items()})
    lazy = index_nodes({nt: _group(nt, i, True) for nt, i in ids.items()})
    assert lazy[0] == eager[0] == ids
    assert list(lazy[1]) == list(eager[1]) == list(ids) and len(lazy[1]) == 3
    assert lazy[1]["author"] == {"a1": 0, 7: 1} and lazy[1].get("paper") == {"p1": 0, "p2": 1, "p3": 2}
    assert lazy[1] == eager[1]
    assert lazy[1].get("venue") is None and "venue" not in lazy[1]
    with pytest.raises(KeyError):
        lazy[1]["venue"]  # noqa: B018


def test_an_id_listed_twice_is_reported_where_it_is_not_known_distinct():
    with pytest.raises(GraphConstructionError, match="node type paper: node id p1 is listed twice"):
        index_nodes({"paper": _group("paper", ["p1", "p1"], False)})
