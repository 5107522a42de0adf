"""GraphStorm's RGCN / RGAT layer steps built from DGL's own modules (``dgl.nn.GraphConv``,
``WeightBasis``, ``GATConv``, DGL message passing), carrying the weights of our encoders.
GraphStorm itself is not imported.

Needs DGL: imported only by ``record_dgl_references.py``, never by a test."""

from __future__ import annotations

import dgl.function as fn
import torch
from dgl import nn as dglnn


def _finish(layer, h_dst: torch.Tensor, rst: torch.Tensor, ntype: str) -> torch.Tensor:
    """GraphStorm's ``_apply``: self-loop, bias, norm, activation, feed-forward layers."""
    if layer.self_loop:
        rst = rst + h_dst @ layer.loop_weight
    rst = rst + layer.h_bias
    if layer.norm is not None:
        rst = layer.norm[ntype](rst)
    if layer.activation:
        rst = torch.relu(rst)
    for w in layer.ngnn_mlp.ngnn_gnn:
        rst = torch.relu(rst @ w)
    return rst


def _edge_feat_conv(g, mod, h_src: torch.Tensor, e_h: torch.Tensor) -> torch.Tensor:
    """GraphStorm's ``GraphConvwithEdgeFeat`` message passing, in DGL."""
    ops = {"concat": lambda u, e: torch.cat([u, e], dim=1), "add": torch.add, "sub": torch.sub,
           "mul": torch.mul, "div": torch.div}
    with g.local_scope():
        g.srcdata["n_h"], g.edata["e_h"] = h_src, e_h
        g.apply_edges(lambda edges: {"m": ops[mod.mp_op](edges.src["n_h"], edges.data["e_h"]) @ mod.weights})
        g.dstdata["norm"] = torch.pow(g.in_degrees(), -0.5)
        g.update_all(fn.e_mul_v("m", "norm", "n_m"), fn.sum("n_m", "h"))
        return g.dstdata["h"]


def rgcn_reference(encoder, g, h: dict, e_h: dict) -> dict:
    """GraphStorm's RGCN forward with DGL convs and our encoder's weights."""
    for layer in encoder._layers:
        if hasattr(layer, "basis"):  # composed by DGL's own WeightBasis
            basis = dglnn.WeightBasis(layer.basis.shape, layer.basis.weight.shape[0], len(layer.rel_names))
            basis.load_state_dict(layer.basis.state_dict())
            weights = basis()
        else:
            weights = layer.weight
        agg = {}
        for i, rel in enumerate(layer.rel_names):
            if rel in layer.edge_feat_rels:
                msg = _edge_feat_conv(g[rel], layer.conv.mods[str(rel)], h[rel[0]], e_h[rel])
            else:
                conv = dglnn.GraphConv(weights.shape[1], weights.shape[2], norm="right", weight=False,
                                       bias=False, allow_zero_in_degree=True)
                msg = conv(g[rel], (h[rel[0]], h[rel[2]]), weight=weights[i])
            agg[rel[2]] = agg[rel[2]] + msg if rel[2] in agg else msg
        h = {nt: _finish(layer, h[nt], agg.get(nt, torch.zeros(len(h[nt]), layer.out_feat)), nt) for nt in h}
    return h


def rgat_reference(encoder, g, h: dict) -> dict:
    """GraphStorm's RGAT forward with DGL ``GATConv`` and our encoder's weights."""
    for layer in encoder._layers:
        agg = {}
        for rel in layer.rel_names:
            mod = layer.conv.mods[str(rel)]
            conv = dglnn.GATConv(h[rel[0]].shape[1], mod.out_feat, mod.num_heads, bias=False,
                                 allow_zero_in_degree=True)
            conv.load_state_dict(mod.state_dict())
            msg = conv(g[rel], (h[rel[0]], h[rel[2]]))
            agg[rel[2]] = agg[rel[2]] + msg if rel[2] in agg else msg
        h = {nt: _finish(layer, h[nt], agg[nt].flatten(1) if nt in agg
                         else torch.zeros(len(h[nt]), layer.out_feat), nt) for nt in h}
    return h
