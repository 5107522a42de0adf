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
from handler.contract.graph_columns import GraphColumns
from handler.contract.graph_schema import GraphSchema
from handler.contract.model_config import ModelConfig
from handler.contract.names import EDGE_TARGET_TASKS, CanonicalEtype
from handler.graph_store.extract import Extractor, GivenGraph, Neighbourhood, NodeKey, StoredNode
from handler.graph_store.fanout import HopFanouts, model_fanout, parse_fanout
from handler.graph_store.runner import QueryRunner

PAYLOAD_VERSION = "gs-realtime-v0.1"
# An edge's (dst, src, key, row) sorted by its first three (keys are unique: rows never compared).
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
        nodes: list[dict[str, Any]] = []
        for ntype, members in self._node_groups(found).items():
            stored = [m for m in members if isinstance(m, StoredNode)]
            made = iter(self.extractor.node_columns(ntype, stored).members({"node_type": ntype}) if stored else ())
            nodes += [next(made) if isinstance(m, StoredNode) else m for m in members]
        edges = [edge for index, raws in self._edge_groups(found).items()
                 for edge in self.extractor.edge_columns(index, raws).members({"edge_type": list(self._etype(index))})]
        return {"nodes": nodes, "edges": edges + found.given_edges}

    def columns(self, found: Neighbourhood, envelope: dict[str, Any], targets: list[Any]) -> GraphColumns:
        """The request completed by an extraction, its graph as columns: the members of
        ``graph`` in its order, one set of columns per node type and relation, read straight
        from the store's result rows.

        Args:
            found: an extraction without a request graph (``GivenGraph``).
            envelope: the request's fields other than ``graph`` and ``targets``.
            targets: the request's targets.

        Raises:
            ValueError: ``found`` holds a request's own nodes or edges.
        """
        if found.given_edges:
            raise ValueError("an extraction with the request's own edges has no columns (use graph)")
        nodes = {}
        for ntype, members in self._node_groups(found).items():
            if not all(isinstance(m, StoredNode) for m in members):
                raise ValueError("an extraction with the request's own nodes has no columns (use graph)")
            nodes[ntype] = self.extractor.node_columns(ntype, members)  # type: ignore[arg-type]  # checked above
        edges = {self._etype(index): self.extractor.edge_columns(index, raws)
                 for index, raws in self._edge_groups(found).items()}
        return GraphColumns(envelope=envelope, targets=targets, nodes=nodes, edges=edges)

    def _etype(self, index: int) -> CanonicalEtype:
        return self.extractor.layout.tables[index].etype

    def _node_groups(self, found: Neighbourhood) -> dict[str, list[dict[str, Any] | StoredNode]]:
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
    def _edge_groups(found: Neighbourhood) -> dict[int, list[Mapping[str, Any]]]:
        """Relation index -> its stored edges' rows by (dst, src, key), relations in index order."""
        by_relation: dict[int, list[tuple[Any, Any, int, Mapping[str, Any]]]] = {}
        for (index, key), raw in found.edges.items():
            by_relation.setdefault(index, []).append((raw["c1"], raw["c0"], key, raw))
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


def dumps(payload: Mapping[str, Any]) -> str:
    """The payload's canonical JSON text (same payload, same bytes)."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)
