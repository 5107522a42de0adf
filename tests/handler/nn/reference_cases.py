"""The configurations checked against DGL's own conv modules, and the graphs they run on.

DGL itself is not needed here: ``record_dgl_references.py`` ran each case once through DGL
(its ``SAGEConv``, ``GATConv``, ``GATv2Conv``, ``GraphConv``, ``WeightBasis``, message passing)
and stored inputs, parameters and outputs under ``tests/fixtures/dgl_reference/``; the
``test_*`` modules compare our encoders with those recordings (``recorded_reference.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch

from handler.contract.model_config import ModelConfig
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph

# Homogeneous graph: GraphStorm's default type names; the last node keeps zero in-degree.
HOMOGENEOUS_NTYPE = "_N"
HOMOGENEOUS_RELATION: CanonicalEtype = ("_N", "_E", "_N")
HOMOGENEOUS_NUM_NODES = 7
HOMOGENEOUS_HIDDEN = 8

# Heterogeneous graph: ("c", "r3", "a") stays empty; node b3 has no in-edges.
HETERO_NUM_NODES = {"a": 5, "b": 4, "c": 3}
HETERO_EDGES: dict[CanonicalEtype, tuple[list[int], list[int]]] = {
    ("a", "r1", "b"): ([0, 1, 2, 4, 4], [0, 0, 1, 2, 1]),
    ("b", "r2", "a"): ([0, 1, 2, 2, 3], [0, 0, 1, 3, 4]),
    ("a", "r0", "a"): ([0, 1, 2, 3], [1, 2, 3, 3]),
    ("c", "r3", "a"): ([], []),
    ("a", "r4", "c"): ([0, 3], [0, 2]),
}
HETERO_EFEAT_REL: CanonicalEtype = ("a", "r1", "b")
HETERO_HIDDEN = 8


def hetero_graph() -> RelationalGraph:
    """``HETERO_EDGES`` as our edge lists (int64)."""
    edges = {et: (torch.tensor(s, dtype=torch.int64), torch.tensor(d, dtype=torch.int64))
             for et, (s, d) in HETERO_EDGES.items()}
    return RelationalGraph(dict(HETERO_NUM_NODES), edges)


@dataclasses.dataclass(frozen=True)
class ReferenceCase:
    """One encoder configuration compared with DGL.

    Attributes:
        encoder: ``model_encoder_type`` (sage, gat, gatv2 on the homogeneous graph; rgcn, rgat
            on the heterogeneous one).
        label: the case's short name (test id and recording file stem).
        gnn: the ``gsf.gnn`` options on top of the defaults of ``gsf()``.
        num_edges: random edges of the homogeneous graph (None: the fixed heterogeneous graph).
    """

    encoder: str
    label: str
    gnn: dict[str, Any]
    num_edges: int | None = None

    @property
    def name(self) -> str:
        """``<encoder>/<label>``: unique over all cases; the recording's path stem."""
        return f"{self.encoder}/{self.label}"

    @property
    def homogeneous(self) -> bool:
        """Whether the case runs on the homogeneous ``_N`` graph."""
        return self.num_edges is not None

    @property
    def atol_rtol(self) -> tuple[float, float]:
        """Tolerances of the comparison (as when the tests called DGL directly)."""
        return (1e-5, 1e-5) if self.homogeneous else (1e-5, 0.0)

    def gsf(self) -> dict[str, Any]:
        """The case's full ``gsf`` config dict (node classification)."""
        if self.homogeneous:
            basic = {"model_encoder_type": self.encoder, "node_feat_name": [f"{HOMOGENEOUS_NTYPE}:feat"]}
            gnn = {"hidden_size": HOMOGENEOUS_HIDDEN, "num_layers": 2}
            task = {"target_ntype": HOMOGENEOUS_NTYPE, "num_classes": 2}
        else:
            basic = {"model_encoder_type": self.encoder, "node_feat_name": [f"{nt}:x" for nt in HETERO_NUM_NODES]}
            gnn = {"hidden_size": HETERO_HIDDEN, "num_layers": 3}
            task = {"target_ntype": "a", "num_classes": 3}
        return {"basic": basic, "gnn": {**gnn, **self.gnn}, "node_classification": task}

    def config(self) -> ModelConfig:
        """The parsed ``ModelConfig`` of ``gsf()``."""
        return ModelConfig.from_dict({"gsf": self.gsf()})


def _homogeneous(encoder: str, variants: dict[str, dict[str, Any]]) -> list[ReferenceCase]:
    """Each variant on an edgeless graph and on a random 20-edge graph."""
    return [ReferenceCase(encoder, f"{label}-{num_edges}edges", gnn, num_edges)
            for label, gnn in variants.items() for num_edges in (0, 20)]


# The GAT / GATv2 options checked (heads, feed-forward layers, out size, depth).
_ATTENTION_VARIANTS = {
    "2heads": {"num_heads": 2},
    "4heads_ffn_out": {"num_heads": 4, "num_ffn_layers_in_gnn": 1, "out_emb_size": 12},
    "1head_3layers": {"num_heads": 1, "num_layers": 3},
    "1layer": {"num_heads": 2, "num_layers": 1},
}
_SAGE_VARIANTS = {
    "plain": {},
    "layernorm_ffn_out": {"gnn_norm": "layer", "num_ffn_layers_in_gnn": 1, "out_emb_size": 6},
    "batchnorm_3layers": {"gnn_norm": "batch", "num_layers": 3},
}
# RGCN options the fixtures do not cover: basis decomposition, norm, feed-forward layers,
# every edge-feature message op.
_RGCN_VARIANTS = {
    "default": {},
    "bases2": {"num_bases": 2},
    "layernorm_ffn2_out5": {"gnn_norm": "layer", "num_ffn_layers_in_gnn": 2, "out_emb_size": 5},
    "batchnorm_no_self_loop": {"gnn_norm": "batch", "use_self_loop": False},
    **{f"efeat_{op}": {"edge_feat_name": [f"{','.join(HETERO_EFEAT_REL)}:w"], "edge_feat_mp_op": op}
       for op in ("concat", "add", "sub", "mul", "div")},
}
_RGAT_VARIANTS = {
    "default": {},
    "heads2_norm_ffn": {"num_heads": 2, "gnn_norm": "layer", "num_ffn_layers_in_gnn": 1},
    "no_self_loop": {"use_self_loop": False},
}

CASES: dict[str, list[ReferenceCase]] = {
    "sage": _homogeneous("sage", _SAGE_VARIANTS),
    "gat": _homogeneous("gat", _ATTENTION_VARIANTS),
    "gatv2": _homogeneous("gatv2", _ATTENTION_VARIANTS),
    "rgcn": [ReferenceCase("rgcn", label, gnn) for label, gnn in _RGCN_VARIANTS.items()],
    "rgat": [ReferenceCase("rgat", label, gnn) for label, gnn in _RGAT_VARIANTS.items()],
}


def parametrize_cases(encoder: str) -> pytest.MarkDecorator:
    """``@pytest.mark.parametrize("case", ...)`` over ``encoder``'s cases, ids = labels."""
    return pytest.mark.parametrize("case", CASES[encoder], ids=[c.label for c in CASES[encoder]])
