"""Sampled in-neighbourhoods from a graph store, with raw features, as GraphStorm samples them.

``num_layers`` hops of IN-edges from the seeds (target nodes, or both endpoints of target
edges). At hop ``h`` every node found before it is a destination; per destination and model
relation ``min(k, in-degree)`` in-edges are drawn uniformly without replacement
(``sampling.py``), ``k`` = the hop's fanout (hop 1 = the fanout list's LAST value); a node met
at several hops keeps the largest sample. Every query is a primary-key lookup (``layout.py``):
the nodes' degree/base properties locate each in-edge block, the chosen positions become edge
keys, so a hub's neighbour list is never read to sample it. A request's own nodes and edges
(``GivenGraph``) join the walk: its nodes win over stored ones, its edges are all kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from handler.contract.graph_columns import MemberColumns
from handler.contract.graph_schema import GraphSchema
from handler.contract.names import CanonicalEtype
from handler.graph_store.fanout import HopFanouts
from handler.graph_store.layout import (
    DST_PROPERTY,
    FORWARD_KEY_PROPERTY,
    META_KEY,
    META_TABLE,
    SRC_PROPERTY,
    EdgeTable,
    StoreLayout,
    quote,
)
from handler.graph_store.runner import Dialect, GraphStoreError, QueryRunner
from handler.graph_store.sampling import sample_positions

# Keys per lookup query: bounds one parameter list (a full fanout on a hub asks for millions).
KEYS_PER_QUERY = 5_000

NodeKey = tuple[str, str]  # (node type, raw id)


class ExtractionTooLargeError(ValueError):
    """An extraction larger than the caller's edge limit (checked after each hop)."""


class StoreMismatchError(ValueError):
    """The store does not hold the model's graph (relations, or learnable embeddings, differ)."""


@dataclass
class GivenGraph:
    """A request's own nodes and edges, completed from the store around them.

    Attributes:
        nodes: (node type, id) -> the request's node object (kept as sent).
        edges: the request's edge objects (kept as sent).
    """

    nodes: dict[NodeKey, dict[str, Any]] = field(default_factory=dict)
    edges: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class StoredNode:
    """A stored node's result row, as read (``Extractor.node_columns`` reads its id and
    features; its in-edge blocks are read when it is first sampled from, which most nodes of a
    last hop never are)."""

    ntype: str
    raw: Mapping[str, Any]
    blocks: dict[str, tuple[int, int]] | None = None  # segment label -> (degree, first key)


@dataclass
class Neighbourhood:
    """What an extraction found.

    Attributes:
        nodes: (node type, id) -> the request's node object (``GivenGraph``), or the stored
            node's row, in discovery order.
        edges: (relation index, forward key) -> the stored edge's result row
            (``Extractor.edge_columns`` reads it).
        given_edges: the request's own edges (unchanged).
        missing: seeds neither stored nor given, in seed order.
    """

    nodes: dict[NodeKey, dict[str, Any] | StoredNode] = field(default_factory=dict)
    edges: dict[tuple[int, int], Mapping[str, Any]] = field(default_factory=dict)
    given_edges: list[dict[str, Any]] = field(default_factory=list)
    missing: list[NodeKey] = field(default_factory=list)


class Extractor:
    """Reads sampled neighbourhoods of one model's graph from an open store.

    Attributes:
        runner: the open store.
        schema: the model's graph schema.
        layout: the store's tables and properties for this graph.
    """

    def __init__(self, runner: QueryRunner, schema: GraphSchema, model_ntypes: frozenset[str] | None) -> None:
        """Reads the store's layout record and prepares every query text.

        Args:
            runner: the open store.
            schema: the model's graph schema.
            model_ntypes: node types the model reads features of (``None``: all); the others
                are featureless and need stored learnable embeddings.

        Raises:
            StoreMismatchError: the store holds another graph, or lacks a node type's
                learnable embeddings.
            GraphStoreError: the store failed.
        """
        self.runner = runner
        self.schema = schema
        dialect = runner.dialect
        key = quote(dialect.key_property)
        rows = runner.run(f"MATCH (m:{quote(META_TABLE)} {{{key}: $key}}) RETURN m.`json` AS json",
                          {"key": META_KEY})
        if not rows:
            raise StoreMismatchError("the store has no layout record; load it with gs-load-graph")
        try:
            record = StoreLayout.parse_record(rows[0]["json"])
        except ValueError as exc:
            raise StoreMismatchError(str(exc)) from exc
        self.layout = StoreLayout.from_schema(schema, frozenset(record.get("learnable", ())))
        stored = [tuple(r) for r in record.get("relations", [])]
        if stored != [t.etype for t in self.layout.tables]:
            raise StoreMismatchError(
                f"the store holds relations {stored}, the model's graph "
                f"{[list(t.etype) for t in self.layout.tables]}")
        self._types: dict[str, dict[str, str]] = record.get("types", {})
        self._split_vectors = runner.dialect.vectors_as_strings
        self._features = {nt: self.layout.payload_features(nt, model_ntypes) for nt in schema.ntypes}
        for ntype in schema.ntypes:
            if model_ntypes is not None and ntype not in model_ntypes and ntype not in self.layout.learnable:
                raise StoreMismatchError(
                    f"node type {ntype!r} has no features in the model and the store has no learnable "
                    "embeddings for it; load them with gs-load-graph --learnable-embeddings DIR")
        # destination type -> (relation, the labels of its in-edge blocks), labels computed once
        self._segments_into: dict[str, list[tuple[CanonicalEtype, tuple[str, ...]]]] = {}
        for etype, segs in self.layout.segments.items():
            self._segments_into.setdefault(etype[2], []).append((etype, tuple(s.label for s in segs)))
        self._node_props = {
            nt: list(self._features[nt]) + [p for s in self.layout.node_segments(nt)
                                            for p in (s.deg_property, s.base_property)]
            for nt in schema.ntypes
        }
        self._prepare_queries(dialect)

    def _prepare_queries(self, dialect: Dialect) -> None:
        """Column layout and per-branch texts of the batched lookup (``_lookup``).

        A lookup has branches: per edge table with wanted keys, the edges and their far
        endpoints' rows (a primary-key join); per node type with wanted ids, the nodes' rows.
        With ``Dialect.batch_hops`` one query per hop is the ``UNION ALL`` of the branches, each
        returning every column (its own, the others padded with a typed null,
        ``Dialect.cast_null_pads``, or a literal of the column's type); otherwise each branch is
        its own query with its own columns (cheaper in process: Ladybug compiles the padded
        union slower than it runs the separate lookups). Both return ``b``, the branch number.
        """
        key = quote(dialect.key_property)
        columns: list[tuple[str, str]] = [("c0", "STRING"), ("c1", "STRING"), ("c2", "INT64")]
        self._edge_feature_columns: dict[int, tuple[str, ...]] = {}
        for table in self.layout.tables:
            types = self._types.get(table.label, {})
            names = tuple(f"x{table.index}_{j}" for j in range(len(table.features)))
            columns += [(n, types.get(f, "STRING")) for n, f in zip(names, table.features)]
            self._edge_feature_columns[table.index] = names
        # node type -> its id column, then one column per property (features, block columns)
        self._node_columns: dict[str, tuple[str, ...]] = {}
        # node type -> ((feature, column, store type)...), ((block label, degree column, base
        # column)...): where node_columns and _choose find each value
        self._row_plan: dict[str, tuple[tuple[tuple[str, str, str | None], ...], tuple[tuple[str, str, str], ...]]] = {}
        for t, (nt, props) in enumerate(self._node_props.items()):
            names = tuple(f"n{t}_{i}" for i in range(len(props) + 1))
            types = self._types.get(nt, {})
            columns.append((names[0], "STRING"))
            columns += [(n, types.get(p, "INT64" if p.startswith("gs_") else "STRING"))
                        for n, p in zip(names[1:], props)]
            self._node_columns[nt] = names
            column = dict(zip(props, names[1:]))
            self._row_plan[nt] = (
                tuple((f, column[f], types.get(f)) for f in self._features[nt]),
                tuple((s.label, column[s.deg_property], column[s.base_property])
                      for s in self.layout.node_segments(nt)),
            )

        def select(given: dict[str, str]) -> str:
            if not dialect.batch_hops:  # one query per branch: only the branch's own columns
                return ", ".join(f"{value} AS {n}" for n, value in given.items())
            return ", ".join(f"{given.get(n, _pad(typ, dialect))} AS {n}" for n, typ in columns)

        def node_values(nt: str) -> dict[str, str]:
            names = self._node_columns[nt]
            values = {names[0]: f"n.{key}"}
            values.update({n: f"n.{quote(p)}" for n, p in zip(names[1:], self._node_props[nt])})
            return values

        # (kind, name) -> (text after "UNWIND $p<b> AS k ", up to and including "RETURN <columns>")
        self._branch: dict[tuple[str, str], str] = {}
        for nt in self._node_props:
            self._branch[("n", nt)] = f"MATCH (n:{quote(nt)} {{{key}: k}}) RETURN {select(node_values(nt))}"
        self._tables: dict[str, EdgeTable] = {}
        for table in self.layout.tables:
            labels = [table.label] + ([table.label + "#out"] if self.layout.add_reverse_edges else [])
            for label in labels:
                self._tables[label] = table
                # the far endpoint: the in-edge's source (the forward source, or the destination
                # of an out-edge block), joined by primary key
                far_type, far_id = ((table.etype[2], DST_PROPERTY) if label != table.label
                                    else (table.etype[0], SRC_PROPERTY))
                given = {"c0": f"e.{quote(SRC_PROPERTY)}", "c1": f"e.{quote(DST_PROPERTY)}",
                         "c2": f"e.{quote(FORWARD_KEY_PROPERTY)}"}
                given.update({n: f"e.{quote(f)}" for n, f in zip(
                    self._edge_feature_columns[table.index], table.features)})
                given.update(node_values(far_type))
                self._branch[("e", label)] = (
                    f"MATCH (e:{quote(label)} {{{key}: k}}) "
                    f"MATCH (n:{quote(far_type)} {{{key}: e.{quote(far_id)}}}) RETURN {select(given)}")

    @property
    def query_texts(self) -> list[str]:
        """Every branch text of the batched lookup, as branch 0 (for docs and dialect checks)."""
        return [f"UNWIND $p0 AS k {text}, 0 AS b" for text in self._branch.values()]

    def _lookup(self, edge_keys: Mapping[str, list[int]],
                node_ids: Mapping[str, list[str]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Edge rows (with their far endpoints' rows) and node rows in one query per chunk.

        Args:
            edge_keys: edge table label -> keys.
            node_ids: node type -> raw ids.

        Yields:
            (``"e"`` or ``"n"``, table label or node type, result row).
        """
        as_key = int if self.runner.dialect.integer_keys else str
        branches: list[tuple[str, str, list[Any]]] = [
            ("e", label, [as_key(k) for k in keys]) for label, keys in edge_keys.items() if keys]
        branches += [("n", nt, list(ids)) for nt, ids in node_ids.items() if ids]
        start = 0
        while True:
            parts, params = [], {}
            for b, (kind, name, values) in enumerate(branches):
                chunk = values[start:start + KEYS_PER_QUERY]
                if chunk:
                    parts.append((b, f"UNWIND $p{b} AS k {self._branch[(kind, name)]}, {b} AS b"))
                    params[f"p{b}"] = chunk
            if not parts:
                return
            if self.runner.dialect.batch_hops:
                queries = [(" UNION ALL ".join(text for _, text in parts), params)]
            else:
                queries = [(text, {f"p{b}": params[f"p{b}"]}) for b, text in parts]
            for query, query_params in queries:
                for r in self.runner.run(query, query_params):
                    kind, name, _ = branches[r["b"]]
                    yield kind, name, r
            start += KEYS_PER_QUERY

    def extract(
        self,
        seeds: Sequence[NodeKey],
        fanouts: HopFanouts,
        seed: int,
        given: GivenGraph | None = None,
        max_edges: int | None = None,
    ) -> Neighbourhood:
        """The seeds' sampled ``len(fanouts)``-hop in-neighbourhood.

        Args:
            seeds: (node type, raw id) to start from (targets, or target edges' endpoints).
            fanouts: per hop (hop 1 first): relation -> count, -1 = all.
            seed: the sampling seed.
            given: the request's own nodes and edges (server side), or ``None``.
            max_edges: stop once more stored edges than this were read (``None``: no limit).

        Returns:
            Nodes with raw features, stored edges, the request's edges, and unknown seeds.

        Raises:
            GraphStoreError: the store failed.
            ExtractionTooLargeError: over ``max_edges``.
        """
        given = given or GivenGraph()
        found = Neighbourhood(given_edges=list(given.edges))
        rows: dict[NodeKey, StoredNode | None] = {}
        order: list[NodeKey] = []
        self._discover(seeds, rows, order, given, found, self._read({}, self._unknown(seeds, rows), found))
        found.missing = [s for s in dict.fromkeys(seeds) if rows.get(s) is None and s not in given.nodes]
        given_into: dict[NodeKey, list[NodeKey]] = {}
        for edge in given.edges:
            for dst, src in self._given_endpoints(edge):
                given_into.setdefault(dst, []).append(src)
        requested: dict[str, set[int]] = {}
        for hop_fanout in fanouts:
            frontier = list(order)
            wanted: dict[str, list[int]] = {}
            for node in frontier:
                row = rows.get(node)
                if row is not None:
                    self._choose(node, row, hop_fanout, seed, requested, wanted)
            chosen = len(found.edges) + sum(len(keys) for keys in wanted.values())
            if max_edges is not None and chosen > max_edges:  # before reading them (a hub at full)
                raise ExtractionTooLargeError(
                    f"the extraction would read {chosen} edges, over the limit of {max_edges}")
            brought = [n for node in frontier for n in given_into.get(node, ())]
            fetched = self._read(wanted, self._unknown(brought, rows), found)
            self._discover(list(fetched) + brought, rows, order, given, found, fetched)
            if max_edges is not None and len(found.edges) > max_edges:
                raise ExtractionTooLargeError(
                    f"the extraction reached {len(found.edges)} edges, over the limit of {max_edges}")
        for node, obj in given.nodes.items():  # the request's nodes the walk did not reach
            found.nodes.setdefault(node, obj)
        return found

    def _unknown(self, nodes: Iterable[NodeKey], rows: Mapping[NodeKey, Any]) -> dict[str, list[str]]:
        """Node type -> ids of the nodes whose rows were not read yet (stored types, string ids)."""
        ids: dict[str, list[str]] = {}
        for ntype, node_id in dict.fromkeys(nodes):
            if (ntype, node_id) not in rows and ntype in self._node_columns and isinstance(node_id, str):
                ids.setdefault(ntype, []).append(node_id)
        return ids

    def _choose(self, node: NodeKey, row: StoredNode, fanout: Mapping[CanonicalEtype, int], seed: int,
                requested: dict[str, set[int]], wanted: dict[str, list[int]]) -> None:
        """Adds the edge keys of ``node``'s sample at this hop that were not fetched yet."""
        ntype, node_id = node
        if row.blocks is None:
            r = row.raw
            row.blocks = {label: (int(r[deg] or 0), int(r[base] or 0)) for label, deg, base in self._row_plan[ntype][1]}
        for etype, labels in self._segments_into.get(ntype, ()):
            blocks = [row.blocks[label] for label in labels]
            total = sum(deg for deg, _ in blocks)
            if not total:
                continue
            for position in sample_positions(seed, etype, ntype, node_id, total, fanout.get(etype, 0)):
                for label, (deg, base) in zip(labels, blocks):
                    if position < deg:
                        done = requested.setdefault(label, set())
                        key = base + position
                        if key not in done:
                            done.add(key)
                            wanted.setdefault(label, []).append(key)
                        break
                    position -= deg

    def _read(self, edge_keys: Mapping[str, list[int]], node_ids: Mapping[str, list[str]],
              found: Neighbourhood) -> dict[NodeKey, StoredNode]:
        """One batched lookup: records the edges in ``found``; returns the rows read, the edges'
        far endpoints first (in row order), then the nodes asked for."""
        rows: dict[NodeKey, StoredNode] = {}
        for kind, name, r in self._lookup(edge_keys, node_ids):
            if kind == "n":
                rows.setdefault((name, r[self._node_columns[name][0]]), StoredNode(name, r))
                continue
            table = self._tables[name]
            src_t, _, dst_t = table.etype
            src, dst = r["c0"], r["c1"]
            far = (dst_t, dst) if name != table.label else (src_t, src)
            if far not in rows:
                rows[far] = StoredNode(far[0], r)
            found.edges.setdefault((table.index, int(r["c2"])), r)
        return rows

    def _discover(self, nodes: Iterable[NodeKey], rows: dict[NodeKey, StoredNode | None],
                  order: list[NodeKey], given: GivenGraph, found: Neighbourhood,
                  fetched: Mapping[NodeKey, StoredNode]) -> None:
        """Records the nodes not seen yet, in discovery order, with the rows ``fetched``."""
        for node in nodes:
            if node in rows:
                continue
            row = rows[node] = fetched.get(node)
            if node in given.nodes:
                found.nodes[node] = given.nodes[node]
                order.append(node)
            elif row is not None:
                found.nodes[node] = row
                order.append(node)
            elif node[0] in self._node_columns:
                order.append(node)  # unknown here: only a given edge may bring its neighbours

    def node_columns(self, ntype: str, nodes: Sequence[StoredNode]) -> MemberColumns:
        """Stored nodes of one type as columns: ``node_id`` and each feature the payload carries
        (none: no ``features`` object)."""
        raws = [n.raw for n in nodes]
        features_at = self._row_plan[ntype][0]
        features = {f: self._column(raws, col, typ) for f, col, typ in features_at} if features_at else None
        return MemberColumns({"node_id": list(map(itemgetter(self._node_columns[ntype][0]), raws))}, features)

    def edge_columns(self, index: int, raws: Sequence[Mapping[str, Any]]) -> MemberColumns:
        """Stored edges of relation ``index`` as columns: ``src_node_id``, ``dest_node_id`` and
        each edge feature (none: no ``features`` object)."""
        table = self.layout.tables[index]
        features = None
        if table.features:
            types = self._types.get(table.label, {})
            features = {f: self._column(raws, c, types.get(f))
                        for f, c in zip(table.features, self._edge_feature_columns[index], strict=True)}
        return MemberColumns({"src_node_id": list(map(itemgetter("c0"), raws)),
                              "dest_node_id": list(map(itemgetter("c1"), raws))}, features)

    def _column(self, raws: Sequence[Mapping[str, Any]], column: str, store_type: str | None) -> list[Any]:
        """One result column's values as the payload carries them."""
        if self._split_vectors:
            return [self._value(r[column], store_type) for r in raws]
        return list(map(itemgetter(column), raws))  # as the store returned them

    def _value(self, value: Any, store_type: str | None) -> Any:
        """A stored value as the payload carries it (delimited vectors split back)."""
        if not self._split_vectors or not isinstance(value, str):
            return value
        dialect = self.runner.dialect
        if store_type and store_type.endswith("[]"):
            parts = value.split(dialect.vector_separator) if value else []
            cast = float if store_type[:-2] in ("FLOAT", "DOUBLE") else int if store_type[:-2] == "INT64" else str
            return [cast(p) for p in parts]
        return value

    def _given_endpoints(self, edge: Mapping[str, Any]) -> list[tuple[NodeKey, NodeKey]]:
        """(destination, source) pairs through which a request edge feeds a node."""
        etype = edge.get("edge_type")
        src, dst = edge.get("src_node_id"), edge.get("dest_node_id")
        if not (isinstance(etype, list) and len(etype) == 3 and all(isinstance(t, str) for t in etype)):
            return []
        if not isinstance(src, str | int | float) or not isinstance(dst, str | int | float):
            return []
        pairs: list[tuple[NodeKey, NodeKey]] = [((etype[2], dst), (etype[0], src))]  # type: ignore[list-item]
        if self.schema.add_reverse_edges:
            pairs.append(((etype[0], src), (etype[2], dst)))  # type: ignore[arg-type]
        return pairs


_LITERAL_PADS = {"INT64": "0", "DOUBLE": "0.0", "FLOAT": "0.0", "BOOLEAN": "false", "STRING": "''"}


def _pad(store_type: str, dialect: Dialect) -> str:
    """A branch's value for another branch's column: a typed null, or a literal of the type
    (vectors are strings where ``vectors_as_strings``); never read by the client."""
    if dialect.cast_null_pads:
        return f"CAST(NULL AS {store_type})"
    return _LITERAL_PADS.get(store_type, "''")


def close_quietly(runner: QueryRunner) -> None:
    """Closes a runner, ignoring a store that already failed."""
    try:
        runner.close()
    except GraphStoreError:
        pass
