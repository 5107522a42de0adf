"""A request's graph as columns: what ``parse`` groups without a per-member loop.

Three producers make the same ``GraphColumns``: an Arrow request body
(``arrow_payload.ArrowPayload.columns``: pyarrow columns), a JSON or Arrow request body read
straight into columns by the C extension (``handler.native.json_columns`` / ``arrow_columns``:
numpy arrays for numbers) and a graph-store
extraction for a targets-only request (``handler.graph_store.payload.PayloadBuilder.columns``:
lists of the values the store returned). ``handler.request.columnar`` turns each into typed
groups; ``GraphColumns.to_document`` gives the JSON document the columns stand for, which
``parse`` reads when the columns are not a clean graph (so its checks and error texts are the
JSON path's; a JSON body is read again instead).

Torch-, numpy- and pyarrow-free: a column is a list of JSON values, a pyarrow array or chunked
array (anything with ``to_pylist``), or a numpy array (``tolist``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handler.contract.names import CanonicalEtype

NODE_ID_COLUMNS = ("node_id",)
EDGE_ID_COLUMNS = ("src_node_id", "dest_node_id")


def as_list(column: Any) -> list[Any]:
    """A column's values as JSON values (a list as it is; a pyarrow or numpy column read out)."""
    if isinstance(column, list):
        return column
    to_pylist = getattr(column, "to_pylist", None)
    return to_pylist() if to_pylist is not None else column.tolist()


@dataclass
class MemberColumns:
    """The members of one node type or relation, in member order.

    Attributes:
        ids: member key -> values: ``node_id`` for nodes; ``src_node_id`` and
            ``dest_node_id`` for edges (``NODE_ID_COLUMNS``, ``EDGE_ID_COLUMNS``); any other
            key an Arrow table carries (kept in ``to_document``, as the JSON path keeps it).
        features: feature name -> every member's value; ``None`` when the members carry no
            ``features`` object (``{}``: an empty one).
        endpoints: edges only, when the producer found every endpoint among the payload's nodes:
            the local indices (position in its node type's ids) of the sources and of the
            destinations, int64 arrays; None otherwise.
        text_features: features whose column the producer read as strs only (a list taken as
            it is, without a look at each value's type).
    """

    ids: dict[str, Any]
    features: dict[str, Any] | None = None
    endpoints: tuple[Any, Any] | None = None
    text_features: frozenset[str] = frozenset()

    @property
    def num_rows(self) -> int:
        """How many members."""
        return len(next(iter(self.ids.values())))

    def members(self, head: dict[str, Any]) -> list[dict[str, Any]]:
        """The members as JSON graph members (``head``: the type key and its value)."""
        id_names = list(self.ids)
        id_rows = zip(*(as_list(v) for v in self.ids.values()))
        if self.features is None:
            return [{**head, **dict(zip(id_names, ids))} for ids in id_rows]
        names = list(self.features)
        feature_rows = zip(*(as_list(v) for v in self.features.values())) if names else [()] * self.num_rows
        return [{**head, **dict(zip(id_names, ids)), "features": dict(zip(names, values))}
                for ids, values in zip(id_rows, feature_rows)]


@dataclass
class GraphColumns:
    """A request whose graph comes as columns.

    Attributes:
        envelope: the top-level fields other than ``graph`` and ``targets`` (``version``,
            ``gml_task``, ...).
        targets: the ``targets`` as JSON values.
        nodes: node type -> its nodes, types in payload order.
        edges: relation -> its edges, relations in payload order.
        ids_checked: every id column is a list of non-empty strs or of ints (its producer, a JSON
            body's reader, checked them: the JSON path keeps such ids as they are).
    """

    envelope: dict[str, Any]
    targets: list[Any]
    nodes: dict[str, MemberColumns] = field(default_factory=dict)
    edges: dict[CanonicalEtype, MemberColumns] = field(default_factory=dict)
    ids_checked: bool = False

    @property
    def num_nodes(self) -> int:
        """Nodes of every type."""
        return sum(m.num_rows for m in self.nodes.values())

    @property
    def num_edges(self) -> int:
        """Edges of every relation."""
        return sum(m.num_rows for m in self.edges.values())

    def to_document(self) -> dict[str, Any]:
        """The JSON payload document these columns stand for."""
        nodes: list[Any] = []
        edges: list[Any] = []
        for ntype, columns in self.nodes.items():
            nodes += columns.members({"node_type": ntype})
        for etype, columns in self.edges.items():
            edges += columns.members({"edge_type": list(etype)})
        return {**self.envelope, "graph": {"nodes": nodes, "edges": edges}, "targets": self.targets}
