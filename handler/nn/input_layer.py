"""Input layers: project raw node / edge features to the GNN's hidden size.

``NodeInputLayer`` is GraphStorm's ``GSNodeEncoderInputLayer4GraphFromMetadata``: node types
with features use ``input_projs.<ntype>`` (no bias); featureless node types use their learnable
embedding, which real-time payloads carry as the ``gs_learnable_embedding`` feature, times
``proj_matrix.<ntype>``; with ``use_node_embeddings`` a node type with features also has a learnable
embedding, which is appended to its projected features before ``proj_matrix.<ntype>``
(``[2 * embed_size, embed_size]``): its input is the features followed by the embedding.
``EdgeInputLayer`` is ``GSEdgeEncoderInputLayer``
(``input_projs.<str(canonical etype)>``). Both then apply the optional input activation and
``num_ffn_layers_in_input`` feed-forward layers (dropout is a no-op at inference).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from handler.contract.names import as_etype
from handler.nn.inference_cache import InferenceCache
from handler.nn.ngnn_mlp import NGNNMLP
from handler.nn.relational_graph import CanonicalEtype


def _float(x: torch.Tensor) -> torch.Tensor:
    """``x.float()`` without the operator call when ``x`` already is float32."""
    return x if x.dtype == torch.float32 else x.float()


def _activate(h: torch.Tensor, activation: str | None) -> torch.Tensor:
    return torch.relu(h) if activation == "relu" else h


class NodeInputLayer(InferenceCache):
    """Per-node-type projection of features (or learnable embeddings) to ``embed_size``.

    Args:
        feat_dims: input feature size per node type with features.
        learnable_ntypes: node types without features (learnable embeddings of size
            ``embed_size``).
        embed_size: output size.
        activation: ``None`` or ``"relu"``.
        num_ffn_layers: feed-forward layers after the projection.
        node_emb_ntypes: node types with features that also have learnable embeddings
            (GraphStorm's ``use_node_embeddings``).
    """

    def __init__(
        self,
        feat_dims: Mapping[str, int],
        learnable_ntypes: list[str],
        embed_size: int,
        activation: str | None = None,
        num_ffn_layers: int = 0,
        node_emb_ntypes: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.embed_size = embed_size
        self.activation = activation
        self.num_ffn_layers = num_ffn_layers
        self.node_emb_ntypes = frozenset(node_emb_ntypes)
        unknown = self.node_emb_ntypes - set(feat_dims)
        if unknown:
            raise ValueError(f"node types {sorted(unknown)} have node embeddings but no features")
        self.proj_matrix = nn.ParameterDict(
            {nt: nn.Parameter(torch.empty(embed_size, embed_size)) for nt in learnable_ntypes}
            | {nt: nn.Parameter(torch.empty(2 * embed_size, embed_size)) for nt in node_emb_ntypes}
        )
        self.input_projs = nn.ParameterDict(
            {nt: nn.Parameter(torch.empty(dim, embed_size)) for nt, dim in feat_dims.items()}
        )
        self.ngnn_mlp = nn.ModuleDict(
            {nt: NGNNMLP(embed_size, num_ffn_layers) for nt in [*feat_dims, *learnable_ntypes]}
        )

    def in_dim(self, ntype: str) -> int:
        """Size of the input vectors the layer expects for ``ntype``."""
        if ntype in self.input_projs:
            width = self.input_projs[ntype].shape[0]
            return width + self.embed_size if ntype in self.node_emb_ntypes else width
        return self.embed_size

    def _projections(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """``input_projs`` and ``proj_matrix`` as plain dicts of their parameters: a
        ``ParameterDict`` lookup costs ~2.7 us (two per node type and request). They hold the
        parameters themselves, which in-place writes keep, so only ``load_state_dict`` and
        ``to`` (which drop every derived value) need to refresh them."""
        return self.derived("projections", lambda: (dict(self.input_projs.items()), dict(self.proj_matrix.items())))

    def forward(self, node_inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Projects every node type's inputs.

        Args:
            node_inputs: node type -> features (or learnable embeddings) of its nodes.

        Returns:
            node type -> embeddings.

        Shapes:
            node_inputs[nt]: [n, in_dim(nt)] -> [n, embed_size].
        """
        embs = {}
        input_projs, proj_matrix = self._projections()
        for ntype, x in node_inputs.items():
            if ntype in self.node_emb_ntypes:
                feats, node_emb = _float(x).split([input_projs[ntype].shape[0], self.embed_size], dim=1)
                h = torch.cat((feats @ input_projs[ntype], node_emb), dim=1) @ proj_matrix[ntype]
            elif ntype in input_projs:
                h = _float(x) @ input_projs[ntype]
            elif ntype in proj_matrix:
                h = _float(x) @ proj_matrix[ntype]
            else:
                raise KeyError(f"the model has no input projection for node type {ntype!r}")
            h = _activate(h, self.activation)
            embs[ntype] = self.ngnn_mlp[ntype](h) if self.num_ffn_layers else h
        return embs


class EdgeInputLayer(nn.Module):
    """Per-edge-type projection of edge features to ``embed_size`` (GraphStorm
    ``GSEdgeEncoderInputLayer``; parameter keys are ``str(canonical_etype)``).

    Args:
        feat_dims: edge feature size per canonical edge type with features.
        embed_size: output size.
        activation: ``None`` or ``"relu"``.
        num_ffn_layers: feed-forward layers after the projection.
    """

    def __init__(
        self,
        feat_dims: Mapping[CanonicalEtype, int],
        embed_size: int,
        activation: str | None = None,
        num_ffn_layers: int = 0,
    ) -> None:
        super().__init__()
        self.activation = activation
        self.input_projs = nn.ParameterDict(
            {str(et): nn.Parameter(torch.empty(dim, embed_size)) for et, dim in feat_dims.items()}
        )
        self.ngnn_mlp = nn.ModuleDict(
            {str(et): NGNNMLP(embed_size, num_ffn_layers) for et in feat_dims}
        )

    def in_dim(self, etype: CanonicalEtype) -> int | None:
        """Size of the edge feature vectors for ``etype``, or ``None`` if it takes none."""
        key = str(tuple(etype))
        return self.input_projs[key].shape[0] if key in self.input_projs else None

    def forward(
        self, edge_inputs: Mapping[CanonicalEtype, torch.Tensor]
    ) -> dict[CanonicalEtype, torch.Tensor]:
        """Projects the features of every edge type that has them.

        Args:
            edge_inputs: canonical edge type -> features of its edges.

        Returns:
            canonical edge type -> edge embeddings.

        Shapes:
            edge_inputs[et]: [num_edges, in_dim(et)] -> [num_edges, embed_size].
        """
        embs: dict[CanonicalEtype, torch.Tensor] = {}
        for etype, x in edge_inputs.items():
            key = str(tuple(etype))
            if key not in self.input_projs:
                raise KeyError(f"the model has no edge feature projection for edge type {etype}")
            h = _activate(_float(x) @ self.input_projs[key], self.activation)
            embs[as_etype(etype)] = self.ngnn_mlp[key](h)
        return embs
