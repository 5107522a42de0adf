"""``RealtimePredictor.predict`` taken apart into timed stages, for the per-stage breakdown.

The stages call the same internals, in the same order, as ``parse_request``,
``GraphBuilder.build`` and ``RealtimePredictor.run``; ``StagedRequest.run`` returns the
serialized envelope so the benchmark can check it equals ``predict``'s (a drifted copy fails
loudly instead of timing something else). Valid requests only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from handler import RealtimePredictor, envelope
from handler.graph_builder import PayloadGraph
from handler.payload import RealtimeRequest, _check_task, _decode_json, _parse_targets
from handler.payload_groups import graph_lists, group_edges, group_nodes, index_nodes
from handler.predictor import PreparedRequest, _disjoint_union, _gc_paused

STAGES = ("json_parse", "validation", "graph_build", "transforms", "forward", "envelope")


class StagedRequest:
    """One request body run stage by stage.

    Args:
        predictor: the predictor whose internals run.
        body: a valid request body.

    Attributes:
        timings_ms: stage -> milliseconds of the last ``run``.
        graph: the payload graph of the last ``run``.
        union: the model inputs of the last ``run``.
    """

    def __init__(self, predictor: RealtimePredictor, body: bytes) -> None:
        self.p = predictor
        self.body = body
        self.timings_ms: dict[str, float] = {}
        self.graph: PayloadGraph | None = None
        self.union = None

    def _timed(self, stage: str, func: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = func()
        self.timings_ms[stage] = self.timings_ms.get(stage, 0.0) + (time.perf_counter() - start) * 1000
        return out

    def run(self) -> bytes:
        """Answers the request; returns the serialized envelope."""
        with _gc_paused():  # as prepare and run do
            return self._run()

    def _run(self) -> bytes:
        self.timings_ms = {}
        b = self.p.builder
        payload = self._timed("json_parse", lambda: _decode_json(self.body))
        request, nodes, edges, groups = self._timed("validation", lambda: self._validate(payload))
        node_groups, edge_groups = groups
        node_ids, node_index = self._timed("validation", lambda: index_nodes(node_groups))
        node_features, edge_features = self._timed("transforms", lambda: (
            {nt: b._transform_nodes(nt, g) for nt, g in node_groups.items()},
            {et: b._transform_edges(et, g) for et, g in edge_groups.items()},
        ))
        edge_lists = self._timed("graph_build", lambda: {
            et: b._map_edges(et, g, node_index) for et, g in edge_groups.items()})
        if b.schema.add_reverse_edges:
            self._timed("graph_build", lambda: b._add_reverse_edges(edge_lists, edge_features))
        target_index = self._timed("validation", lambda: (
            b._check_model_features(node_features, edge_features),
            b._target_index(request.targets, node_index))[1])
        node_inputs, edge_inputs = self._timed("transforms", lambda: (
            b._node_inputs(node_features, node_ids), b._edge_inputs(edge_features, edge_lists)))
        prepared = self._timed("graph_build", lambda: self._assemble(
            request, node_ids, edge_lists, node_inputs, edge_inputs, target_index,
            node_features, edge_features))
        self.graph = prepared.graph
        self.union = self._timed("graph_build", lambda: _disjoint_union([prepared.graph]))
        out = self._timed("forward", self._forward)
        return self._timed("envelope", lambda: envelope.dumps(
            self.p._envelope(prepared, self.union.rows[0], out)))

    def _validate(self, payload: Any) -> tuple[RealtimeRequest, list, list, tuple[dict, dict]]:
        """``parse_request``'s checks after the JSON, then the builder's structure checks."""
        uid = envelope.request_uid(self.body)
        gml_task = _check_task(payload.get("gml_task"), self.p.config.task_type)
        request = RealtimeRequest(uid=uid, gml_task=gml_task, targets=_parse_targets(payload.get("targets")),
                                  payload=payload)
        nodes, edges = graph_lists(payload)
        return request, nodes, edges, (group_nodes(nodes, self.p.schema), group_edges(edges, self.p.schema))

    def _assemble(self, request, node_ids, edge_lists, node_inputs, edge_inputs, target_index,
                  node_features, edge_features) -> PreparedRequest:
        schema = self.p.schema
        empty = torch.zeros(0, dtype=torch.int64)
        graph = PayloadGraph(
            num_nodes_by_type={nt: len(node_ids.get(nt, ())) for nt in schema.ntypes},
            edges={et: edge_lists.get(et, (empty, empty)) for et in schema.canonical_etypes},
            node_inputs=node_inputs, edge_inputs=edge_inputs, targets=request.targets,
            target_index=target_index, node_ids=node_ids, node_features=node_features,
            edge_features=edge_features,
        )
        return PreparedRequest(uid=request.uid, graph=graph)

    def _forward(self) -> dict:
        u = self.union
        out = self.p.model.predict(u.graph, u.node_inputs, u.edge_inputs, u.targets)
        return {nt: t.detach().float().cpu() for nt, t in out.items()}
