"""GraphStorm's built-in models (``GSgnnNodeModel``, ``GSgnnEdgeModel``,
``GSgnnLinkPredictionModel``) for inference as one ``GraphStormModel`` with a node or an edge
head (``handler.model.heads``), and their strict loading.

``model.bin`` is ``torch.save({"gnn": ..., "node_embed": ..., "decoder": ..., "edge_embed":
...})`` of module state dicts; ``GraphStormModel`` has the same four submodules with the same
parameter names, so each part loads with ``strict=True``. Which payload edges carry messages
is decided before (``handler.contract.targets``, ``handler.inputs.edge_message_passing``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from handler.contract.errors import UnsupportedConfigError
from handler.contract.lm_resolution import LMResolver
from handler.contract.model_config import ModelConfig
from handler.contract.names import as_etype
from handler.contract.targets import TargetKey
from handler.model.heads import Head, build_head
from handler.nn.encoder import build_encoder
from handler.nn.input_layer import EdgeInputLayer, NodeInputLayer
from handler.nn.lm_input_layer import build_lm_node_input_layer
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph
from handler.transforms.text_tokens import TextTokens

PARTS = ("node_embed", "edge_embed", "gnn", "decoder")


class ModelLoadError(RuntimeError):
    """``model.bin`` does not fit the model the training config describes."""


class GraphStormModel(nn.Module):
    """Input layers, GNN encoder and decoder of a GraphStorm model, with a node or an edge head.

    Args:
        node_embed: node input layer.
        edge_embed: edge input layer.
        gnn: GNN encoder (see ``handler.nn.encoder``).
        decoder: the decoder (``model.bin``'s ``decoder``): one node decoder or one per target
            node type (``nn.ModuleDict``), an EC / ER decoder, or an LP score.
        head: how the decoder reads the embeddings of the targets (``handler.model.heads``).
    """

    def __init__(self, node_embed: NodeInputLayer, edge_embed: EdgeInputLayer, gnn: nn.Module,
                 decoder: nn.Module, head: Head) -> None:
        super().__init__()
        self.node_embed = node_embed
        self.edge_embed = edge_embed
        self.gnn = gnn
        self.decoder = decoder
        self.head = head
        # Per-call constants, computed on first use (the input widths are fixed by the
        # parameters' shapes, which loading cannot change; the device by ``to``).
        self._device: torch.device | None = None
        self._node_dims: dict[str, int] = {}
        self._edge_dims: dict[CanonicalEtype, int | None] = {}

    def _apply(self, fn: Callable, *args: Any, **kwargs: Any) -> nn.Module:
        self._device = None
        return super()._apply(fn, *args, **kwargs)

    @property
    def device(self) -> torch.device:
        """Where the parameters live."""
        if self._device is None:
            self._device = next(self.parameters()).device
        return self._device

    def node_input_dim(self, ntype: str) -> int:
        """``node_embed.in_dim(ntype)``, looked up once per node type."""
        dim = self._node_dims.get(ntype)
        if dim is None:
            dim = self._node_dims[ntype] = self.node_embed.in_dim(ntype)
        return dim

    def edge_input_dim(self, etype: CanonicalEtype) -> int | None:
        """``edge_embed.in_dim(etype)``, looked up once per relation."""
        if etype not in self._edge_dims:
            self._edge_dims[etype] = self.edge_embed.in_dim(etype)
        return self._edge_dims[etype]

    def predict(
        self,
        graph: RelationalGraph,
        node_inputs: Mapping[str, torch.Tensor],
        edge_inputs: Mapping[CanonicalEtype, torch.Tensor],
        targets: Mapping[TargetKey, Sequence[torch.Tensor]],
        text_inputs: Mapping[str, TextTokens] | None = None,
    ) -> dict[TargetKey, torch.Tensor]:
        """Predictions for the targets, by full-neighbourhood message passing.

        Args:
            graph: the payload graph (edge models: after the message-passing rule); every
                relation of the model present, maybe empty.
            node_inputs: node type -> model input features (concatenated in config order) or,
                for featureless node types, learnable embeddings. May omit node types with 0
                nodes.
            edge_inputs: canonical edge type -> edge features; only edge types the model
                takes features for are used.
            targets: output key -> position tensors (``handler.contract.targets``): target node
                type -> ``(nodes,)``, or target relation -> ``(sources, destinations)``.
            text_inputs: models with LM node encoders: LM node type -> its nodes' tokens
                (``tokenize_hf``), rows in node order; ``node_inputs`` then holds the other
                features only (``node_embed.in_dim``).

        Returns:
            key -> node softmax / sigmoid probabilities or regression values; EC probabilities,
            ER values or LP raw scores; rows in position order.

        Shapes:
            node_inputs[nt]: [num_nodes[nt], in_dim]; edge_inputs[et]: [num_edges[et], e_dim];
            targets[key]: ([k],) or ([k], [k]) -> [k, out_dim].

        Raises:
            ValueError: inputs missing or of the wrong size, or a key the model does not predict.
        """
        device = self.device
        with torch.inference_mode():
            graph = graph.to(device)
            node_inputs = self._node_inputs(graph, node_inputs, device)
            h = self.node_embed(node_inputs) if text_inputs is None else self.node_embed(node_inputs, text_inputs)
            edge_embs = self.edge_embed(self._edge_inputs(graph, edge_inputs, device))
            h = self.gnn(graph, h, edge_embs)
            return {key: self.head.score(self.decoder, h, key, [_on(p, device) for p in positions])
                    for key, positions in targets.items()}

    def _node_inputs(
        self, graph: RelationalGraph, node_inputs: Mapping[str, torch.Tensor], device: torch.device
    ) -> dict[str, torch.Tensor]:
        """Checks the node inputs; node types without nodes get empty inputs."""
        return {ntype: _checked_input(node_inputs.get(ntype), num, self.node_input_dim(ntype),
                                      f"model inputs of the nodes of type {ntype!r}", device)
                for ntype, num in graph.num_nodes.items()}

    def _edge_inputs(
        self,
        graph: RelationalGraph,
        edge_inputs: Mapping[CanonicalEtype, torch.Tensor],
        device: torch.device,
    ) -> dict[CanonicalEtype, torch.Tensor]:
        """Checks the edge inputs of the edge types the model takes features for."""
        dims = {etype: dim for etype in graph.edges if (dim := self.edge_input_dim(etype)) is not None}
        return {etype: _checked_input(edge_inputs.get(etype), src.numel(), dims[etype],
                                      f"edge features of the edges of type {etype}", device)
                for etype, (src, _) in graph.edges.items() if etype in dims}


def _checked_input(x: torch.Tensor | None, num: int, dim: int, what: str,
                   device: torch.device) -> torch.Tensor:
    """An input of ``num`` rows of width ``dim`` on ``device``; absent, it must have no rows.

    Raises:
        ValueError: ``x`` is absent for ``num > 0`` rows, or not of shape [num, dim].
    """
    if x is None:
        if num > 0 and dim > 0:
            raise ValueError(f"no {what} ({num} rows expected)")
        x = torch.zeros((num, dim))  # dim 0: an LM node type without other features
    if tuple(x.shape) != (num, dim):
        raise ValueError(f"{what} have shape {tuple(x.shape)}, expected {(num, dim)}")
    return _on(x, device)


def _on(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``x.to(device)`` without the operator call when it is there already."""
    return x if x.device == device else x.to(device)


def build_model(
    config: ModelConfig,
    canonical_etypes: Sequence[CanonicalEtype],
    ntypes: Sequence[str],
    node_feat_dims: Mapping[str, int],
    edge_feat_dims: Mapping[CanonicalEtype, int],
    lm_resolver: LMResolver | None = None,
) -> GraphStormModel:
    """An uninitialised model with GraphStorm's architecture for ``config``.

    Args:
        config: model config.
        canonical_etypes: relations of the graph.
        ntypes: node types of the graph.
        node_feat_dims: input feature size of every node type with features.
        edge_feat_dims: input feature size of every edge type with features.
        lm_resolver: models with ``lm_model``: where the LMs' configs are (default: ``GS_LM_MODELS``,
            the working directory, the local Hugging Face cache).

    Returns:
        The model (parameters uninitialised; load a state dict).
    """
    hidden = config.hidden_size
    learnable = [nt for nt in ntypes if nt not in node_feat_dims]
    node_embed: NodeInputLayer
    if config.lm_models:
        if config.use_node_embeddings:
            raise UnsupportedConfigError("use_node_embeddings: not supported together with lm_model")
        if config.edge_task is not None:
            raise UnsupportedConfigError("lm_model: language-model node encoders are supported for node tasks only")
        node_embed = build_lm_node_input_layer(config.lm_models, lm_resolver or LMResolver.for_model_dir(None),
                                               node_feat_dims, learnable, hidden, config.input_activation,
                                               config.num_ffn_layers_in_input)
    else:
        node_embed = NodeInputLayer(node_feat_dims, learnable, hidden, config.input_activation,
                                    config.num_ffn_layers_in_input,
                                    list(node_feat_dims) if config.use_node_embeddings else ())
    edge_embed = EdgeInputLayer(edge_feat_dims, hidden, config.input_activation,
                                config.num_ffn_layers_in_input)
    gnn = build_encoder(config, ntypes, canonical_etypes, {et: hidden for et in edge_feat_dims})
    decoder, head = build_head(config, canonical_etypes)
    return GraphStormModel(node_embed, edge_embed, gnn, decoder, head)


def restore_model(
    config: ModelConfig,
    canonical_etypes: Sequence[CanonicalEtype],
    model_bin: str | Path,
    device: str | torch.device = "cpu",
    *,
    ntypes: Sequence[str] | None = None,
    node_feat_dims: Mapping[str, int] | None = None,
    edge_feat_dims: Mapping[CanonicalEtype, int] | None = None,
    lm_resolver: LMResolver | None = None,
) -> GraphStormModel:
    """Builds the model and loads ``model.bin`` strictly; the model is in eval mode.

    A model with LM node encoders takes the fine-tuned LM weights from ``model.bin`` too (its
    ``node_embed`` holds them, see ``handler.nn.lm_input_layer``).

    Args:
        config: model config.
        canonical_etypes: relations of the graph (any order; encoders order them as training).
        model_bin: path of ``model.bin``.
        device: where to put the model.
        ntypes: node types of the graph (default: those of the relations and the config).
        node_feat_dims: input size per node type with features (default: from ``model.bin``);
            given, it is checked against ``model.bin``.
        edge_feat_dims: input size per edge type with features (default: from ``model.bin``).
        lm_resolver: models with ``lm_model``: where the LMs' configs are.

    Returns:
        The loaded model.

    Raises:
        ModelLoadError: missing / unexpected parameters or shape mismatches.
    """
    canonical_etypes = [as_etype(et) for et in canonical_etypes]
    if ntypes is None:
        ntypes = sorted({nt for et in canonical_etypes for nt in (et[0], et[2])}
                        | set(config.node_feat_names) | set(config.target_ntypes))
    checkpoint = torch.load(model_bin, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, Mapping):
        raise ModelLoadError(f"{model_bin} does not hold a dict of state dicts")
    state = {part: checkpoint.get(part) or {} for part in PARTS}
    for part in ("gnn", "node_embed"):
        if part not in checkpoint:
            raise ModelLoadError(f"{model_bin} has no {part!r} state dict")
    if node_feat_dims is None:
        node_feat_dims = {nt: _dim(state["node_embed"], f"input_projs.{nt}", "node_embed")
                          for nt in ntypes if nt in config.node_feat_names
                          or any(nt in spec.node_types for spec in config.lm_models)}
    if edge_feat_dims is None:
        edge_feat_dims = {et: _dim(state["edge_embed"], f"input_projs.{et}", "edge_embed")
                          for et in canonical_etypes if et in config.edge_feat_names}
    model = build_model(config, canonical_etypes, ntypes, node_feat_dims, edge_feat_dims, lm_resolver)
    if "decoder" not in checkpoint and any(True for _ in model.decoder.parameters()):
        # A parameter-free decoder (LP dot product) is not saved by GraphStorm.
        raise ModelLoadError(f"{model_bin} has no 'decoder' state dict")
    for part in PARTS:
        try:
            getattr(model, part).load_state_dict(state[part], strict=True)
        except RuntimeError as err:
            raise ModelLoadError(f"{model_bin}: {part!r} does not match the training config: {err}") from err
    return model.to(device).eval()


def _dim(state: Mapping[str, torch.Tensor], key: str, part: str) -> int:
    """Input size of a projection in a state dict."""
    if key not in state:
        raise ModelLoadError(f"model.bin has no {part}.{key}, which the training config needs")
    return int(state[key].shape[0])
