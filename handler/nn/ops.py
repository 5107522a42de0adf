"""Message-passing primitives on ``(src, dst)`` index tensors (what DGL's SpMM kernels do)."""

from __future__ import annotations

import torch


def scatter_sum(values: torch.Tensor, index: torch.Tensor, num_out: int) -> torch.Tensor:
    """Sums ``values`` rows into ``num_out`` buckets given by ``index`` (empty bucket: 0).

    Shapes:
        values: [E, *f], index: [E] -> [num_out, *f].
    """
    out = values.new_zeros((num_out, *values.shape[1:]))
    return out.index_add_(0, index, values)


def in_degrees(dst: torch.Tensor, num_dst: int) -> torch.Tensor:
    """Number of edges into each destination node, as float32.

    Shapes:
        dst: [E] -> [num_dst].
    """
    deg = torch.zeros(num_dst, dtype=torch.float32, device=dst.device)
    return deg.index_add_(0, dst, torch.ones_like(dst, dtype=torch.float32))


def segment_softmax(scores: torch.Tensor, index: torch.Tensor, num_out: int) -> torch.Tensor:
    """Softmax of edge ``scores`` over the edges sharing a destination (DGL ``edge_softmax``).

    Shapes:
        scores: [E, *f], index: [E] -> [E, *f].
    """
    expand = index.view(-1, *([1] * (scores.dim() - 1))).expand_as(scores)
    seg_max = scores.new_full((num_out, *scores.shape[1:]), float("-inf"))
    seg_max.scatter_reduce_(0, expand, scores, reduce="amax", include_self=True)
    # In place on the temporaries (inference only: no autograd through these buffers).
    exp = (scores - seg_max.gather(0, expand)).exp_()
    return exp.div_(scatter_sum(exp, index, num_out).gather(0, expand))


def combine_edge_feat(h_src: torch.Tensor, e_h: torch.Tensor, mp_op: str) -> torch.Tensor:
    """A message from its source embedding and its edge embedding (GraphStorm ``edge_feat_mp_op``).

    Shapes:
        h_src, e_h: [E, d] -> [E, 2d] (``concat``) or [E, d] (``add``, ``sub``, ``mul``, ``div``).
    """
    if mp_op == "concat":
        return torch.cat([h_src, e_h], dim=1)
    if mp_op == "add":
        return h_src + e_h
    if mp_op == "sub":
        return h_src - e_h
    if mp_op == "mul":
        return h_src * e_h
    if mp_op == "div":
        return h_src / e_h
    raise ValueError(f"unknown edge_feat_mp_op {mp_op!r}")
