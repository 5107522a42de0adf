"""Which payload edges carry messages for an edge model: GraphStorm's training rule.

An edge model must not see the edge it predicts: GraphStorm trains edge classification and
regression with ``remove_target_edge_type`` (default true: the target relation and its reverse
get fanout 0 in every layer, ``modify_fanout_for_target_etype``), and every edge task with
``exclude_training_targets`` (default true: DGL's edge dataloader drops each mini-batch's target
edges and their reverse edges, ``exclude='reverse_types'``). The real-time rule applies the
same to a request:

* ``remove_target_edge_type``: every edge of the target relations and of their reverse
  relations is dropped (the relations stay, with zero edges);
* otherwise, with ``exclude_training_targets``: for every target (s, d) of relation r, every
  edge s -> d of r and d -> s of r's reverse relation is dropped; all other edges stay.

So whether a client lists the target edge in ``graph.edges`` never changes a prediction.
Everything here is a pure function of per-relation ``(src, dst)`` index tensors.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from handler.contract.names import CanonicalEtype
from handler.contract.targets import MessagePassingRule

__all__ = ["MessagePassingRule", "apply_kept", "kept_edges"]

EdgeIndex = tuple[torch.Tensor, torch.Tensor]


def kept_edges(
    rule: MessagePassingRule,
    edges: Mapping[CanonicalEtype, EdgeIndex],
    targets: Mapping[CanonicalEtype, EdgeIndex],
) -> dict[CanonicalEtype, np.ndarray | None]:
    """Which edges of each relation carry messages under ``rule``.

    The index arithmetic runs in numpy on the CPU tensors' memory: on a payload's tens to
    hundreds of edges a torch operator call costs several times a numpy one, and a request
    pays ~10 of them per excluded relation.

    Args:
        rule: the model's rule.
        edges: relation -> ``(src, dst)`` int64 CPU indices, local to the endpoint node types.
        targets: target relation -> ``(src, dst)`` CPU indices of the target pairs.

    Returns:
        relation -> boolean mask of the edges kept, or ``None`` where every edge is kept.

    Shapes:
        edges[r]: ([E_r], [E_r]); targets[r]: ([k_r], [k_r]) -> mask [E_r].
    """
    kept: dict[CanonicalEtype, np.ndarray | None] = dict.fromkeys(edges)
    for etype, (src, _) in edges.items():
        if etype in rule.removed_etypes and src.shape[0] > 0:
            kept[etype] = np.zeros(src.shape[0], dtype=bool)
    for etype, reverse in rule.excluded_pairs.items():
        pairs = targets.get(etype)
        if pairs is None or pairs[0].shape[0] == 0:
            continue
        t_src, t_dst = pairs[0].numpy(), pairs[1].numpy()
        _drop_pairs(kept, edges, etype, t_src, t_dst)
        if reverse is not None:
            _drop_pairs(kept, edges, reverse, t_dst, t_src)
    return kept


# Up to this many (edge, pair) comparisons, pairs are matched by broadcasting (a few numpy
# calls); above, by one int64 key per pair and ``np.isin`` (memory linear in edges + pairs).
_BROADCAST_MAX = 1 << 14


def _drop_pairs(
    kept: dict[CanonicalEtype, np.ndarray | None],
    edges: Mapping[CanonicalEtype, EdgeIndex],
    etype: CanonicalEtype,
    pair_src: np.ndarray,
    pair_dst: np.ndarray,
) -> None:
    """Clears in ``kept[etype]`` every edge whose (src, dst) is one of the pairs."""
    if etype not in edges:
        return
    src_t, dst_t = edges[etype]
    if src_t.shape[0] == 0:
        return
    src, dst = src_t.numpy(), dst_t.numpy()
    if src.shape[0] * pair_src.shape[0] <= _BROADCAST_MAX:
        hit = ((src[:, None] == pair_src) & (dst[:, None] == pair_dst)).any(axis=1)
    else:
        # One int64 key per (src, dst): src * width + dst, width above every dst index.
        width = max(int(dst.max()), int(pair_dst.max())) + 1
        hit = np.isin(src * width + dst, pair_src * width + pair_dst)
    mask = kept[etype]
    kept[etype] = ~hit if mask is None else mask & ~hit


def apply_kept(
    edges: Mapping[CanonicalEtype, EdgeIndex],
    edge_inputs: Mapping[CanonicalEtype, torch.Tensor],
    kept: Mapping[CanonicalEtype, np.ndarray | None],
) -> tuple[dict[CanonicalEtype, EdgeIndex], dict[CanonicalEtype, torch.Tensor]]:
    """The edges and edge inputs that carry messages.

    Args:
        edges: relation -> ``(src, dst)`` (CPU).
        edge_inputs: relation -> per-edge model inputs (rows in edge order, CPU), for some relations.
        kept: ``kept_edges``' masks.

    Returns:
        The kept edges of every relation (relations without kept edges stay, empty) and the
        matching rows of ``edge_inputs``.

    Shapes:
        edge_inputs[r]: [E_r, d] -> [kept E_r, d].
    """
    out_edges: dict[CanonicalEtype, EdgeIndex] = {}
    out_inputs: dict[CanonicalEtype, torch.Tensor] = {}
    for etype, (src, dst) in edges.items():
        mask = kept.get(etype)
        out_edges[etype] = (src, dst) if mask is None else (_rows(src, mask), _rows(dst, mask))
        if etype in edge_inputs:
            x = edge_inputs[etype]
            out_inputs[etype] = x if mask is None else _rows(x, mask)
    for etype, x in edge_inputs.items():
        out_inputs.setdefault(etype, x)
    return out_edges, out_inputs


def _rows(x: torch.Tensor, mask: np.ndarray) -> torch.Tensor:
    """``x[mask]`` of a CPU tensor, through numpy (the same rows, copied)."""
    return torch.from_numpy(x.numpy()[mask])
