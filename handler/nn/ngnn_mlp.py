"""GraphStorm's ``NGNNMLP``: optional feed-forward layers after an input or GNN layer."""

from __future__ import annotations

import torch
from torch import nn


class NGNNMLP(nn.Module):
    """``num_layers`` bias-free linear layers, each followed by ReLU (GraphStorm ``NGNNMLP``).

    With ``num_layers == 0`` it is the identity and holds no parameters, as in GraphStorm.
    Parameter names: ``ngnn_gnn.<i>`` of shape [dim, dim].
    """

    def __init__(self, dim: int, num_layers: int) -> None:
        super().__init__()
        self.ngnn_gnn = nn.ParameterList(
            [nn.Parameter(torch.empty(dim, dim)) for _ in range(num_layers)]
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Applies the layers.

        Args:
            h: embeddings.

        Returns:
            The transformed embeddings, same shape.

        Shapes:
            h: [n, dim] -> [n, dim].
        """
        for weight in self.ngnn_gnn:
            h = torch.relu(h @ weight)
        return h
