"""``handler.inputs.edge_message_passing``: which payload edges carry messages for an edge model."""

from __future__ import annotations

import torch

from handler.contract.edge_task_config import EdgeTaskConfig
from handler.inputs.edge_message_passing import MessagePassingRule, apply_kept, kept_edges

CITED = ("paper", "cited", "paper")
CITED_REV = ("paper", "cited-rev", "paper")
WRITES = ("author", "writing", "paper")
WRITES_REV = ("paper", "writing-rev", "author")


def _t(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


def _task(**kwargs) -> EdgeTaskConfig:
    defaults = {"task_type": "edge_regression", "target_etypes": (CITED,), "reverse_etypes": {CITED: CITED_REV}}
    return EdgeTaskConfig(**{**defaults, **kwargs})


EDGES = {
    # 0 -> 1 twice (a multi-edge), 1 -> 0, 2 -> 1
    CITED: (_t(0, 0, 1, 2), _t(1, 1, 0, 1)),
    CITED_REV: (_t(1, 1, 0, 1), _t(0, 0, 1, 2)),
    WRITES: (_t(0, 1), _t(1, 1)),
    WRITES_REV: (_t(1, 1), _t(0, 1)),
}


def test_rule_from_config() -> None:
    removing = MessagePassingRule.from_config(_task(task_type="edge_classification", remove_target_edge_type=True))
    assert removing.removed_etypes == {CITED, CITED_REV}
    assert not removing.excluded_pairs
    excluding = MessagePassingRule.from_config(_task(remove_target_edge_type=False))
    assert excluding.excluded_pairs == {CITED: CITED_REV}
    assert not excluding.removed_etypes
    keep_all = MessagePassingRule.from_config(_task(exclude_training_targets=False))
    assert keep_all.drops_nothing
    no_reverse = MessagePassingRule.from_config(_task(reverse_etypes={}))
    assert no_reverse.excluded_pairs == {CITED: None}


def test_remove_target_edge_type_drops_the_relation_and_its_reverse() -> None:
    rule = MessagePassingRule.from_config(_task(remove_target_edge_type=True))
    kept = kept_edges(rule, EDGES, {CITED: (_t(2), _t(0))})
    assert kept[CITED].tolist() == [False] * 4
    assert kept[CITED_REV].tolist() == [False] * 4
    assert kept[WRITES] is None and kept[WRITES_REV] is None


def test_exclude_training_targets_drops_the_pair_in_both_directions() -> None:
    rule = MessagePassingRule.from_config(_task())
    kept = kept_edges(rule, EDGES, {CITED: (_t(0), _t(1))})
    # every 0 -> 1 edge of cited (both parallel edges), and 1 -> 0 of cited-rev; not cited 1 -> 0
    assert kept[CITED].tolist() == [False, False, True, True]
    assert kept[CITED_REV].tolist() == [False, False, True, True]
    assert kept[WRITES] is None


def test_a_pair_that_is_not_an_edge_drops_nothing() -> None:
    rule = MessagePassingRule.from_config(_task())
    kept = kept_edges(rule, EDGES, {CITED: (_t(2), _t(0))})
    assert kept[CITED].all() and kept[CITED_REV].all()


def test_several_targets_and_duplicates() -> None:
    rule = MessagePassingRule.from_config(_task())
    kept = kept_edges(rule, EDGES, {CITED: (_t(0, 2, 0), _t(1, 1, 1))})
    assert kept[CITED].tolist() == [False, False, True, False]
    assert kept[CITED_REV].tolist() == [False, False, True, False]


def test_bipartite_relation_uses_its_own_node_types() -> None:
    rule = MessagePassingRule.from_config(_task(target_etypes=(WRITES,), reverse_etypes={WRITES: WRITES_REV}))
    kept = kept_edges(rule, EDGES, {WRITES: (_t(1), _t(1))})
    assert kept[WRITES].tolist() == [True, False]
    assert kept[WRITES_REV].tolist() == [True, False]  # paper 1 -> author 1
    assert kept[CITED] is None


def test_empty_relations_and_missing_targets() -> None:
    rule = MessagePassingRule.from_config(_task())
    empty = {CITED: (_t(), _t()), CITED_REV: (_t(), _t())}
    assert kept_edges(rule, empty, {CITED: (_t(0), _t(1))}) == {CITED: None, CITED_REV: None}
    assert kept_edges(rule, EDGES, {}) == dict.fromkeys(EDGES)


def test_apply_kept_slices_edges_and_their_inputs() -> None:
    rule = MessagePassingRule.from_config(_task())
    kept = kept_edges(rule, EDGES, {CITED: (_t(0), _t(1))})
    feats = {CITED: torch.arange(8.0).reshape(4, 2), WRITES: torch.ones(2, 3)}
    edges, inputs = apply_kept(EDGES, feats, kept)
    assert edges[CITED][0].tolist() == [1, 2] and edges[CITED][1].tolist() == [0, 1]
    assert inputs[CITED].tolist() == [[4.0, 5.0], [6.0, 7.0]]
    assert inputs[WRITES] is feats[WRITES]
    assert edges[WRITES] == EDGES[WRITES]
    removed, _ = apply_kept(EDGES, {}, kept_edges(
        MessagePassingRule.from_config(_task(remove_target_edge_type=True)), EDGES, {}))
    assert removed[CITED][0].numel() == 0 and CITED in removed  # the relation stays, empty


def test_pairs_matched_by_key_as_by_broadcasting(monkeypatch) -> None:
    import handler.inputs.edge_message_passing as emp

    gen = torch.Generator().manual_seed(0)
    src, dst = torch.randint(0, 30, (400,), generator=gen), torch.randint(0, 20, (400,), generator=gen)
    edges = {CITED: (src, dst), CITED_REV: (dst, src)}
    pairs = {CITED: (src[::7].clone(), dst[::7].clone())}
    rule = MessagePassingRule.from_config(_task())
    broadcast = kept_edges(rule, edges, pairs)
    monkeypatch.setattr(emp, "_BROADCAST_MAX", 0)
    keyed = kept_edges(rule, edges, pairs)
    for etype in edges:
        assert broadcast[etype] is not None and keyed[etype] is not None
        assert broadcast[etype].tolist() == keyed[etype].tolist()
        assert not broadcast[etype].all()
