"""GraphStorm's built-in edge models (``GSgnnEdgeModel``, ``GSgnnLinkPredictionModel``) for inference.

Same input layers and encoder as the node model, and an edge decoder scoring (source,
destination) pairs of the target relation: ``predict_proba`` of GraphStorm's EC / ER decoder,
or the raw link-prediction score ``calc_test_scores`` ranks (after ``normalize_node_embs``).
Which payload edges carry messages is decided before (``handler.inputs.edge_message_passing``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from handler.contract.edge_task_config import EdgeTaskConfig
from handler.contract.model_config import ModelConfig
from handler.contract.names import CanonicalEtype
from handler.model.graphstorm_model import GraphStormNodeModel
from handler.nn.edge_decoder import build_edge_decoder
from handler.nn.input_layer import EdgeInputLayer, NodeInputLayer
from handler.nn.lp_decoder import build_lp_decoder, normalize_embeddings
from handler.nn.relational_graph import RelationalGraph

EdgePairs = tuple[torch.Tensor, torch.Tensor]


class GraphStormEdgeModel(GraphStormNodeModel):
    """Input layers, GNN encoder and edge decoder of a GraphStorm edge model.

    Args:
        node_embed: node input layer.
        edge_embed: edge input layer.
        gnn: GNN encoder.
        decoder: EC / ER decoder (``handler.nn.edge_decoder``) or LP score
            (``handler.nn.lp_decoder``).
        edge_task: the model's edge-task config.
    """

    def __init__(self, node_embed: NodeInputLayer, edge_embed: EdgeInputLayer, gnn: nn.Module,
                 decoder: nn.Module, edge_task: EdgeTaskConfig) -> None:
        super().__init__(node_embed, edge_embed, gnn, decoder)
        self.edge_task = edge_task

    def predict(  # type: ignore[override]  # edge targets instead of node targets
        self,
        graph: RelationalGraph,
        node_inputs: Mapping[str, torch.Tensor],
        edge_inputs: Mapping[CanonicalEtype, torch.Tensor],
        targets: Mapping[CanonicalEtype, EdgePairs],
        text_inputs: Mapping[str, object] | None = None,
        *,
        target_edge_feats: Mapping[CanonicalEtype, torch.Tensor] | None = None,
    ) -> dict[CanonicalEtype, torch.Tensor]:
        """Predictions for target (source, destination) pairs, by full-neighbourhood message passing.

        Args:
            graph: the payload graph after the message-passing rule; every relation of the model
                present, maybe empty.
            node_inputs: node type -> model inputs (see ``GraphStormNodeModel.predict``).
            edge_inputs: edge type -> edge features of ``graph``'s edges.
            targets: target relation -> (source indices, destination indices) of the pairs.
            text_inputs: must be None (edge models take no LM node encoders; the node model's
                signature).
            target_edge_feats: target relation -> decoder features of the pairs
                (``MLPEFeatEdgeDecoder`` only).

        Returns:
            target relation -> EC probabilities [k, num_classes], ER values [k, 1] or LP raw
            scores [k, 1], rows in pair order.

        Shapes:
            targets[r]: ([k], [k]) -> [k, out_dim].

        Raises:
            ValueError: inputs missing or of the wrong size, or a relation the model does not
                predict.
        """
        if text_inputs:
            raise ValueError("edge models take no text inputs")
        device = self.device
        with torch.inference_mode():
            graph = graph.to(device)
            h = self.node_embed(self._node_inputs(graph, node_inputs, device))
            edge_embs = self.edge_embed(self._edge_inputs(graph, edge_inputs, device))
            h = self.gnn(graph, h, edge_embs)
            return {etype: self._score(h, etype, src.to(device), dst.to(device), target_edge_feats)
                    for etype, (src, dst) in targets.items()}

    def _score(self, h: Mapping[str, torch.Tensor], etype: CanonicalEtype, src: torch.Tensor,
               dst: torch.Tensor, target_edge_feats: Mapping[CanonicalEtype, torch.Tensor] | None
               ) -> torch.Tensor:
        if etype not in self.edge_task.target_etypes:
            raise ValueError(f"the model does not predict edges of type {etype}")
        h_src = h[etype[0]].index_select(0, src)
        h_dst = h[etype[2]].index_select(0, dst)
        if self.edge_task.is_link_prediction:
            # normalize_node_embs is row-wise: normalising the selected rows is the same.
            norm = self.edge_task.lp_embed_normalizer
            score = self.decoder(normalize_embeddings(h_src, norm), normalize_embeddings(h_dst, norm), etype)
            return score.unsqueeze(1)
        feats = None if target_edge_feats is None else target_edge_feats.get(etype)
        if feats is not None:
            feats = feats.to(h_src.device, torch.float32)
        return self.decoder(h_src, h_dst, feats)


def build_edge_decoder_for(
    config: ModelConfig,
    canonical_etypes: Sequence[CanonicalEtype],
    decoder_feat_dim: int | None,
) -> nn.Module:
    """The decoder GraphStorm builds for an edge model (``create_builtin_edge_decoder`` /
    ``create_builtin_lp_decoder``).

    Args:
        config: model config with ``edge_task`` set.
        canonical_etypes: relations of the graph (LP relation embeddings).
        decoder_feat_dim: size of the target edge's decoder features (``MLPEFeatEdgeDecoder``).

    Returns:
        The decoder (parameters uninitialised).
    """
    edge_task = config.edge_task
    if edge_task is None:
        raise ValueError(f"{config.task_type} is not an edge task")
    if edge_task.is_link_prediction:
        return build_lp_decoder(edge_task, config.out_emb_size, canonical_etypes)
    return build_edge_decoder(edge_task, config.out_emb_size, decoder_feat_dim, config.decoder_bias)
