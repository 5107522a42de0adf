"""Model inputs from a fixture's ``intermediate/<case>.npz`` (the graph GraphStorm built).

The npz holds ``node_ids/<ntype>``, ``node_feat/<ntype>/<feat>`` (transformed),
``edge_src|edge_dst/<src,rel,dst>`` and ``edge_feat/<src,rel,dst>/<feat>``, with only the
relations present in the payload; the model's other relations are added empty here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from handler.contract.graph_schema import GraphSchema
from handler.contract.model_config import ModelConfig
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph
from tests.compare import FIXTURES_DIR

LEARNABLE_FEATURE = "gs_learnable_embedding"


@dataclass(frozen=True)
class NpzCase:
    """A payload graph as model inputs.

    Attributes:
        graph: every model relation, maybe empty.
        node_inputs: node type -> model inputs (config feature order, float32).
        edge_inputs: edge type -> edge features (config feature order), edge types with any.
        targets: node type -> target node indices, in the payload's ``targets`` order.
        target_keys: (node_type, node_id) per target, in payload order.
    """

    graph: RelationalGraph
    node_inputs: dict[str, torch.Tensor]
    edge_inputs: dict[CanonicalEtype, torch.Tensor]
    targets: dict[str, torch.Tensor]
    target_keys: list[tuple[str, str]]

    @property
    def positions(self) -> dict[str, tuple[torch.Tensor]]:
        """``targets`` as the model reads them: node type -> ``(nodes,)``."""
        return {nt: (idx,) for nt, idx in self.targets.items()}


def model_etypes(variant: str) -> list[CanonicalEtype]:
    """The model's relations, from the fixture's ``data_transform_new.json`` (GConstruct order)."""
    schema = GraphSchema.from_file(FIXTURES_DIR / variant / "artifacts" / "data_transform_new.json")
    return list(schema.canonical_etypes)


def model_ntypes(variant: str) -> list[str]:
    """The graph's node types, from ``data_transform_new.json``."""
    spec = json.loads((FIXTURES_DIR / variant / "artifacts" / "data_transform_new.json").read_text())
    return [n["node_type"] for n in spec["nodes"]]


def load_config(variant: str) -> ModelConfig:
    """The fixture's training config."""
    path = FIXTURES_DIR / variant / "artifacts" / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"
    return ModelConfig.from_yaml(path, ntypes=model_ntypes(variant), canonical_etypes=model_etypes(variant))


def npz_cases(variant: str) -> list[str]:
    """Names of the cases with an ``intermediate/<case>.npz``."""
    return sorted(p.stem for p in (FIXTURES_DIR / variant / "intermediate").glob("*.npz"))


def load_npz_case(variant: str, case: str, config: ModelConfig, nan_to_zero: bool = False) -> NpzCase:
    """Reads ``intermediate/<case>.npz`` and the payload's targets as model inputs.

    Args:
        variant: fixture name.
        case: case name.
        config: the fixture's config (feature names and order).
        nan_to_zero: replace NaN features by 0 (target rule T5: rank_gauss over one node).

    Returns:
        The case as model inputs.
    """
    root = FIXTURES_DIR / variant
    data = np.load(root / "intermediate" / f"{case}.npz", allow_pickle=False)
    ntypes = model_ntypes(variant)
    node_ids = {nt: [str(x) for x in data[f"node_ids/{nt}"]] if f"node_ids/{nt}" in data else []
                for nt in ntypes}
    graph = RelationalGraph(
        num_nodes={nt: len(ids) for nt, ids in node_ids.items()},
        edges={et: _edges(data, et) for et in model_etypes(variant)},
    )
    node_inputs = {}
    for nt, ids in node_ids.items():
        names = config.node_feat_names.get(nt, (LEARNABLE_FEATURE,))
        if ids:
            node_inputs[nt] = _concat(data, [f"node_feat/{nt}/{n}" for n in names], nan_to_zero)
    edge_inputs = {}
    for et, names in config.edge_feat_names.items():
        key = ",".join(et)
        if f"edge_src/{key}" in data:
            edge_inputs[et] = _concat(data, [f"edge_feat/{key}/{n}" for n in names], nan_to_zero)
    payload = json.loads((root / "payloads" / f"{case}.json").read_text())
    target_keys = [(t["node_type"], t["node_id"]) for t in payload["targets"]]
    targets: dict[str, list[int]] = {}
    for nt, nid in target_keys:
        targets.setdefault(nt, []).append(node_ids[nt].index(nid))
    return NpzCase(
        graph=graph,
        node_inputs=node_inputs,
        edge_inputs=edge_inputs,
        targets={nt: torch.tensor(idx, dtype=torch.int64) for nt, idx in targets.items()},
        target_keys=target_keys,
    )


def _edges(data: np.lib.npyio.NpzFile, etype: CanonicalEtype) -> tuple[torch.Tensor, torch.Tensor]:
    key = ",".join(etype)
    if f"edge_src/{key}" not in data:
        empty = torch.zeros(0, dtype=torch.int64)
        return empty, empty.clone()
    return (torch.from_numpy(data[f"edge_src/{key}"].astype(np.int64)),
            torch.from_numpy(data[f"edge_dst/{key}"].astype(np.int64)))


def _concat(data: np.lib.npyio.NpzFile, keys: list[str], nan_to_zero: bool) -> torch.Tensor:
    arrays = [data[k].astype(np.float32).reshape(len(data[k]), -1) for k in keys]
    x = np.concatenate(arrays, axis=1)
    if nan_to_zero:
        x = np.nan_to_num(x, nan=0.0)
    return torch.from_numpy(x)


def target_predictions(variant: str, case: str) -> list[tuple[str, str, list[float]]]:
    """``target/<case>.json``'s results as (node_type, node_id, prediction)."""
    body = json.loads((FIXTURES_DIR / variant / "target" / f"{case}.json").read_text())
    return [(r["node_type"], r["node_id"], r["prediction"]) for r in body["data"]["results"]]


def fixture_path(variant: str, *parts: str) -> Path:
    """A path inside a fixture."""
    return FIXTURES_DIR.joinpath(variant, *parts)
