"""What a request predicts: its targets, and the target kind (node or edge) modelled once.

Node tasks predict nodes (``{"node_type": ..., "node_id": ...}``); edge tasks (classification,
regression, link prediction) predict (source, destination) pairs of a relation (GraphStorm's
real-time spec: ``{"edge_type": [src_type, relation, dst_type], "src_node_id": ...,
"dest_node_id": ...}``). Everything that differs between the two lives in one ``TargetKind``
class each, chosen once per model by ``target_kind`` (``kind_of_task`` for the parse stage):

* ``read``: a ``targets`` entry to a typed target (parse; 400 / 402);
* ``locate``: each target's position in the payload graph, local node indices (build; 403 / 404);
* ``message_rule``: which payload edges carry messages (build; ``MessagePassingRule``);
* ``batch_key``: a target's output key and its position in a batch's disjoint union (forward);
* ``result_entry`` / ``describe``: its entry of the response's ``results``, and its name in a
  422 (envelope).

A position is a tuple of local node indices, one per endpoint: ``(node,)`` for a node target,
``(source, destination)`` for an edge target; the model's head reads the same tuples.

Torch-free and Python 3.9 code.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

from handler.contract.edge_task_config import EdgeTaskConfig
from handler.contract.errors import (
    MissingFieldDataError,
    PayloadFormatError,
    TargetEdgeTypeError,
    TargetNodeIdError,
    TargetNodeTypeError,
    echo,
)
from handler.contract.names import EDGE_TARGET_TASKS, CanonicalEtype, NodeId

# A target's local node indices in its payload graph (or in a batch's disjoint union).
Position = tuple[int, ...]
# What a model output is keyed by: the node type of a node target, the relation of an edge target.
TargetKey = Union[str, CanonicalEtype]  # noqa: UP007 (Python 3.9)


@dataclass(frozen=True)
class NodeTarget:
    """One entry of ``targets`` of a node task: a node to predict."""

    node_type: str
    node_id: NodeId


@dataclass(frozen=True)
class EdgeTarget:
    """One entry of ``targets`` of an edge task: a (source, destination) pair of a relation."""

    edge_type: CanonicalEtype
    src_node_id: NodeId
    dest_node_id: NodeId


Target = Union[NodeTarget, EdgeTarget]  # noqa: UP007 (Python 3.9)


@dataclass(frozen=True)
class MessagePassingRule:
    """The relations and pairs an edge model's message passing leaves out (GraphStorm's
    training rule; applied by ``handler.inputs.edge_message_passing``).

    Attributes:
        removed_etypes: relations none of whose edges carry messages.
        excluded_pairs: target relation -> its reverse relation (or ``None``) for the
            per-target exclusion; empty when no pair is excluded.
    """

    removed_etypes: frozenset[CanonicalEtype] = frozenset()
    excluded_pairs: Mapping[CanonicalEtype, CanonicalEtype | None] = field(default_factory=dict)

    @classmethod
    def from_config(cls, edge_task: EdgeTaskConfig) -> MessagePassingRule:
        """The rule GraphStorm's training of ``edge_task`` used.

        Args:
            edge_task: the model's edge-task config.

        Returns:
            The rule.
        """
        targets = edge_task.target_etypes
        reverse = edge_task.reverse_etypes
        if edge_task.remove_target_edge_type:
            removed = set(targets) | {reverse[et] for et in targets if et in reverse}
            return cls(removed_etypes=frozenset(removed), excluded_pairs={})
        if edge_task.exclude_training_targets:
            return cls(removed_etypes=frozenset(), excluded_pairs={et: reverse.get(et) for et in targets})
        return cls(removed_etypes=frozenset(), excluded_pairs={})

    @property
    def drops_nothing(self) -> bool:
        """Whether every edge carries messages."""
        return not self.removed_etypes and not self.excluded_pairs


class TargetKind(ABC):
    """Node or edge targets of one model (see the module docstring).

    Attributes:
        word: "node" or "edge" (error texts).
        predicted: the node types / relations the model predicts.
        message_rule: which payload edges carry messages.
    """

    word: ClassVar[str]
    predicted: tuple[Any, ...]
    message_rule: MessagePassingRule

    @staticmethod
    @abstractmethod
    def read(index: int, item: Any) -> Target:
        """``targets[index]`` as a typed target (400 for a malformed one, 402 for an empty id)."""

    @abstractmethod
    def locate(self, targets: Sequence[Target], node_index: Mapping[str, Mapping[Any, int]]) -> tuple[Position, ...]:
        """Each target's position in the payload graph, in ``targets`` order (duplicates kept).

        Args:
            targets: the request's targets (all of this kind).
            node_index: node type -> payload node id -> local index.

        Raises:
            RealtimeError: 403 for a type or relation the model does not predict, 404 for a
                node that is not in the payload.
        """

    @abstractmethod
    def batch_key(self, target: Target, position: Position, offsets: Mapping[str, int]) -> tuple[TargetKey, Position]:
        """The target's output key and its position in a disjoint union whose node indices of
        each node type are offset by ``offsets``."""

    @abstractmethod
    def result_entry(self, target: Target, prediction: list[float]) -> dict[str, Any]:
        """The target's entry of the response's ``results`` (GraphStorm's spec)."""

    @abstractmethod
    def describe(self, target: Target) -> str:
        """The target in words (error texts)."""

    @property
    def arity(self) -> int:
        """Node indices per position (1 for nodes, 2 for edges)."""
        return 1 if self.word == "node" else 2


class NodeTargets(TargetKind):
    """Targets of node classification and regression: nodes of the predicted node types."""

    word = "node"

    def __init__(self, predicted: Sequence[str]) -> None:
        self.predicted = tuple(predicted)
        self.message_rule = MessagePassingRule()

    @staticmethod
    def read(index: int, item: Any) -> Target:
        if not isinstance(item, dict):
            raise PayloadFormatError(
                f'The Element of "targets" field should be a dictionary, but got {echo(item)}'
            )
        if "node_type" not in item or "node_id" not in item:
            raise PayloadFormatError(
                'The Element of "targets" field should be a dictionary that has both "node_type" '
                f'and "node_id" keys, but got {echo(item)}'
            )
        node_type = item["node_type"]
        if not isinstance(node_type, str):
            raise PayloadFormatError(f"targets[{index}].node_type must be a string, but got {echo(node_type)}")
        node_id = _target_id(item["node_id"], "node_id", f"targets[{index}], node type {node_type}")
        return NodeTarget(node_type, node_id)

    def locate(self, targets: Sequence[Target], node_index: Mapping[str, Mapping[Any, int]]) -> tuple[Position, ...]:
        positions = []
        for target in targets:
            assert isinstance(target, NodeTarget)  # parse read every target with this kind
            if target.node_type not in self.predicted:
                raise TargetNodeTypeError(
                    f"the target node type: {target.node_type} is not predicted by the model; the "
                    f"model predicts node type(s): {', '.join(self.predicted)}"
                )
            local = node_index.get(target.node_type)
            if local is None:
                raise TargetNodeTypeError(
                    f"the target node type: {target.node_type} does not exist in the payload graph."
                )
            if target.node_id not in local:
                raise TargetNodeIdError(
                    f"the target node ID: {target.node_id} does not exist in the payload graph "
                    f"(node type {target.node_type})."
                )
            positions.append((local[target.node_id],))
        return tuple(positions)

    def batch_key(self, target: Target, position: Position, offsets: Mapping[str, int]) -> tuple[TargetKey, Position]:
        assert isinstance(target, NodeTarget)
        return target.node_type, (offsets[target.node_type] + position[0],)

    def result_entry(self, target: Target, prediction: list[float]) -> dict[str, Any]:
        assert isinstance(target, NodeTarget)
        return {"node_type": target.node_type, "node_id": target.node_id, "prediction": prediction}

    def describe(self, target: Target) -> str:
        assert isinstance(target, NodeTarget)
        return f"node type {target.node_type}, node id {target.node_id}"


class EdgeTargets(TargetKind):
    """Targets of edge classification, regression and link prediction: (source, destination)
    pairs of a predicted relation, in its stored direction; the pair need not be a payload edge."""

    word = "edge"

    def __init__(self, predicted: Sequence[CanonicalEtype], message_rule: MessagePassingRule) -> None:
        self.predicted = tuple(predicted)
        self.message_rule = message_rule

    @staticmethod
    def read(index: int, item: Any) -> Target:
        keys = ("edge_type", "src_node_id", "dest_node_id")
        if not isinstance(item, dict) or not all(k in item for k in keys):
            raise PayloadFormatError(
                f'Each element of the "targets" field should be an edge object with "edge_type", '
                f'"src_node_id" and "dest_node_id" keys, but targets[{index}] is {echo(item)}'
            )
        raw_type = item["edge_type"]
        if not (isinstance(raw_type, list) and len(raw_type) == 3 and all(isinstance(p, str) for p in raw_type)):
            raise PayloadFormatError(
                f"targets[{index}].edge_type must be a list of three strings [source node type, "
                f"relation, destination node type], but got {echo(raw_type)}"
            )
        edge_type = (raw_type[0], raw_type[1], raw_type[2])
        where = f"targets[{index}], edge type {list(edge_type)}"
        src = _target_id(item["src_node_id"], "src_node_id", where)
        dst = _target_id(item["dest_node_id"], "dest_node_id", where)
        return EdgeTarget(edge_type, src, dst)

    def locate(self, targets: Sequence[Target], node_index: Mapping[str, Mapping[Any, int]]) -> tuple[Position, ...]:
        positions = []
        for target in targets:
            assert isinstance(target, EdgeTarget)  # parse read every target with this kind
            etype = target.edge_type
            if etype not in self.predicted:
                raise TargetEdgeTypeError(
                    f"the target edge type: {list(etype)} is not predicted by the model; the model "
                    f"predicts edge type(s): {', '.join(str(list(et)) for et in self.predicted)}"
                )
            ends = []
            for side, ntype, node_id in (("source", etype[0], target.src_node_id),
                                         ("destination", etype[2], target.dest_node_id)):
                local = node_index.get(ntype, {})
                if node_id not in local:
                    raise TargetNodeIdError(
                        f"the target {side} node ID: {node_id} does not exist in the payload graph "
                        f"(node type {ntype}, target edge type {list(etype)})."
                    )
                ends.append(local[node_id])
            positions.append((ends[0], ends[1]))
        return tuple(positions)

    def batch_key(self, target: Target, position: Position, offsets: Mapping[str, int]) -> tuple[TargetKey, Position]:
        assert isinstance(target, EdgeTarget)
        etype = target.edge_type
        return etype, (offsets[etype[0]] + position[0], offsets[etype[2]] + position[1])

    def result_entry(self, target: Target, prediction: list[float]) -> dict[str, Any]:
        assert isinstance(target, EdgeTarget)  # GraphStorm's real-time spec: the entry echoes the target
        return {"edge_type": list(target.edge_type), "src_node_id": target.src_node_id,
                "dest_node_id": target.dest_node_id, "prediction": prediction}

    def describe(self, target: Target) -> str:
        assert isinstance(target, EdgeTarget)
        return f"edge type {list(target.edge_type)}, edge {target.src_node_id} -> {target.dest_node_id}"


def kind_of_task(task_type: str) -> type[TargetKind]:
    """Node or edge targets: the one place a task's target kind is decided."""
    return EdgeTargets if task_type in EDGE_TARGET_TASKS else NodeTargets


def target_kind(task_type: str, target_ntypes: Sequence[str], edge_task: EdgeTaskConfig | None) -> TargetKind:
    """The target kind of a model (its ``ModelConfig``'s ``task_type``, ``target_ntypes``,
    ``edge_task``)."""
    if kind_of_task(task_type) is EdgeTargets:
        if edge_task is None:
            raise ValueError(f"{task_type} needs an edge-task config")
        return EdgeTargets(edge_task.target_etypes, MessagePassingRule.from_config(edge_task))
    return NodeTargets(target_ntypes)


def _target_id(value: Any, key: str, where: str) -> NodeId:
    """A target's node id: a non-empty string or a finite number (402 for null or "")."""
    if value is None or value == "":
        raise MissingFieldDataError(key, where)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise PayloadFormatError(f"{where}: {key} must be a string or a number, but got {echo(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadFormatError(f"{where}: {key} must be a finite number, but got {value}")
    return value
