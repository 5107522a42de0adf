"""GraphStorm 0.5.1's GraphSAGE encoder (``SAGEEncoder``) for homogeneous graphs, inference only.

GraphStorm always builds ``dgl.nn.SAGEConv(aggregator_type='pool', bias=False)`` layers:
``h_neigh = fc_neigh(max_{u in N(v)} relu(fc_pool(h_u)))`` (0 for a node without in-edges),
``out = fc_self(h_v) + h_neigh``, then its wrapper's norm (hidden layers only), ReLU on EVERY
layer including the last, and the FFN layers (every layer).
"""

from __future__ import annotations

import torch
from torch import nn

from handler.contract.model_config import ModelConfig
from handler.nn.encoder import GNNLayerStack
from handler.nn.gnn_common import HomogeneousLayer, build_norm, homogeneous_relation, reject_edge_features
from handler.nn.inference_cache import InferenceCache
from handler.nn.ngnn_mlp import NGNNMLP
from handler.nn.relational_graph import CanonicalEtype


def _scatter_max_relu(values: torch.Tensor, index: torch.Tensor, num_out: int) -> torch.Tensor:
    """Max of non-negative (post-ReLU) edge values per destination, 0 without in-edges.

    DGL's ``fn.max`` gives 0 to nodes without in-edges; for values >= 0 a zero-initialised
    ``amax`` is exactly that.

    Shapes:
        values: [E, f], index: [E] -> [num_out, f].
    """
    out = values.new_zeros((num_out, values.shape[1]))
    return out.scatter_reduce_(0, index.unsqueeze(1).expand_as(values), values, "amax", include_self=True)


class _PoolSAGEConv(InferenceCache):
    """DGL ``SAGEConv`` with the pool aggregator and no bias (parameter names as DGL's)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc_pool = nn.Linear(in_dim, in_dim)
        self.fc_neigh = nn.Linear(in_dim, out_dim, bias=False)
        self.fc_self = nn.Linear(in_dim, out_dim, bias=False)

    def _transposed(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The linear layers' ``weight.t()`` views (``fc_pool``, ``fc_self``, ``fc_neigh``),
        made once: each is the view ``nn.functional.linear`` would make on every call."""
        return self.derived("wt", lambda: (self.fc_pool.weight.t(), self.fc_self.weight.t(),
                                           self.fc_neigh.weight.t()))

    def forward(self, h: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Shapes: h ``[N, in]``, src/dst ``[E]`` -> ``[N, out]``."""
        # ``nn.functional.linear`` of a 2-d input is ``addmm(bias, x, weight.t())`` or
        # ``mm(x, weight.t())``: called here directly on views made once, the same kernels on
        # the same operands, without linear's dispatch and its transpose (~2 us a call on a
        # payload graph). ``index_select`` is the gather ``pooled[src]`` without the indexing
        # machinery.
        self.refresh_derived()
        pool_t, self_t, neigh_t = self._transposed()
        pooled = torch.relu_(torch.addmm(self.fc_pool.bias, h, pool_t))
        neigh = _scatter_max_relu(pooled.index_select(0, src), dst, h.shape[0])
        return torch.mm(h, self_t) + torch.mm(neigh, neigh_t)


class SAGELayer(HomogeneousLayer):
    """GraphStorm's ``SAGEConv`` wrapper: conv, optional norm, ReLU, FFN layers.

    Args:
        ntype: the node type; relation: the single relation.
        in_dim: input size; out_dim: output size.
        norm: None, ``batch`` or ``layer``.
        num_ffn_layers: FFN layers after the ReLU.
    """

    def __init__(
        self, ntype: str, relation: CanonicalEtype, in_dim: int, out_dim: int,
        norm: str | None, num_ffn_layers: int,
    ) -> None:
        super().__init__(ntype, relation)
        self.conv = _PoolSAGEConv(in_dim, out_dim)
        self.norm = build_norm(norm, out_dim)
        self.num_ffn_layers = num_ffn_layers
        self.ngnn_mlp = NGNNMLP(out_dim, num_ffn_layers)

    def compute(self, h: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
        """Shapes: h ``[N, in]``, src/dst ``[E]`` -> ``[N, out]``."""
        out = self.conv(h, src, dst)
        if self.norm is not None:
            out = self.norm(out)
        out = torch.relu_(out)  # out is this call's own tensor
        if self.num_ffn_layers > 0:
            out = self.ngnn_mlp(out)
        return out


def build_sage_encoder(
    config: ModelConfig,
    ntypes: list[str],
    canonical_etypes: list[CanonicalEtype],
    edge_input_dims: dict[CanonicalEtype, int],
) -> GNNLayerStack:
    """Builds GraphStorm's SAGE encoder.

    Args:
        config: ``ModelConfig`` (hidden_size, out_emb_size, num_layers, gnn_norm,
            num_ffn_layers_in_gnn, edge_feat_names).
        ntypes: the model's node types (exactly one).
        canonical_etypes: the model's relations (exactly one, ``ntype -> ntype``).
        edge_input_dims: unused (edge features are not supported with SAGE here).

    Returns:
        The encoder, parameters uninitialised (load ``model.bin``'s ``gnn`` state dict).

    Raises:
        UnsupportedConfigError: not a homogeneous model, or edge features configured.
    """
    del edge_input_dims
    relation = homogeneous_relation("sage", ntypes, canonical_etypes)
    reject_edge_features("sage", config.edge_feat_names)
    ntype, hidden, ffn = ntypes[0], config.hidden_size, config.num_ffn_layers_in_gnn
    last = config.num_layers - 1
    return GNNLayerStack(
        # GraphStorm passes the norm to hidden layers only.
        SAGELayer(ntype, relation, hidden, config.out_emb_size, None, ffn) if i == last
        else SAGELayer(ntype, relation, hidden, hidden, config.gnn_norm, ffn)
        for i in range(config.num_layers)
    )
