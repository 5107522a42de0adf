"""GraphStorm 0.5.1's HGT encoder (``HGTLayer`` / ``HGTLayerwithEdgeFeat``) for inference.

Per relation ``r = (s, e, d)``: keys and values of the source type, queries of the destination
type, per-head relation matrices, attention = edge softmax over the in-edges of each
destination, messages summed per destination. The per-relation results are averaged over ALL
relation types of the model that point into ``d`` (DGL ``multi_update_all(cross_reducer=
'mean')`` on training blocks, which always hold every relation type; a relation without edges
contributes zeros). A node type that is the destination of no model relation takes GraphStorm's
"pseudo self-loop" branch. Parameter names equal GraphStorm's, so ``model.bin``'s ``gnn`` state
dict loads strictly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from handler.config import ModelConfig
from handler.errors import UnsupportedConfigError
from handler.nn.encoder import GNNLayerStack, make_norms
from handler.nn.ngnn_mlp import NGNNMLP
from handler.nn.ops import scatter_sum, segment_softmax
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph

EDGE_FEAT_MP_OPS = ("concat", "add", "sub", "mul", "div")


def _relation_key(cet: CanonicalEtype) -> str:
    return "_".join(cet)


class HGTLayer(nn.Module):
    """One HGT layer; with ``edge_feat_etypes`` it is GraphStorm's ``HGTLayerwithEdgeFeat``.

    Args:
        in_dim: input size of every node type.
        out_dim: output size (divisible by ``heads``).
        ntypes: node types of the model.
        canonical_etypes: relation types of the model.
        heads: number of attention heads.
        norm: None, ``batch`` or ``layer``.
        num_ffn_layers: FFN layers after the activation.
        edge_feat_etypes: relations with edge features, or None for the plain HGT layer.
        edge_feat_mp_op: how edge embeddings join source embeddings.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        ntypes: list[str],
        canonical_etypes: list[CanonicalEtype],
        heads: int,
        norm: str | None,
        num_ffn_layers: int,
        edge_feat_etypes: set[CanonicalEtype] | None = None,
        edge_feat_mp_op: str = "concat",
    ) -> None:
        super().__init__()
        if out_dim % heads != 0:
            raise UnsupportedConfigError(f"num_heads={heads} does not divide the HGT output size {out_dim}")
        self.heads = heads
        self.out_dim = out_dim
        self.d_k = out_dim // heads
        self.sqrt_dk = math.sqrt(self.d_k)
        self.canonical_etypes = list(canonical_etypes)
        self.k_linears = nn.ModuleDict({nt: nn.Linear(in_dim, out_dim) for nt in ntypes})
        self.q_linears = nn.ModuleDict({nt: nn.Linear(in_dim, out_dim) for nt in ntypes})
        self.v_linears = nn.ModuleDict({nt: nn.Linear(in_dim, out_dim) for nt in ntypes})
        self.a_linears = nn.ModuleDict({nt: nn.Linear(in_dim, out_dim) for nt in ntypes})
        self.norms = make_norms(norm, ntypes, out_dim)
        self.skip = nn.ParameterDict({nt: nn.Parameter(torch.ones(1)) for nt in ntypes})
        keys = [_relation_key(cet) for cet in canonical_etypes]
        self.relation_pri = nn.ParameterDict({k: nn.Parameter(torch.ones(heads)) for k in keys})
        self.relation_att = nn.ParameterDict(
            {k: nn.Parameter(torch.empty(heads, self.d_k, self.d_k)) for k in keys}
        )
        self.relation_msg = nn.ParameterDict(
            {k: nn.Parameter(torch.empty(heads, self.d_k, self.d_k)) for k in keys}
        )
        self.num_ffn_layers = num_ffn_layers
        self.ngnn_mlp = NGNNMLP(out_dim, num_ffn_layers)
        self.edge_feat_etypes = edge_feat_etypes
        self.edge_feat_mp_op = edge_feat_mp_op
        if edge_feat_etypes is not None and edge_feat_mp_op == "concat":
            self.ef_linears = nn.ModuleDict(
                {_relation_key(cet): nn.Linear(in_dim, out_dim)
                 for cet in canonical_etypes if cet in edge_feat_etypes}
            )
        # Destination types of the model's relations: the others take the pseudo self-loop.
        self._dst_types = {cet[2] for cet in canonical_etypes}

    def _key_value(
        self,
        cet: CanonicalEtype,
        h_src: torch.Tensor,
        src: torch.Tensor,
        edge_h: torch.Tensor | None,
        projected: dict[str, tuple[torch.Tensor, torch.Tensor]],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-edge keys and values of relation ``cet`` after the relation matrices.

        ``projected`` memoizes the node-wise key/value projections of each source type within
        one forward (relations sharing a source type reuse them).

        Shapes:
            h_src ``[N_s, in]``, src ``[E]``, edge_h ``[E, in]`` -> two ``[E, heads, d_k]``.
        """
        s = cet[0]
        k_lin, v_lin = self.k_linears[s], self.v_linears[s]
        rkey = _relation_key(cet)
        if edge_h is None:
            # Project per node, then gather: the same rows GraphStorm projects per edge.
            if s not in projected:
                projected[s] = (k_lin(h_src).view(-1, self.heads, self.d_k),
                                v_lin(h_src).view(-1, self.heads, self.d_k))
            k, v = projected[s]
            k = torch.einsum("bij,ijk->bik", k, self.relation_att[rkey])[src]
            v = torch.einsum("bij,ijk->bik", v, self.relation_msg[rkey])[src]
            return k, v
        op = self.edge_feat_mp_op
        if op == "concat":
            edge_val = self.ef_linears[rkey](edge_h)
            k = k_lin(h_src)[src] + edge_val
            v = v_lin(h_src)[src] + edge_val
        else:
            src_h = h_src[src]
            if op == "add":
                new_h = src_h + edge_h
            elif op == "sub":
                new_h = src_h - edge_h
            elif op == "mul":
                new_h = src_h * edge_h
            else:
                new_h = src_h / edge_h
            k, v = k_lin(new_h), v_lin(new_h)
        k = torch.einsum("bij,ijk->bik", k.view(-1, self.heads, self.d_k), self.relation_att[rkey])
        v = torch.einsum("bij,ijk->bik", v.view(-1, self.heads, self.d_k), self.relation_msg[rkey])
        return k, v

    def _edge_input(
        self, cet: CanonicalEtype, num_edges: int, edge_inputs: dict[CanonicalEtype, torch.Tensor]
    ) -> torch.Tensor | None:
        if self.edge_feat_etypes is None or cet not in self.edge_feat_etypes:
            return None
        edge_h = edge_inputs.get(cet)
        if edge_h is None and num_edges > 0:
            raise ValueError(f"HGT: no edge inputs for {num_edges} edges of {cet}")
        return edge_h

    def forward(
        self,
        graph: RelationalGraph,
        h: dict[str, torch.Tensor],
        edge_inputs: dict[CanonicalEtype, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """Runs the layer on every node of ``h``.

        Args:
            graph: the edge lists; relations of the model missing from it count as empty.
            h: node embeddings per node type (every node type of the model).
            edge_inputs: projected edge embeddings per relation with edge features.

        Returns:
            New embeddings per node type of ``h``.

        Shapes:
            h[nt] ``[N_nt, in_dim]`` -> ``[N_nt, out_dim]``; edge_inputs[r] ``[E_r, in_dim]``.
        """
        messages: dict[str, list[torch.Tensor]] = {}
        projected: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        queries: dict[str, torch.Tensor] = {}
        for cet in self.canonical_etypes:
            s, _, d = cet
            if d not in h:
                continue
            num_dst = h[d].shape[0]
            src, dst = graph.edges.get(cet, (None, None))
            if src is None or src.numel() == 0:
                # A relation without edges still counts in the cross-relation mean.
                messages.setdefault(d, []).append(h[d].new_zeros(num_dst, self.heads, self.d_k))
                continue
            edge_h = self._edge_input(cet, src.numel(), edge_inputs)
            k, v = self._key_value(cet, h[s], src, edge_h, projected)
            if d not in queries:
                queries[d] = self.q_linears[d](h[d]).view(-1, self.heads, self.d_k)
            q = queries[d]
            score = (q[dst] * k).sum(-1) * self.relation_pri[_relation_key(cet)] / self.sqrt_dk
            attn = segment_softmax(score, dst, num_dst)
            messages.setdefault(d, []).append(scatter_sum(v * attn.unsqueeze(-1), dst, num_dst))

        new_h = {}
        for nt, feat in h.items():
            if feat.shape[0] == 0:
                out = feat.new_zeros(0, self.out_dim)
            else:
                alpha = torch.sigmoid(self.skip[nt])
                if nt in self._dst_types:
                    msgs = messages[nt]
                    t = torch.stack(msgs, 0).mean(0) if len(msgs) > 1 else msgs[0]
                    out = t.view(-1, self.out_dim) * alpha + self.a_linears[nt](feat) * (1 - alpha)
                else:
                    # GraphStorm's "pseudo self-loop" for node types no relation points to.
                    dst_h = self.a_linears[nt](feat)
                    out = dst_h * alpha + dst_h * (1 - alpha)
            if self.norms is not None:
                out = self.norms[nt](out)
            out = torch.relu(out)
            if self.num_ffn_layers > 0:
                out = self.ngnn_mlp(out)
            new_h[nt] = out
        return new_h


def build_hgt_encoder(
    config: ModelConfig,
    ntypes: list[str],
    canonical_etypes: list[CanonicalEtype],
    edge_input_dims: dict[CanonicalEtype, int],
) -> GNNLayerStack:
    """Builds GraphStorm's HGT encoder from the training config.

    Args:
        config: ``ModelConfig`` (hidden_size, out_emb_size, num_layers, num_heads, gnn_norm,
            num_ffn_layers_in_gnn, edge_feat_names, edge_feat_mp_op).
        ntypes: node types of the model.
        canonical_etypes: relation types of the model.
        edge_input_dims: edge feature input sizes (unused: edge embeddings arrive projected
            to ``hidden_size`` by the edge input layer).

    Returns:
        The encoder, parameters uninitialised (load ``model.bin``'s ``gnn`` state dict).
    """
    del edge_input_dims
    hidden, out_dim, ffn = config.hidden_size, config.out_emb_size, config.num_ffn_layers_in_gnn
    edge_feat_etypes = set(config.edge_feat_names) if config.edge_feat_names else None
    mp_op = config.edge_feat_mp_op
    if mp_op not in EDGE_FEAT_MP_OPS:
        raise UnsupportedConfigError(f"edge_feat_mp_op={mp_op!r}")
    layers = []
    for i in range(config.num_layers):
        last = i == config.num_layers - 1
        layers.append(HGTLayer(
            hidden, out_dim if last else hidden, ntypes, canonical_etypes, config.num_heads,
            config.gnn_norm,
            # GraphStorm's last plain HGT layer is built without FFN layers; with edge
            # features every layer gets them.
            0 if last and edge_feat_etypes is None else ffn,
            edge_feat_etypes, mp_op,
        ))
    return GNNLayerStack(layers)
