"""Target ids in, a ``gs-realtime-v0.1`` payload out: the extractor with the model's settings.

``PayloadBuilder`` reads what extraction needs from the model artifacts (graph schema, task,
``num_layers``, ``eval_fanout`` / ``fanout``, which node types have features) and turns an
extraction into the payload document, nodes and edges in a canonical order so that the same
seed gives the same bytes on every store, or into the same graph as columns (``columns``: what
the ``expand`` stage hands ``parse`` for a targets-only request).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from handler.contract.artifacts import locate_artifacts
from handler.contract.graph_columns import EDGE_ID_COLUMNS, NODE_ID_COLUMNS, GraphColumns, MemberColumns
from handler.contract.graph_schema import GraphSchema
from handler.contract.model_config import ModelConfig
from handler.contract.names import EDGE_TARGET_TASKS
from handler.graph_store.extract import Extractor, GivenGraph, Neighbourhood, NodeKey
from handler.graph_store.fanout import HopFanouts, model_fanout, parse_fanout
from handler.graph_store.runner import QueryRunner

PAYLOAD_VERSION = "gs-realtime-v0.1"
# An edge's (dst, src, key, edge) row sorted by its first three (keys are unique: edges never compared).
_SORT_KEY = itemgetter(0, 1, 2)


class PayloadBuilder:
    """Builds payloads for one model from one store.

    Attributes:
        schema: the model's graph schema.
        config: the model's training config.
        extractor: the store reader.
    """

    def __init__(self, runner: QueryRunner, schema: GraphSchema, config: ModelConfig) -> None:
        """Prepares extraction for a model (see ``Extractor``; raises what it raises)."""
        self.schema = schema
        self.config = config
        featured = set(config.node_feat_names)
        for lm in config.lm_models:
            featured.update(lm.node_types)
        self.extractor = Extractor(runner, schema, frozenset(featured))
        self._ntype_order = {nt: i for i, nt in enumerate(schema.ntypes)}
        self._default_fanout = parse_fanout(model_fanout(config.gsf), config.num_layers, schema.canonical_etypes)

    @classmethod
    def from_model_dir(cls, runner: QueryRunner, model_dir: str | Path) -> PayloadBuilder:
        """Reads the artifacts of ``model_dir`` (``data_transform_new.json`` and the YAML)."""
        paths = locate_artifacts(model_dir)
        schema = GraphSchema.from_file(paths.transform_json)
        config = ModelConfig.from_yaml(paths.yaml, schema.ntypes, schema.canonical_etypes)
        return cls(runner, schema, config)

    def fanouts(self, spec: Any = None) -> HopFanouts:
        """Counts per hop for a fanout spec (``None``: the model's; see ``fanout.parse_fanout``)."""
        if spec is None:
            return self._default_fanout
        return parse_fanout(spec, self.config.num_layers, self.schema.canonical_etypes)

    def seeds(self, targets: Sequence[Any]) -> list[NodeKey]:
        """The nodes extraction starts from: target nodes, or both endpoints of target edges.

        Malformed targets are skipped (the request parser reports them).
        """
        seeds: list[NodeKey] = []
        for target in targets:
            if not isinstance(target, Mapping):
                continue
            if self.config.task_type in EDGE_TARGET_TASKS:
                etype = target.get("edge_type")
                if isinstance(etype, list) and len(etype) == 3:
                    for ntype, key in ((etype[0], "src_node_id"), (etype[2], "dest_node_id")):
                        if isinstance(ntype, str) and isinstance(target.get(key), str):
                            seeds.append((ntype, target[key]))
            elif isinstance(target.get("node_type"), str) and isinstance(target.get("node_id"), str):
                seeds.append((target["node_type"], target["node_id"]))
        return seeds

    def extract(self, targets: Sequence[Any], fanout: Any = None, seed: int | None = None,
                given: GivenGraph | None = None, max_edges: int | None = None) -> Neighbourhood:
        """The targets' neighbourhood (``seed`` None: a random one; see ``Extractor.extract``)."""
        if seed is None:
            seed = secrets.randbits(63)
        return self.extractor.extract(self.seeds(targets), self.fanouts(fanout), seed, given, max_edges)

    def graph(self, found: Neighbourhood) -> dict[str, list[dict[str, Any]]]:
        """The payload's ``graph``: nodes by (type order, id), stored edges by (relation, dst,
        src, key), then the request's own edges as sent."""
        nodes = [n for members in self._node_groups(found).values() for n in members]
        edges = [e for members in self._edge_groups(found).values() for e in members]
        return {"nodes": nodes, "edges": edges + found.given_edges}

    def columns(self, found: Neighbourhood, envelope: dict[str, Any], targets: list[Any]) -> GraphColumns:
        """The request completed by an extraction, its graph as columns: the members of
        ``graph`` in its order, one set of columns per node type and relation.

        Only for an extraction without a request graph (``GivenGraph``): then every member of a
        type carries the same features (the store's), or none.

        Args:
            found: the extraction.
            envelope: the request's fields other than ``graph`` and ``targets``.
            targets: the request's targets.
        """
        nodes = {ntype: _member_columns(members, NODE_ID_COLUMNS)
                 for ntype, members in self._node_groups(found).items()}
        edges = {self.extractor.layout.tables[index].etype: _member_columns(members, EDGE_ID_COLUMNS)
                 for index, members in self._edge_groups(found).items()}
        return GraphColumns(envelope=envelope, targets=targets, nodes=nodes, edges=edges)

    def _node_groups(self, found: Neighbourhood) -> dict[str, list[dict[str, Any]]]:
        """Node type -> its nodes by id (as text), types in schema order (a type the schema lacks
        first)."""
        by_type: dict[str, list[NodeKey]] = {}
        for key in found.nodes:
            by_type.setdefault(key[0], []).append(key)
        groups = {}
        for ntype in sorted(by_type, key=lambda t: self._ntype_order.get(t, -1)):
            keys = by_type[ntype]
            texts = [str(node_id) for _, node_id in keys]
            groups[ntype] = [found.nodes[keys[i]] for i in sorted(range(len(keys)), key=texts.__getitem__)]
        return groups

    @staticmethod
    def _edge_groups(found: Neighbourhood) -> dict[int, list[dict[str, Any]]]:
        """Relation index -> its stored edges by (dst, src, key), relations in index order."""
        by_relation: dict[int, list[tuple[Any, Any, int, dict[str, Any]]]] = {}
        for (index, key), edge in found.edges.items():
            by_relation.setdefault(index, []).append((edge["dest_node_id"], edge["src_node_id"], key, edge))
        groups = {}
        for index in sorted(by_relation):
            rows = by_relation[index]
            rows.sort(key=_SORT_KEY)
            groups[index] = list(map(itemgetter(3), rows))
        return groups

    def payload(self, targets: Sequence[Any], fanout: Any = None, seed: int | None = None) -> dict[str, Any]:
        """A complete ``gs-realtime-v0.1`` request for ``targets``.

        Raises:
            KeyError: a target node is not in the store (``args[0]`` lists them).
            FanoutError: a fanout that does not fit the model.
            GraphStoreError: the store failed.
        """
        found = self.extract(targets, fanout, seed)
        if found.missing:
            raise KeyError(found.missing)
        return {
            "version": PAYLOAD_VERSION,
            "gml_task": self.config.task_type,
            "graph": self.graph(found),
            "targets": list(targets),
        }


def _member_columns(members: list[dict[str, Any]], id_keys: tuple[str, ...]) -> MemberColumns:
    """Payload members of one type (with the same features, or none) as columns."""
    features = None
    if "features" in members[0]:
        rows = list(map(itemgetter("features"), members))
        features = {name: list(map(itemgetter(name), rows)) for name in rows[0]}
    return MemberColumns(ids={key: list(map(itemgetter(key), members)) for key in id_keys}, features=features)


def dumps(payload: Mapping[str, Any]) -> str:
    """The payload's canonical JSON text (same payload, same bytes)."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)
