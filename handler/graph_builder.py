"""Payload graph construction: a checked ``RealtimeRequest`` to the model's inputs.

Mirrors GraphStorm 0.5.1's ``process_json_payload_graph`` plus the model-aware checks of
``node_prediction_entry.transform_fn``, in their order: graph structure and types (411),
feature transforms (411), edge endpoints (411), model features (404), targets (403/404).
Differences (``docs/compatibility.md``): an edgeless payload is valid (T4), every model
relation is present in the graph even without edges (H1), NaN/inf values name node and
feature (T10), a target type the model does not predict is a 403 (T8).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import dgl
import numpy as np
import torch

from handler.config import ModelConfig
from handler.errors import (
    GraphConstructionError,
    InternalError,
    MissingFieldDataError,
    MissingModelFeatureError,
    TargetNodeIdError,
    TargetNodeTypeError,
    UnsupportedConfigError,
)
from handler.payload import RealtimeRequest, Target
from handler.schema import LEARNABLE_EMBEDDING_KEY, CanonicalEtype, FeatureSpec, GraphSchema
from handler.transforms import (
    FeatureTransform,
    FeatureValueError,
    build_transform,
    learnable_embedding_transform,
)

# A feature's transform and its expected output shape (None: unchecked).
_Compiled = tuple[FeatureTransform, tuple[int, ...] | None]


@dataclass(frozen=True)
class PayloadGraph:
    """One request's graph and model inputs.

    Attributes:
        num_nodes_by_type: every model node type -> its number of nodes in the payload (maybe 0).
        edges: every model relation -> ``(src, dst)`` int64 local node indices, in payload
            order (empty tensors for relations the payload lacks).
        node_inputs: node type -> model input (features of ``config.node_feat_names`` in order,
            or learnable embeddings), for node types with nodes.
        edge_inputs: relation -> edge features of ``config.edge_feat_names``, for relations
            with edges that the model takes features for.
        targets: the listed targets, in request order (duplicates kept).
        target_index: local node index of each listed target.
        node_ids: node type -> raw node ids in local (first-appearance) order.
        node_features: node type -> feature name -> transformed values (every configured
            feature the payload carries, used by the model or not).
        edge_features: relation -> feature name -> transformed values.

    Shapes:
        node_inputs[nt]: [num_nodes(nt), in_dim]; edge_inputs[et]: [num_edges(et), e_dim].
    """

    num_nodes_by_type: dict[str, int]
    edges: dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]]
    node_inputs: dict[str, torch.Tensor]
    edge_inputs: dict[CanonicalEtype, torch.Tensor]
    targets: tuple[Target, ...]
    target_index: tuple[int, ...]
    node_ids: dict[str, list[Any]]
    node_features: dict[str, dict[str, np.ndarray]] = field(repr=False)
    edge_features: dict[CanonicalEtype, dict[str, np.ndarray]] = field(repr=False)

    @cached_property
    def graph(self) -> dgl.DGLGraph:
        """The payload graph as a ``DGLGraph`` (built on first use: serving does not need it)."""
        return dgl.heterograph(self.edges, num_nodes_dict=self.num_nodes_by_type, idtype=torch.int64)

    @property
    def num_nodes(self) -> int:
        """Nodes in the payload."""
        return sum(self.num_nodes_by_type.values())

    @property
    def num_edges(self) -> int:
        """Edges in the payload."""
        return sum(len(src) for src, _ in self.edges.values())


_NO_FEATURES = object()


class _TypeGroup:
    """The payload's nodes (or edges) of one type, gathered in payload order.

    Attributes:
        where: how errors name a member, e.g. "node type paper, node id".
        keys: feature keys of the first member with a ``features`` field (None: none has).
        ids: member ids (node id, or ``(src, dst)``) in payload order.
        features: each member's ``features`` object (``{}`` when absent).
        missing_features: id of the first member without a ``features`` field, if any.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.keys: frozenset[str] | None = None
        self.ids: list[Any] = []
        self.features: list[dict[str, Any]] = []
        self.missing_features: Any = None

    def takes(self, feats: Any) -> bool:
        """Whether ``add`` would just append a member with this ``features`` value (no checks
        left: the same keys as the type's first member, or missing like an earlier member's)."""
        if feats is _NO_FEATURES:
            return self.missing_features is not None
        return type(feats) is dict and feats.keys() == self.keys

    def add(self, item: dict[str, Any], member_id: Any) -> None:
        """Adds a member, checking its features object as GraphStorm does (same keys for all)."""
        self.ids.append(member_id)
        feats = item.get("features", _NO_FEATURES)
        if type(feats) is dict and feats.keys() == self.keys:  # fast path: same keys as the first
            self.features.append(feats)
            return
        if feats is _NO_FEATURES:
            if self.missing_features is None:
                self.missing_features = member_id
            self.features.append({})
            return
        if type(feats) is not dict:
            raise GraphConstructionError(f"{self.where} {_format_id(member_id)}: the 'features' field must be an object")
        if self.keys is None:
            self.keys = frozenset(feats)
        elif len(feats) != len(self.keys) or not self.keys.issuperset(feats):
            raise GraphConstructionError(
                f"{self.where} {_format_id(member_id)}: feature keys {sorted(feats)} differ from the "
                f"type's first member's {sorted(self.keys)}"
            )
        self.features.append(feats)


class GraphBuilder:
    """Builds ``PayloadGraph``s for one model (transforms compiled once).

    Args:
        schema: graph schema of ``data_transform_new.json``.
        config: the model config.
    """

    def __init__(self, schema: GraphSchema, config: ModelConfig) -> None:
        self.schema = schema
        self.config = config
        self._etypes = set(schema.canonical_etypes)
        self._node_transforms = {nt: self._compile(specs, config.node_feat_names.get(nt, ()))
                                 for nt, specs in schema.node_features.items()}
        self._edge_transforms = {et: self._compile(specs, config.edge_feat_names.get(et, ()))
                                 for et, specs in schema.edge_features.items()}
        self._learnable = (learnable_embedding_transform(LEARNABLE_EMBEDDING_KEY), None)

    @staticmethod
    def _compile(specs: Sequence[FeatureSpec], used: Sequence[str]) -> dict[str, _Compiled]:
        """Transform and output shape by feature name; features the model does not read may
        use transforms this server lacks (their payload values are then ignored)."""
        compiled = {}
        for spec in specs:
            try:
                compiled[spec.name] = (build_transform(spec), spec.dim)
            except UnsupportedConfigError:
                if spec.name in used:
                    raise
        return compiled

    def build(self, request: RealtimeRequest) -> PayloadGraph:
        """Checks the payload graph against the model and builds its inputs.

        Args:
            request: a request that passed ``parse_request``.

        Returns:
            The payload graph.

        Raises:
            RealtimeError: 411 (graph), 404 (model feature, target id), 403 (target type),
                402 (empty node id), 500 (learnable embeddings missing, as GraphStorm).
        """
        nodes, edges = self._graph_lists(request.payload)
        node_groups = self._group_nodes(nodes)
        edge_groups = self._group_edges(edges)
        node_ids, node_index = self._index_nodes(node_groups)
        node_features = {nt: self._transform_nodes(nt, g) for nt, g in node_groups.items()}
        edge_lists = {et: self._map_edges(et, g, node_index) for et, g in edge_groups.items()}
        edge_features = {et: self._transform_edges(et, g) for et, g in edge_groups.items()}
        self._check_model_features(node_features, edge_features)
        target_index = self._target_index(request.targets, node_index)
        node_inputs = self._node_inputs(node_features, node_ids)
        edge_inputs = self._edge_inputs(edge_features, edge_lists)
        empty = torch.zeros(0, dtype=torch.int64)
        return PayloadGraph(
            num_nodes_by_type={nt: len(node_ids.get(nt, ())) for nt in self.schema.ntypes},
            edges={et: edge_lists.get(et, (empty, empty)) for et in self.schema.canonical_etypes},
            node_inputs=node_inputs,
            edge_inputs=edge_inputs,
            targets=request.targets,
            target_index=target_index,
            node_ids=node_ids,
            node_features=node_features,
            edge_features=edge_features,
        )

    # -- structure (GraphStorm's verify_payload_conf) ----------------------------------

    @staticmethod
    def _graph_lists(payload: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        if "graph" not in payload:
            raise GraphConstructionError("Missing required key: graph in JSON request payload.")
        graph = payload["graph"]
        if not isinstance(graph, dict):
            raise GraphConstructionError(f"the 'graph' field must be an object, but got {graph!r:.80}")
        for key in ("nodes", "edges"):
            if key not in graph:
                raise GraphConstructionError(f"Missing required key: {key} in JSON request payload graph field.")
            if not isinstance(graph[key], list):
                raise GraphConstructionError(f"the graph's '{key}' field must be a list")
        return graph["nodes"], graph["edges"]

    def _group_nodes(self, nodes: list[Any]) -> dict[str, _TypeGroup]:
        groups: dict[str, _TypeGroup] = {}
        for pos, node in enumerate(nodes):
            try:  # fastest path: like the type's first node, with a non-empty string id
                group = groups[node["node_type"]]
                node_id, feats = node["node_id"], node.get("features", _NO_FEATURES)
                if type(node_id) is str and node_id and group.takes(feats):
                    group.ids.append(node_id)
                    group.features.append({} if feats is _NO_FEATURES else feats)
                    continue
            except (TypeError, KeyError):
                pass
            try:  # fast path: a well-formed node of a type already seen
                group = groups[node["node_type"]]
                node_id = node["node_id"]
            except (TypeError, KeyError):
                group, node_id = self._new_node_type(pos, node, groups)
            if type(node_id) is not str or not node_id:
                node_id = _check_id(node_id, "node_id", f"graph.nodes[{pos}], node type {node['node_type']}")
            group.add(node, node_id)
        for ntype, group in groups.items():
            if group.keys is not None and group.missing_features is not None:
                raise GraphConstructionError(
                    f"node type {ntype}, node id {group.missing_features}: no 'features' field, "
                    "but other nodes of the type have one"
                )
        return groups

    def _new_node_type(self, pos: int, node: Any, groups: dict[str, _TypeGroup]) -> tuple[_TypeGroup, Any]:
        """Checks a node that is not a well-formed node of a seen type; starts its group."""
        where = f"graph.nodes[{pos}]"
        if not isinstance(node, dict):
            raise GraphConstructionError(f"{where} must be an object")
        if "node_type" not in node:
            raise GraphConstructionError(f"Missing required key: node_type in {where}.")
        ntype = node["node_type"]
        if not isinstance(ntype, str) or ntype not in self.schema.node_features:
            raise GraphConstructionError(
                f"{where}: node type {ntype!r} is not a node type of the model's graph "
                f"(known: {', '.join(self.schema.ntypes)})"
            )
        if "node_id" not in node:
            raise GraphConstructionError(f"Missing required key: node_id in {where} (node type {ntype}).")
        group = groups.setdefault(ntype, _TypeGroup(f"node type {ntype}, node id"))
        return group, node["node_id"]

    def _group_edges(self, edges: list[Any]) -> dict[CanonicalEtype, _TypeGroup]:
        groups: dict[CanonicalEtype, _TypeGroup] = {}
        for pos, edge in enumerate(edges):
            try:  # fastest path: like the type's first edge, with non-empty string ids
                group = groups[_etype_key(edge["edge_type"])]
                src, dst, feats = edge["src_node_id"], edge["dest_node_id"], edge.get("features", _NO_FEATURES)
                if type(src) is str and src and type(dst) is str and dst and group.takes(feats):
                    group.ids.append((src, dst))
                    group.features.append({} if feats is _NO_FEATURES else feats)
                    continue
            except (TypeError, KeyError):
                pass
            try:  # fast path: a well-formed edge of a type already seen
                group = groups[_etype_key(edge["edge_type"])]
                src, dst = edge["src_node_id"], edge["dest_node_id"]
            except (TypeError, KeyError):
                group, src, dst = self._new_edge_type(pos, edge, groups)
            if type(src) is not str or not src or type(dst) is not str or not dst:
                where = f"graph.edges[{pos}], edge type {edge['edge_type']}"
                src = _check_id(src, "src_node_id", where)
                dst = _check_id(dst, "dest_node_id", where)
            group.add(edge, (src, dst))
        for etype, group in groups.items():
            if group.keys is not None and group.missing_features is not None:
                src, dst = group.missing_features
                raise GraphConstructionError(
                    f"edge type {list(etype)}, edge {src} -> {dst}: no 'features' field, but other "
                    "edges of the type have one"
                )
        return groups

    def _new_edge_type(self, pos: int, edge: Any,
                       groups: dict[CanonicalEtype, _TypeGroup]) -> tuple[_TypeGroup, Any, Any]:
        """Checks an edge that is not a well-formed edge of a seen type; starts its group."""
        where = f"graph.edges[{pos}]"
        if not isinstance(edge, dict):
            raise GraphConstructionError(f"{where} must be an object")
        if "edge_type" not in edge:
            raise GraphConstructionError(f"Missing required key: edge_type in {where}.")
        raw_type = edge["edge_type"]
        etype = tuple(raw_type) if isinstance(raw_type, list) and all(
            isinstance(p, str) for p in raw_type) else None
        if etype not in self._etypes:
            raise GraphConstructionError(
                f"{where}: edge type {raw_type!r} is not a relation of the model's graph "
                f"(known: {', '.join(str(list(et)) for et in self.schema.canonical_etypes)})"
            )
        for key in ("src_node_id", "dest_node_id"):
            if key not in edge:
                raise GraphConstructionError(f"Missing required key: {key} in {where} (edge type {raw_type}).")
        group = groups.setdefault(etype, _TypeGroup(f"edge type {raw_type}, edge"))
        return group, edge["src_node_id"], edge["dest_node_id"]

    @staticmethod
    def _index_nodes(groups: dict[str, _TypeGroup]) -> tuple[dict[str, list[Any]], dict[str, dict[Any, int]]]:
        ids, index = {}, {}
        for ntype, group in groups.items():
            local = {node_id: pos for pos, node_id in enumerate(group.ids)}
            if len(local) != len(group.ids):
                seen: set[Any] = set()
                for node_id in group.ids:
                    if node_id in seen:
                        raise GraphConstructionError(f"node type {ntype}: node id {node_id} is listed twice")
                    seen.add(node_id)
            ids[ntype], index[ntype] = group.ids, local
        return ids, index

    # -- features ----------------------------------------------------------------------

    def _transform_nodes(self, ntype: str, group: _TypeGroup) -> dict[str, np.ndarray]:
        transforms = self._node_transforms.get(ntype, {})
        if transforms and not group.keys:
            raise GraphConstructionError(f"node type {ntype}: the nodes carry no features")
        feats = {}
        for name in group.keys or ():
            compiled = transforms.get(name)
            if compiled is None and name == LEARNABLE_EMBEDDING_KEY:
                compiled = self._learnable
            if compiled is not None:
                feats[name] = self._apply(compiled, group, f"node type {ntype}", "node id")
        return feats

    def _transform_edges(self, etype: CanonicalEtype, group: _TypeGroup) -> dict[str, np.ndarray]:
        transforms = self._edge_transforms.get(etype, {})
        if transforms and not group.keys:
            raise GraphConstructionError(f"edge type {list(etype)}: the edges carry no features")
        # Unlike node features, GraphStorm transforms every configured edge feature, so the
        # payload's edges must carry all of them, used by the model or not.
        for name in transforms:
            if name not in group.keys:
                raise GraphConstructionError(
                    f"edge type {list(etype)}: the edges lack feature '{name}' of the graph "
                    "construction config"
                )
        return {name: self._apply(compiled, group, f"edge type {list(etype)}", "edge")
                for name, compiled in transforms.items()}

    @staticmethod
    def _apply(compiled: _Compiled, group: _TypeGroup, where: str, id_word: str) -> np.ndarray:
        transform, dim = compiled
        name = transform.name
        values = [f[name] for f in group.features]
        try:
            out = transform.apply(values)
        except FeatureValueError as err:
            at = "" if err.row is None else f", {id_word} {_format_id(group.ids[err.row])}"
            raise GraphConstructionError(f"{where}{at}: feature '{name}' {err.reason}") from None
        if dim is not None and out.shape[1:] != dim:
            raise GraphConstructionError(
                f"{where}: feature '{name}' has {out.shape[1]} values per row after its transform, "
                f"expected {dim[0] if len(dim) == 1 else dim}"
            )
        return out

    def _map_edges(self, etype: CanonicalEtype, group: _TypeGroup,
                   node_index: dict[str, dict[Any, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        src_type, _, dst_type = etype
        src_map, dst_map = node_index.get(src_type, {}), node_index.get(dst_type, {})
        try:  # fast path: every endpoint is a payload node
            src = [src_map[s] for s, _ in group.ids]
            dst = [dst_map[d] for _, d in group.ids]
            return torch.tensor(src, dtype=torch.int64), torch.tensor(dst, dtype=torch.int64)
        except KeyError:
            pass
        for s, d in group.ids:
            if s not in src_map or d not in dst_map:
                side, ntype, node_id = ("source", src_type, s) if s not in src_map else ("destination", dst_type, d)
                raise GraphConstructionError(
                    f"edge type {list(etype)}, edge {s} -> {d}: the {side} node {node_id} is not a "
                    f"{ntype} node of the payload"
                )
        raise InternalError(f"edge type {list(etype)}: an endpoint lookup failed")

    # -- model-aware checks (transform_fn) ---------------------------------------------

    def _check_model_features(self, node_features: dict[str, dict[str, np.ndarray]],
                              edge_features: dict[CanonicalEtype, dict[str, np.ndarray]]) -> None:
        for ntype, feats in node_features.items():
            for name in self.config.node_feat_names.get(ntype, ()):
                if name not in feats:
                    raise MissingModelFeatureError(
                        f"the {ntype} nodes do not contain model required feature: {name}"
                    )
        for etype, feats in edge_features.items():
            for name in self.config.edge_feat_names.get(etype, ()):
                if name not in feats:
                    raise MissingModelFeatureError(
                        f"the {list(etype)} edges do not contain model required feature: {name}"
                    )

    def _target_index(self, targets: Sequence[Target], node_index: dict[str, dict[Any, int]]) -> tuple[int, ...]:
        predicted = self.config.target_ntypes
        index = []
        for target in targets:
            if target.node_type not in predicted:
                raise TargetNodeTypeError(
                    f"the target node type: {target.node_type} is not predicted by the model; the "
                    f"model predicts node type(s): {', '.join(predicted)}"
                )
            local = node_index.get(target.node_type)
            if local is None:
                raise TargetNodeTypeError(
                    f"the target node type: {target.node_type} does not exist in the payload graph."
                )
            if target.node_id not in local:
                raise TargetNodeIdError(
                    f"the target node ID: {target.node_id} does not exist in the payload graph "
                    f"(node type {target.node_type})."
                )
            index.append(local[target.node_id])
        return tuple(index)

    # -- model inputs ------------------------------------------------------------------

    def _node_inputs(self, node_features: dict[str, dict[str, np.ndarray]],
                     node_ids: dict[str, list[Any]]) -> dict[str, torch.Tensor]:
        inputs = {}
        for ntype, feats in node_features.items():
            names = self.config.node_feat_names.get(ntype)
            if names:
                arrays = [feats[name] for name in names]
            elif LEARNABLE_EMBEDDING_KEY in feats:
                arrays = [feats[LEARNABLE_EMBEDDING_KEY]]
                width = arrays[0].shape[1]
                if width != self.config.hidden_size:
                    raise GraphConstructionError(
                        f"node type {ntype}: feature '{LEARNABLE_EMBEDDING_KEY}' has {width} values per "
                        f"node, expected {self.config.hidden_size} (the model's embedding size)"
                    )
            else:
                # GraphStorm fails this request in its model (500); the text says what to send.
                raise InternalError(
                    f"The input features should contains a key: {LEARNABLE_EMBEDDING_KEY} for using "
                    f"learnable embeddings (node type {ntype}, node id {_format_id(node_ids[ntype][0])})."
                )
            inputs[ntype] = torch.from_numpy(np.concatenate(arrays, axis=1) if len(arrays) > 1 else arrays[0])
        return inputs

    def _edge_inputs(self, edge_features: dict[CanonicalEtype, dict[str, np.ndarray]],
                     edge_lists: dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]]) -> dict[CanonicalEtype, torch.Tensor]:
        inputs = {}
        for etype, names in self.config.edge_feat_names.items():
            if etype in edge_features and names:
                arrays = [edge_features[etype][name] for name in names]
                inputs[etype] = torch.from_numpy(np.concatenate(arrays, axis=1) if len(arrays) > 1 else arrays[0])
        return inputs


def build_graph(request: RealtimeRequest, schema: GraphSchema, config: ModelConfig) -> PayloadGraph:
    """One-off ``GraphBuilder(schema, config).build(request)`` (servers keep a builder)."""
    return GraphBuilder(schema, config).build(request)


def _etype_key(raw: Any) -> Any:
    """The group key of a payload ``edge_type`` (only a list can name a relation)."""
    return tuple(raw) if type(raw) is list else None


def _check_id(value: Any, key: str, where: str) -> Any:
    if value is None or value == "":
        raise MissingFieldDataError(key, where)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise GraphConstructionError(f"{where}: {key} must be a string or a number, but got {value!r:.80}")
    return value


def _format_id(node_id: Any) -> str:
    if isinstance(node_id, tuple):
        return f"{node_id[0]} -> {node_id[1]}"
    return str(node_id)
