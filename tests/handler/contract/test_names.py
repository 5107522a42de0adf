"""The shared names: a relation's label in texts."""

from __future__ import annotations

from handler.contract.names import relation_label


def test_relation_label_is_the_json_list_made_once():
    etype = ("user", "rates", "movie")
    assert relation_label(etype) == "edge type ['user', 'rates', 'movie']" == f"edge type {list(etype)}"
    assert relation_label(("user", "rates", "movie")) is relation_label(etype)
