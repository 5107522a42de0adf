"""The ``build`` stage's message-passing graph: the payload edges that carry messages.

The target kind's rule (``TargetKind.message_rule``; ``EdgeTargets``: GraphStorm's training
rule, ``handler.inputs.edge_message_passing``) drops the payload edges that training kept out of
message passing, given the targets' positions (``TargetKind.locate``). Node targets drop none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from handler.contract.names import CanonicalEtype
from handler.contract.targets import EdgeTarget, MessagePassingRule, Position, Target
from handler.inputs.edge_message_passing import apply_kept, kept_edges

EdgeIndex = tuple[torch.Tensor, torch.Tensor]


def pairs_by_relation(
    targets: Sequence[Target], pairs: Sequence[Position]
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
    return {et: (_int64(s), _int64(d)) for et, (s, d) in grouped.items()}


def _int64(values: list[int]) -> torch.Tensor:
    """``torch.tensor(values, dtype=torch.int64)`` through numpy (a third of its cost)."""
    return torch.from_numpy(np.array(values, dtype=np.int64))


def message_passing_graph(
    rule: MessagePassingRule,
    edges: Mapping[CanonicalEtype, EdgeIndex],
    edge_inputs: Mapping[CanonicalEtype, torch.Tensor],
    targets: Sequence[Target],
    positions: Sequence[Position],
) -> tuple[dict[CanonicalEtype, EdgeIndex], dict[CanonicalEtype, torch.Tensor]]:
    """The payload edges (and their model inputs) that carry messages under ``rule``.

    Args:
        rule: the model's rule.
        edges: every model relation -> ``(src, dst)`` local indices.
        edge_inputs: relation -> per-edge model inputs.
        targets: the request's targets.
        positions: ``TargetKind.locate``'s output (edge targets: ``(src, dst)`` pairs).

    Returns:
        The kept edges of every relation (maybe none) and the matching edge inputs.
    """
    if rule.drops_nothing:
        return dict(edges), dict(edge_inputs)
    kept = kept_edges(rule, edges, pairs_by_relation(targets, positions))
    return apply_kept(edges, edge_inputs, kept)
