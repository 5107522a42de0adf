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
    seg_max = seg_max.scatter_reduce(0, expand, scores, reduce="amax", include_self=True)
    exp = torch.exp(scores - seg_max.gather(0, expand))
    return exp / scatter_sum(exp, index, num_out).gather(0, expand)
