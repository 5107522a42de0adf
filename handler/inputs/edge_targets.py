"""The ``build`` stage for edge targets: target lookup (403 / 404) and the message-passing rule.

An edge target names a relation and its two endpoints by payload node id. The relation must
be one the model predicts, in its stored direction (403 otherwise: the reverse relation,
another relation, an unknown one); each endpoint must be a payload node of the relation's
source / destination node type (404). The pair need not be an edge of the payload. Then the
model's message-passing rule (``handler.inputs.edge_message_passing``) drops the payload edges that
training kept out of message passing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from handler.contract.errors import InternalError, TargetEdgeTypeError, TargetNodeIdError
from handler.contract.names import CanonicalEtype
from handler.inputs.edge_message_passing import MessagePassingRule, apply_kept, kept_edges
from handler.request.parsed import EdgeTarget, Target

EdgeIndex = tuple[torch.Tensor, torch.Tensor]


def edge_target_pairs(
    targets: Sequence[Target],
    node_index: Mapping[str, Mapping[Any, int]],
    predicted: Sequence[CanonicalEtype],
) -> tuple[tuple[int, int], ...]:
    """Local (source, destination) node indices of every edge target, in ``targets`` order.

    Args:
        targets: the request's targets (all ``EdgeTarget``).
        node_index: node type -> payload node id -> local index.
        predicted: the relations the model predicts.

    Returns:
        One ``(src, dst)`` pair per listed target (duplicates kept).

    Raises:
        TargetEdgeTypeError: 403, a relation the model does not predict.
        TargetNodeIdError: 404, an endpoint that is not a payload node of its type.
    """
    pairs = []
    for target in targets:
        if not isinstance(target, EdgeTarget):
            raise InternalError(f"a {type(target).__name__} reached the edge-target lookup")
        etype = target.edge_type
        if etype not in predicted:
            raise TargetEdgeTypeError(
                f"the target edge type: {list(etype)} is not predicted by the model; the model "
                f"predicts edge type(s): {', '.join(str(list(et)) for et in predicted)}"
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
        pairs.append((ends[0], ends[1]))
    return tuple(pairs)


def pairs_by_relation(
    targets: Sequence[Target], pairs: Sequence[tuple[int, int]]
) -> dict[CanonicalEtype, EdgeIndex]:
    """The target pairs grouped by relation, as ``(src, dst)`` index tensors.

    Shapes:
        -> {relation: ([k], [k])}.
    """
    grouped: dict[CanonicalEtype, tuple[list[int], list[int]]] = {}
    for target, (src, dst) in zip(targets, pairs, strict=True):
        assert isinstance(target, EdgeTarget)
        srcs, dsts = grouped.setdefault(target.edge_type, ([], []))
        srcs.append(src)
        dsts.append(dst)
    return {et: (torch.tensor(s, dtype=torch.int64), torch.tensor(d, dtype=torch.int64))
            for et, (s, d) in grouped.items()}


def message_passing_graph(
    rule: MessagePassingRule,
    edges: Mapping[CanonicalEtype, EdgeIndex],
    edge_inputs: Mapping[CanonicalEtype, torch.Tensor],
    targets: Sequence[Target],
    pairs: Sequence[tuple[int, int]],
) -> tuple[dict[CanonicalEtype, EdgeIndex], dict[CanonicalEtype, torch.Tensor]]:
    """The payload edges (and their model inputs) that carry messages under ``rule``.

    Args:
        rule: the model's rule.
        edges: every model relation -> ``(src, dst)`` local indices.
        edge_inputs: relation -> per-edge model inputs.
        targets: the request's edge targets.
        pairs: ``edge_target_pairs``' output.

    Returns:
        The kept edges of every relation (maybe none) and the matching edge inputs.
    """
    if rule.drops_nothing:
        return dict(edges), dict(edge_inputs)
    kept = kept_edges(rule, edges, pairs_by_relation(targets, pairs))
    return apply_kept(edges, edge_inputs, kept)
