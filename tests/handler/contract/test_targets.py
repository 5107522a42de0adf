"""contract/targets.py: the target kind decided once, and what each kind owns."""

from __future__ import annotations

import pytest

from handler.contract.errors import (
    PayloadFormatError,
    TargetEdgeTypeError,
    TargetNodeIdError,
    TargetNodeTypeError,
)
from handler.contract.names import EDGE_TARGET_TASKS, NODE_TASKS
from handler.contract.targets import (
    EdgeTarget,
    EdgeTargets,
    MessagePassingRule,
    NodeTarget,
    NodeTargets,
    kind_of_task,
)

WRITES = ("author", "writing", "paper")


def test_the_kind_follows_the_task():
    assert all(kind_of_task(t) is NodeTargets for t in NODE_TASKS)
    assert all(kind_of_task(t) is EdgeTargets for t in EDGE_TARGET_TASKS)


def test_node_targets_read_locate_key_and_answer():
    kind = NodeTargets(["paper"])
    target = kind.read(0, {"node_type": "paper", "node_id": "p1"})
    assert target == NodeTarget("paper", "p1") and kind.message_rule.drops_nothing
    assert kind.locate([target], {"paper": {"p0": 0, "p1": 1}}) == ((1,),)
    assert kind.batch_key(target, (1,), {"paper": 10, "author": 3}) == ("paper", (11,))
    assert kind.result_entry(target, [0.5]) == {"node_type": "paper", "node_id": "p1", "prediction": [0.5]}
    with pytest.raises(TargetNodeTypeError):
        kind.locate([NodeTarget("author", "a")], {"author": {"a": 0}})
    with pytest.raises(TargetNodeIdError):
        kind.locate([NodeTarget("paper", "p9")], {"paper": {"p0": 0}})
    with pytest.raises(PayloadFormatError):
        kind.read(0, {"edge_type": list(WRITES), "src_node_id": "a", "dest_node_id": "p"})


def test_edge_targets_read_locate_key_and_answer():
    kind = EdgeTargets([WRITES], MessagePassingRule(removed_etypes=frozenset({WRITES})))
    target = kind.read(0, {"edge_type": list(WRITES), "src_node_id": "a1", "dest_node_id": "p0"})
    assert target == EdgeTarget(WRITES, "a1", "p0") and not kind.message_rule.drops_nothing
    index = {"author": {"a0": 0, "a1": 1}, "paper": {"p0": 0}}
    assert kind.locate([target], index) == ((1, 0),)
    assert kind.batch_key(target, (1, 0), {"author": 5, "paper": 7}) == (WRITES, (6, 7))
    assert kind.result_entry(target, [1.0]) == {"edge_type": list(WRITES), "src_node_id": "a1",
                                                "dest_node_id": "p0", "prediction": [1.0]}
    with pytest.raises(TargetEdgeTypeError):
        kind.locate([EdgeTarget(("paper", "writing-rev", "author"), "p0", "a1")], index)
    with pytest.raises(TargetNodeIdError):
        kind.locate([EdgeTarget(WRITES, "a9", "p0")], index)
