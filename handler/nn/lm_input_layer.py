"""Language-model node input layer: GraphStorm's training-time ``GSLMNodeEncoderInputLayer``.

For each ``lm_model.node_lm_models`` entry, a Hugging Face model turns the tokenized text
(``tokenize_hf``) of its node types into ``pooler_output`` embeddings; each node type's input
is then ``[other features, LM embedding]`` (the LM embedding alone for a type without other
features), projected by ``input_projs.<ntype>`` like any node feature. Every node type without
an LM keeps its own input (rule T14: 0.5.1's real-time layer drops them).

Modules are named as training names them, so ``model.bin``'s ``node_embed`` state dict loads
strictly, fine-tuned LM included (rule T15: 0.5.1's real-time layer names them
``_lm_models.<ntypes>.<bert key>`` and silently keeps the pretrained LM):
``_lm_models._lm_models.<sorted ntypes joined by ','>.lm_model.<Hugging Face key>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

from handler.contract.lm_config import LMNodeModelSpec
from handler.contract.lm_resolution import LMResolver
from handler.nn.input_layer import NodeInputLayer
from handler.transforms.lm_loading import build_lm
from handler.transforms.text_tokens import TextTokens


class LMEncoder(nn.Module):
    """One LM (GraphStorm's ``HFBertWrapper``: the model is its ``lm_model``).

    Args:
        lm_model: a Hugging Face ``PreTrainedModel`` with a pooler.
    """

    def __init__(self, lm_model: Any) -> None:
        super().__init__()
        self.lm_model = lm_model

    @property
    def hidden_size(self) -> int:
        """Embedding size."""
        return int(self.lm_model.config.hidden_size)

    def forward(self, tokens: TextTokens) -> torch.Tensor:
        """``pooler_output`` of the tokens, masks cast to int64 as in training (T13).

        Shapes:
            tokens: [n, seq_len] each -> [n, hidden_size].
        """
        device = next(self.lm_model.parameters()).device
        return self.lm_model(**tokens.model_inputs(device)).pooler_output.float()


class LMModels(nn.Module):
    """GraphStorm's ``LMModels``: one ``LMEncoder`` per LM, keyed by its sorted node types.

    Args:
        specs: the ``node_lm_models`` entries.
        encoders: ``spec.key`` -> its encoder.
    """

    def __init__(self, specs: Sequence[LMNodeModelSpec], encoders: Mapping[str, LMEncoder]) -> None:
        super().__init__()
        self.specs = tuple(specs)
        self._lm_models = nn.ModuleDict(dict(encoders))
        self.key_of = {nt: spec.key for spec in specs for nt in spec.node_types}

    def hidden_size(self, ntype: str) -> int:
        """Embedding size of ``ntype``'s LM."""
        return self.encoder(ntype).hidden_size

    def encoder(self, ntype: str) -> LMEncoder:
        """The LM encoder of ``ntype``."""
        return cast(LMEncoder, self._lm_models[self.key_of[ntype]])

    def forward(self, text_inputs: Mapping[str, TextTokens]) -> dict[str, torch.Tensor]:
        """LM embeddings of every node type's text: ONE forward per LM over all its node types'
        rows (GraphStorm's per-type forwards give the same rows).

        Args:
            text_inputs: LM node type -> tokens of its nodes (types without nodes may be absent).

        Returns:
            LM node type -> embeddings, for the types in ``text_inputs``.

        Shapes:
            text_inputs[nt]: [n_nt, seq_len] -> [n_nt, hidden_size(nt)].
        """
        embs = {}
        for spec in self.specs:
            ntypes = [nt for nt in spec.node_types if nt in text_inputs and len(text_inputs[nt])]
            if not ntypes:
                continue
            out = self._lm_models[spec.key](TextTokens.concat([text_inputs[nt] for nt in ntypes]))
            for ntype, part in zip(ntypes, out.split([len(text_inputs[nt]) for nt in ntypes]), strict=True):
                embs[ntype] = part
        return embs


class LMNodeInputLayer(NodeInputLayer):
    """``NodeInputLayer`` whose LM node types append their text's LM embedding to their
    features before the projection.

    Args:
        feat_dims: projection input size per node type with features, LM embedding included
            (``input_projs.<ntype>``'s rows in ``model.bin``).
        learnable_ntypes: node types with learnable embeddings (no features, no LM).
        embed_size: output size.
        lm_models: the LMs.
        activation: ``None`` or ``"relu"``.
        num_ffn_layers: feed-forward layers after the projection.
    """

    def __init__(
        self,
        feat_dims: Mapping[str, int],
        learnable_ntypes: list[str],
        embed_size: int,
        lm_models: LMModels,
        activation: str | None = None,
        num_ffn_layers: int = 0,
    ) -> None:
        super().__init__(feat_dims, learnable_ntypes, embed_size, activation, num_ffn_layers)
        self._lm_models = lm_models
        self.lm_ntypes = tuple(lm_models.key_of)

    def in_dim(self, ntype: str) -> int:
        """Width of the non-text input ``ntype`` expects (0: the LM embedding is all)."""
        width = super().in_dim(ntype)
        return width - self._lm_models.hidden_size(ntype) if ntype in self._lm_models.key_of else width

    def forward(self, node_inputs: Mapping[str, torch.Tensor],
                text_inputs: Mapping[str, TextTokens] | None = None) -> dict[str, torch.Tensor]:
        """Projects every node type's inputs, LM embeddings appended for LM node types.

        Args:
            node_inputs: node type -> non-text features (width ``in_dim``; [n, 0] for LM types
                without other features).
            text_inputs: LM node type -> tokens of its nodes, rows as ``node_inputs``.

        Returns:
            node type -> embeddings.

        Shapes:
            node_inputs[nt]: [n, in_dim(nt)]; text_inputs[nt]: [n, seq_len] -> [n, embed_size].

        Raises:
            ValueError: an LM node type with nodes has no text, or text rows differ from
                feature rows.
        """
        text_inputs = text_inputs or {}
        for ntype in self.lm_ntypes:
            rows = len(node_inputs[ntype]) if ntype in node_inputs else 0
            have = len(text_inputs[ntype]) if ntype in text_inputs else 0
            if rows != have:
                raise ValueError(f"node type {ntype!r}: {rows} feature rows but text for {have} nodes")
        lm_embs = self._lm_models(text_inputs)
        inputs = dict(node_inputs)
        for ntype in self.lm_ntypes:
            if ntype not in inputs:
                continue
            x = inputs[ntype]
            # A type without nodes gets no LM forward; its 0 rows still need the LM's width.
            emb = lm_embs[ntype] if ntype in lm_embs else x.new_zeros((0, self._lm_models.hidden_size(ntype)))
            inputs[ntype] = torch.cat((x.float(), emb), dim=-1) if x.shape[1] else emb
        return super().forward(inputs)


def build_lm_node_input_layer(
    specs: Sequence[LMNodeModelSpec],
    resolver: LMResolver,
    feat_dims: Mapping[str, int],
    learnable_ntypes: list[str],
    embed_size: int,
    activation: str | None = None,
    num_ffn_layers: int = 0,
) -> LMNodeInputLayer:
    """The layer for a model with ``lm_model.node_lm_models`` (LM weights still to be loaded).

    Args:
        specs: the ``node_lm_models`` entries.
        resolver: finds each LM's directory (its config gives the architecture).
        feat_dims: projection input size per node type, LM embedding included.
        learnable_ntypes: node types with learnable embeddings.
        embed_size: output size.
        activation: ``None`` or ``"relu"``.
        num_ffn_layers: feed-forward layers after the projection.

    Returns:
        The layer.
    """
    encoders = {spec.key: LMEncoder(build_lm(resolver.resolve(spec.model_name), spec.config_overrides))
                for spec in specs}
    lm_ntypes = {nt for spec in specs for nt in spec.node_types}
    return LMNodeInputLayer(feat_dims, [nt for nt in learnable_ntypes if nt not in lm_ntypes], embed_size,
                            LMModels(specs, encoders), activation, num_ffn_layers)
