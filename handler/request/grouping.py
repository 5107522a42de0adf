"""The payload graph's structure: nodes and edges checked and grouped by type (411/402).

GraphStorm 0.5.1's ``verify_payload_conf`` and the structural part of
``process_json_payload_graph``: required keys, known node and edge types, ids, one set of
feature keys per type, no node listed twice. Values are not looked at here (see
``graph_builder``). The loops have fast paths for the common well-formed member; anything
else takes the checked path, which raises the error GraphStorm would. With the C extension
(``handler.native``) a request whose every member is well formed is grouped in C, all at once;
anything else takes these loops.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from operator import itemgetter
from typing import Any

from handler import native
from handler.contract.errors import MAX_ECHO_CHARS, GraphConstructionError, MissingFieldDataError, echo
from handler.contract.graph_schema import GraphSchema
from handler.contract.names import CanonicalEtype, relation_label
from handler.native import number_column

# ``features`` absent from a member (unlike ``{}``, which is an empty features object).
_NO_FEATURES = object()

# A group's ``ids.append``, ``features.append`` and the feature keys its members all have (None:
# all lack ``features``): what the grouping loops' fast path needs, without attribute lookups.
_Slot = tuple[Callable[[Any], None], Callable[[Any], None], "frozenset[str] | None"]


def _update_slot(fast: dict[Any, _Slot], key: Any, group: TypeGroup) -> None:
    """Gives a group a fast-path slot while its members agree (all with the same feature keys,
    or all without features); a group that mixes them takes the checked path from then on."""
    if group.missing_features is None:
        fast[key] = (group.ids.append, group.features.append, group.keys)
    elif group.keys is None:
        fast[key] = (group.ids.append, group.features.append, None)
    else:
        fast.pop(key, None)


class TypeGroup:
    """The payload's nodes (or edges) of one type, gathered in payload order.

    Attributes:
        where: how errors name a member, e.g. "node type paper, node id".
        keys: feature keys of the first member with a ``features`` field (None: none has).
        ids: member ids (node id, or ``(src, dst)``) in payload order (for a relation whose
            endpoints came as positions, a read-only ``columnar.EndpointPairs``).
        features: each member's ``features`` object (``{}`` when absent); empty when the group
            came as columns.
        missing_features: id of the first member without a ``features`` field, if any.
        columns: feature name -> its values of every member, for a group read from columns
            (an Arrow or targets-only request: a numpy array for numbers, else the JSON values);
            None otherwise.
        transformed: feature name -> its transformed rows, when the batch transformed them
            together (``GraphBuilder.transform_batch``).
        endpoints: a relation read from columns whose every endpoint is a payload node: the
            sources' and destinations' local indices (``MemberColumns.endpoints``); else None.
        distinct_ids: node ids the reader found distinct (the C readers'): ``index_nodes``
            makes their index only when something reads it.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.keys: frozenset[str] | None = None
        self.ids: list[Any] = []
        self.features: list[dict[str, Any]] = []
        self.missing_features: Any = None
        self.columns: dict[str, Any] | None = None
        self.transformed: dict[str, Any] = {}
        self.endpoints: tuple[Any, Any] | None = None
        self.distinct_ids = False

    def values(self, name: str, as_array: bool = False) -> Any:
        """Every member's value of feature ``name``, in member order (a list, or the column).

        Args:
            name: the feature.
            as_array: number values may come as the float64 or int64 array ``np.array`` makes
                of them (built in C from the members' features: ``handler.native.number_column``).

        Shapes:
            a numpy column: [len(ids)] or [len(ids), dim].
        """
        if self.columns is not None:
            return self.columns[name]
        if as_array:
            column = number_column(self.features, name)
            if column is not None:
                return column
        return list(map(itemgetter(name), self.features))

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
            raise GraphConstructionError(f"{self.where} {format_id(member_id)}: the 'features' field must be an object")
        if self.keys is None:
            self.keys = frozenset(feats)
        elif len(feats) != len(self.keys) or not self.keys.issuperset(feats):
            raise GraphConstructionError(
                f"{self.where} {format_id(member_id)}: feature keys {sorted(feats)} differ from the "
                f"type's first member's {sorted(self.keys)}"
            )
        self.features.append(feats)


def graph_lists(payload: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """The payload's ``graph.nodes`` and ``graph.edges`` lists.

    Raises:
        GraphConstructionError: a key is missing or not of the right JSON type.
    """
    if "graph" not in payload:
        raise GraphConstructionError("Missing required key: graph in JSON request payload.")
    graph = payload["graph"]
    if not isinstance(graph, dict):
        raise GraphConstructionError(f"the 'graph' field must be an object, but got {echo(graph)}")
    for key in ("nodes", "edges"):
        if key not in graph:
            raise GraphConstructionError(f"Missing required key: {key} in JSON request payload graph field.")
        if not isinstance(graph[key], list):
            raise GraphConstructionError(f"the graph's '{key}' field must be a list")
    return graph["nodes"], graph["edges"]


def group_nodes(nodes: list[Any], schema: GraphSchema) -> dict[str, TypeGroup]:
    """Checks ``graph.nodes`` and groups it by node type.

    Args:
        nodes: the payload's node list.
        schema: the model's graph schema (known node types).

    Returns:
        node type -> its nodes, in order of first appearance.

    Raises:
        GraphConstructionError: 411 for a malformed node; MissingFieldDataError: 402 for an
            empty id.
    """
    in_c = native.fastpath
    found = None if in_c is None else in_c.group_nodes(nodes, schema.node_features)
    if found is not None:
        return {ntype: _native_group(f"node type {ntype}, node id", *entry) for ntype, entry in found.items()}
    groups: dict[str, TypeGroup] = {}
    fast: dict[Any, _Slot] = {}
    for pos, node in enumerate(nodes):
        try:  # fast path: like the type's earlier nodes, with a non-empty string id
            ids_append, features_append, keys = fast[node["node_type"]]
            node_id, feats = node["node_id"], node.get("features", _NO_FEATURES)
            if type(node_id) is str and node_id:
                if type(feats) is dict:
                    if feats.keys() == keys:
                        ids_append(node_id)
                        features_append(feats)
                        continue
                elif feats is _NO_FEATURES and keys is None:
                    ids_append(node_id)
                    features_append({})
                    continue
        except (TypeError, KeyError):
            pass
        try:  # a well-formed node of a type already seen
            group = groups[node["node_type"]]
            node_id = node["node_id"]
        except (TypeError, KeyError):
            group, node_id = _new_node_type(pos, node, groups, schema)
        if type(node_id) is not str or not node_id:
            node_id = _check_id(node_id, "node_id", f"graph.nodes[{pos}], node type {node['node_type']}")
        group.add(node, node_id)
        _update_slot(fast, node["node_type"], group)
    for ntype, group in groups.items():
        if group.keys is not None and group.missing_features is not None:
            raise GraphConstructionError(
                f"node type {ntype}, node id {group.missing_features}: no 'features' field, "
                "but other nodes of the type have one"
            )
    return groups


def _native_group(where: str, ids: list[Any], features: list[dict[str, Any]],
                  keys: frozenset[str] | None) -> TypeGroup:
    """The ``TypeGroup`` the loops build from these members (all with ``keys``, or all without
    features: then the first is the first member without)."""
    group = TypeGroup(where)
    group.ids, group.features, group.keys = ids, features, keys
    if keys is None:
        group.missing_features = ids[0]
    return group


def _new_node_type(pos: int, node: Any, groups: dict[str, TypeGroup],
                   schema: GraphSchema) -> tuple[TypeGroup, Any]:
    """Checks a node that is not a well-formed node of a seen type; starts its group."""
    where = f"graph.nodes[{pos}]"
    ntype = _member_type(node, "node_type", where)
    if not isinstance(ntype, str) or ntype not in schema.node_features:
        raise GraphConstructionError(
            f"{where}: node type {echo(ntype)} is not a node type of the model's graph "
            f"(known: {', '.join(schema.ntypes)})"
        )
    if "node_id" not in node:
        raise GraphConstructionError(f"Missing required key: node_id in {where} (node type {ntype}).")
    group = groups.setdefault(ntype, TypeGroup(f"node type {ntype}, node id"))
    return group, node["node_id"]


def group_edges(edges: list[Any], schema: GraphSchema) -> dict[CanonicalEtype, TypeGroup]:
    """Checks ``graph.edges`` and groups it by relation.

    Args:
        edges: the payload's edge list.
        schema: the model's graph schema (known relations; reverse relations it derives are
            not accepted from the payload).

    Returns:
        relation -> its edges (ids are ``(src, dst)`` raw node ids), in order of first
        appearance.

    Raises:
        GraphConstructionError: 411 for a malformed edge; MissingFieldDataError: 402 for an
            empty endpoint id.
    """
    in_c = native.fastpath
    found = None if in_c is None else in_c.group_edges(edges, schema.edge_features, schema.reverse_of)
    if found is not None:
        return {etype: _native_group(f"{relation_label(etype)}, edge", *entry) for etype, entry in found.items()}
    groups: dict[CanonicalEtype, TypeGroup] = {}
    fast: dict[Any, _Slot] = {}
    for pos, edge in enumerate(edges):
        try:  # fast path: like the relation's earlier edges, with non-empty string ids
            raw_type = edge["edge_type"]
            if type(raw_type) is list:  # only a list names a relation (a string's tuple could match)
                ids_append, features_append, keys = fast[tuple(raw_type)]
                src, dst, feats = edge["src_node_id"], edge["dest_node_id"], edge.get("features", _NO_FEATURES)
                if type(src) is str and src and type(dst) is str and dst:
                    if type(feats) is dict:
                        if feats.keys() == keys:
                            ids_append((src, dst))
                            features_append(feats)
                            continue
                    elif feats is _NO_FEATURES and keys is None:
                        ids_append((src, dst))
                        features_append({})
                        continue
        except (TypeError, KeyError):
            pass
        try:  # a well-formed edge of a type already seen
            group = groups[_etype_key(edge["edge_type"])]
            src, dst = edge["src_node_id"], edge["dest_node_id"]
        except (TypeError, KeyError):
            group, src, dst = _new_edge_type(pos, edge, groups, schema)
        if type(src) is not str or not src or type(dst) is not str or not dst:
            where = f"graph.edges[{pos}], edge type {edge['edge_type']}"
            src = _check_id(src, "src_node_id", where)
            dst = _check_id(dst, "dest_node_id", where)
        group.add(edge, (src, dst))
        _update_slot(fast, _etype_key(edge["edge_type"]), group)
    for etype, group in groups.items():
        if group.keys is not None and group.missing_features is not None:
            src, dst = group.missing_features
            raise GraphConstructionError(
                f"edge type {list(etype)}, edge {src} -> {dst}: no 'features' field, but other "
                "edges of the type have one"
            )
    return groups


def _new_edge_type(pos: int, edge: Any, groups: dict[CanonicalEtype, TypeGroup],
                   schema: GraphSchema) -> tuple[TypeGroup, Any, Any]:
    """Checks an edge that is not a well-formed edge of a seen type; starts its group."""
    where = f"graph.edges[{pos}]"
    raw_type = _member_type(edge, "edge_type", where)
    etype = tuple(raw_type) if isinstance(raw_type, list) and all(
        isinstance(p, str) for p in raw_type) else None
    if etype in schema.reverse_of:
        raise GraphConstructionError(
            f"{where}: edge type {echo(raw_type)} is a reverse relation, which the server derives from "
            f"the payload's {list(schema.reverse_of[etype])} edges (the graph was built with "
            "add_reverse_edges); send each edge once, as an edge of its configured relation"
        )
    if etype not in schema.edge_features:
        known = [et for et in schema.canonical_etypes if et not in schema.reverse_of]
        raise GraphConstructionError(
            f"{where}: edge type {echo(raw_type)} is not a relation of the model's graph "
            f"(known: {', '.join(str(list(et)) for et in known)})"
        )
    for key in ("src_node_id", "dest_node_id"):
        if key not in edge:
            raise GraphConstructionError(f"Missing required key: {key} in {where} (edge type {echo(raw_type)}).")
    group = groups.setdefault(etype, TypeGroup(f"edge type {raw_type}, edge"))
    return group, edge["src_node_id"], edge["dest_node_id"]


def _member_type(item: Any, key: str, where: str) -> Any:
    """The ``node_type`` / ``edge_type`` of a graph member that must be an object holding it."""
    if not isinstance(item, dict):
        raise GraphConstructionError(f"{where} must be an object")
    if key not in item:
        raise GraphConstructionError(f"Missing required key: {key} in {where}.")
    return item[key]


def index_nodes(groups: dict[str, TypeGroup]) -> tuple[dict[str, list[Any]], NodeIndex]:
    """Local node indices: per node type, raw id -> position in the payload.

    Returns:
        node type -> raw ids in local order, and node type -> raw id -> local index.

    Raises:
        GraphConstructionError: a node id is listed twice for one type.
    """
    ids: dict[str, list[Any]] = {}
    index = NodeIndex()
    for ntype, group in groups.items():
        ids[ntype] = group.ids
        if group.distinct_ids:
            index.defer(ntype, group.ids)
            continue
        local = _index_of(group.ids)
        if len(local) != len(group.ids):
            seen: set[Any] = set()
            for node_id in group.ids:
                if node_id in seen:
                    raise GraphConstructionError(f"node type {ntype}: node id {format_id(node_id)} is listed twice")
                seen.add(node_id)
        index.add(ntype, local)
    return ids, index


class NodeIndex(Mapping[str, dict[Any, int]]):
    """Node type -> raw id -> local index. The index of a type whose ids are known distinct is
    made when first read: a request reads its target types' (and, for relations that did not
    come as positions, their endpoint types'), so a large payload's other types cost nothing."""

    def __init__(self) -> None:
        self._index: dict[str, dict[Any, int]] = {}
        self._deferred: dict[str, list[Any]] = {}

    def add(self, ntype: str, local: dict[Any, int]) -> None:
        """The index of ``ntype``, made."""
        self._index[ntype] = local

    def defer(self, ntype: str, ids: list[Any]) -> None:
        """``ntype``'s distinct ``ids``, indexed when first read."""
        self._deferred[ntype] = ids

    def __getitem__(self, ntype: str) -> dict[Any, int]:
        found = self._index.get(ntype)
        if found is None:
            found = self._index[ntype] = _index_of(self._deferred.pop(ntype))  # KeyError: no such type
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([*self._index, *self._deferred])

    def __len__(self) -> int:
        return len(self._index) + len(self._deferred)


def _index_of(ids: list[Any]) -> dict[Any, int]:
    """raw id -> position (an id listed twice: its last position)."""
    # In C at its final size (None: an id listed twice or not a str); dict(zip) is C too, but grows.
    in_c = native.fastpath
    local = None if in_c is None else in_c.index_ids(ids)
    return local if local is not None else dict(zip(ids, range(len(ids)), strict=True))


def format_id(member_id: Any) -> str:
    """A node id, or an edge's ``(src, dst)`` as ``src -> dst``, for error texts; each id cut
    to ``MAX_ECHO_CHARS`` so that a long id never pushes the explanation out of the text."""
    if isinstance(member_id, tuple):
        return f"{_shown_id(member_id[0])} -> {_shown_id(member_id[1])}"
    return _shown_id(member_id)


def _shown_id(node_id: Any) -> str:
    text = str(node_id)[: MAX_ECHO_CHARS + 1]
    return text if len(text) <= MAX_ECHO_CHARS else text[: MAX_ECHO_CHARS - 3] + "..."


def _etype_key(raw: Any) -> Any:
    """The group key of a payload ``edge_type`` (only a list can name a relation)."""
    return tuple(raw) if type(raw) is list else None


def _check_id(value: Any, key: str, where: str) -> Any:
    if value is None or value == "":
        raise MissingFieldDataError(key, where)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise GraphConstructionError(f"{where}: {key} must be a string or a number, but got {echo(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise GraphConstructionError(f"{where}: {key} must be a finite number, but got {value}")
    return value
