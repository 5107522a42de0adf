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

import torch

from handler.contract.names import CanonicalEtype
from handler.contract.targets import MessagePassingRule

__all__ = ["MessagePassingRule", "apply_kept", "kept_edges"]

EdgeIndex = tuple[torch.Tensor, torch.Tensor]


def kept_edges(
    rule: MessagePassingRule,
    edges: Mapping[CanonicalEtype, EdgeIndex],
    targets: Mapping[CanonicalEtype, EdgeIndex],
) -> dict[CanonicalEtype, torch.Tensor | None]:
    """Which edges of each relation carry messages under ``rule``.

    Args:
        rule: the model's rule.
        edges: relation -> ``(src, dst)`` int64 indices, local to the endpoint node types.
        targets: target relation -> ``(src, dst)`` indices of the target pairs.

    Returns:
        relation -> boolean mask of the edges kept, or ``None`` where every edge is kept.

    Shapes:
        edges[r]: ([E_r], [E_r]); targets[r]: ([k_r], [k_r]) -> mask [E_r].
    """
    kept: dict[CanonicalEtype, torch.Tensor | None] = dict.fromkeys(edges)
    for etype, (src, _) in edges.items():
        if etype in rule.removed_etypes and src.numel() > 0:
            kept[etype] = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
    for etype, reverse in rule.excluded_pairs.items():
        pairs = targets.get(etype)
        if pairs is None or pairs[0].numel() == 0:
            continue
        t_src, t_dst = pairs
        _drop_pairs(kept, edges, etype, t_src, t_dst)
        if reverse is not None:
            _drop_pairs(kept, edges, reverse, t_dst, t_src)
    return kept


def _drop_pairs(
    kept: dict[CanonicalEtype, torch.Tensor | None],
    edges: Mapping[CanonicalEtype, EdgeIndex],
    etype: CanonicalEtype,
    pair_src: torch.Tensor,
    pair_dst: torch.Tensor,
) -> None:
    """Clears in ``kept[etype]`` every edge whose (src, dst) is one of the pairs."""
    if etype not in edges:
        return
    src, dst = edges[etype]
    if src.numel() == 0:
        return
    # One int64 key per (src, dst): src * width + dst, width above every dst index.
    width = int(max(dst.max().item(), pair_dst.max().item())) + 1
    hit = torch.isin(src * width + dst, pair_src.to(src.device) * width + pair_dst.to(src.device))
    mask = kept[etype]
    kept[etype] = ~hit if mask is None else mask & ~hit


def apply_kept(
    edges: Mapping[CanonicalEtype, EdgeIndex],
    edge_inputs: Mapping[CanonicalEtype, torch.Tensor],
    kept: Mapping[CanonicalEtype, torch.Tensor | None],
) -> tuple[dict[CanonicalEtype, EdgeIndex], dict[CanonicalEtype, torch.Tensor]]:
    """The edges and edge inputs that carry messages.

    Args:
        edges: relation -> ``(src, dst)``.
        edge_inputs: relation -> per-edge model inputs (rows in edge order), for some relations.
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
        out_edges[etype] = (src, dst) if mask is None else (src[mask], dst[mask])
        if etype in edge_inputs:
            x = edge_inputs[etype]
            out_inputs[etype] = x if mask is None else x[mask.to(x.device)]
    for etype, x in edge_inputs.items():
        out_inputs.setdefault(etype, x)
    return out_edges, out_inputs
