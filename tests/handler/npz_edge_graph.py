"""Edge-model inputs from an edge fixture's ``intermediate/<case>.npz`` (the graph GraphStorm built).

Like ``npz_graph.load_npz_case``, with the payload's edge targets as (source, destination)
index pairs per target relation, and GraphStorm's message-passing rule applied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch

from handler.contract.model_config import ModelConfig
from handler.inputs.edge_message_passing import MessagePassingRule, apply_kept, kept_edges
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph
from tests.handler.npz_graph import fixture_path, model_etypes, model_ntypes

EDGE_VARIANTS = ["rgcn_ec", "hgt_er", "rgcn_lp"]
EdgeKey = tuple[CanonicalEtype, str, str]


@dataclass(frozen=True)
class NpzEdgeCase:
    """A payload graph as edge-model inputs.

    Attributes:
        graph: the payload graph BEFORE the message-passing rule (every model relation).
        edge_inputs: edge type -> edge features (config order), BEFORE the rule.
        node_inputs: node type -> model inputs (config feature order, float32, NaN -> 0: T5).
        targets: target relation -> (source indices, destination indices), payload order.
        target_keys: (edge_type, src_node_id, dest_node_id) per target, payload order.
    """

    graph: RelationalGraph
    node_inputs: dict[str, torch.Tensor]
    edge_inputs: dict[CanonicalEtype, torch.Tensor]
    targets: dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]]
    target_keys: list[EdgeKey]

    def after_rule(self, rule: MessagePassingRule) -> tuple[RelationalGraph, dict[CanonicalEtype, torch.Tensor]]:
        """The graph and edge inputs the model sees under ``rule``."""
        edges, inputs = apply_kept(self.graph.edges, self.edge_inputs,
                                   kept_edges(rule, self.graph.edges, self.targets))
        return RelationalGraph(num_nodes=dict(self.graph.num_nodes), edges=edges), inputs


def load_npz_edge_case(variant: str, case: str, config: ModelConfig) -> NpzEdgeCase:
    """Reads ``intermediate/<case>.npz`` and the payload's edge targets.

    Args:
        variant: fixture name.
        case: case name.
        config: the fixture's config (feature names and order).

    Returns:
        The case as model inputs.
    """
    data = np.load(fixture_path(variant, "intermediate", f"{case}.npz"), allow_pickle=False)
    node_ids = {nt: [str(x) for x in data[f"node_ids/{nt}"]] if f"node_ids/{nt}" in data else []
                for nt in model_ntypes(variant)}
    edges = {}
    edge_inputs = {}
    for etype in model_etypes(variant):
        key = ",".join(etype)
        if f"edge_src/{key}" in data:
            edges[etype] = (torch.from_numpy(data[f"edge_src/{key}"].astype(np.int64)),
                            torch.from_numpy(data[f"edge_dst/{key}"].astype(np.int64)))
            if etype in config.edge_feat_names:
                edge_inputs[etype] = _concat(data, [f"edge_feat/{key}/{n}" for n in config.edge_feat_names[etype]])
        else:
            empty = torch.zeros(0, dtype=torch.int64)
            edges[etype] = (empty, empty.clone())
    node_inputs = {nt: _concat(data, [f"node_feat/{nt}/{n}" for n in names])
                   for nt, names in config.node_feat_names.items() if node_ids.get(nt)}
    payload = json.loads(fixture_path(variant, "payloads", f"{case}.json").read_text())
    target_keys: list[EdgeKey] = [(tuple(t["edge_type"]), t["src_node_id"], t["dest_node_id"])
                                  for t in payload["targets"]]
    pairs: dict[CanonicalEtype, tuple[list[int], list[int]]] = {}
    for etype, src_id, dst_id in target_keys:
        src, dst = pairs.setdefault(etype, ([], []))
        src.append(node_ids[etype[0]].index(src_id))
        dst.append(node_ids[etype[2]].index(dst_id))
    return NpzEdgeCase(
        graph=RelationalGraph(num_nodes={nt: len(ids) for nt, ids in node_ids.items()}, edges=edges),
        node_inputs=node_inputs,
        edge_inputs=edge_inputs,
        targets={et: (torch.tensor(s), torch.tensor(d)) for et, (s, d) in pairs.items()},
        target_keys=target_keys,
    )


def _concat(data: np.lib.npyio.NpzFile, keys: list[str]) -> torch.Tensor:
    # NaN only comes from rank_gauss over one node, which target/ computes as 0 (T5).
    x = np.concatenate([data[k].astype(np.float32).reshape(len(data[k]), -1) for k in keys], axis=1)
    return torch.from_numpy(np.nan_to_num(x, nan=0.0))


def edge_target_predictions(variant: str, case: str) -> list[tuple[EdgeKey, list[float]]]:
    """``target/<case>.json``'s results as ((edge_type, src_node_id, dest_node_id), prediction)."""
    body = json.loads(fixture_path(variant, "target", f"{case}.json").read_text())
    return [((tuple(r["edge_type"]), r["src_node_id"], r["dest_node_id"]), r["prediction"])
            for r in body["data"]["results"]]


def target_status(variant: str, case: str) -> int:
    """``target/<case>.json``'s status code."""
    return json.loads(fixture_path(variant, "target", f"{case}.json").read_text())["status_code"]
