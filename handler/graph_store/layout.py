"""The store layout ("gs-graph-store-v1"): which tables and properties hold a model's graph.

Derived from the graph schema (``data_transform_new.json``) alone, so the loader and every
reader name the same tables. Nodes: one table per node type, keyed by the raw id. Edges: one
table per configured relation, keyed by an integer edge key laid out so that a destination's
in-edges are a contiguous key range (``gs_in_base_<i>`` .. ``+ gs_in_deg_<i>``); sampling then
needs only primary-key lookups (``docs/graph_store.md``, "Store layout").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from handler.contract.graph_schema import LEARNABLE_EMBEDDING_KEY, GraphSchema
from handler.contract.names import CanonicalEtype

LAYOUT_FORMAT = "gs-graph-store-v1"
META_TABLE = "gs_store_meta"
META_KEY = "layout"
SRC_PROPERTY = "gs_src"
DST_PROPERTY = "gs_dst"
FORWARD_KEY_PROPERTY = "gs_fwd"
# Suffix of the source-major copy of a relation's edges (reverse relations read it).
OUT_SUFFIX = "#out"


@dataclass(frozen=True)
class EdgeTable:
    """One configured relation's edges in the store.

    Attributes:
        index: position among the configured relations (names the degree/base properties).
        etype: the configured relation.
        features: its edge feature names, in config order.
    """

    index: int
    etype: CanonicalEtype
    features: tuple[str, ...]

    @property
    def label(self) -> str:
        """The table holding the edges keyed destination-major."""
        return ",".join(self.etype)


@dataclass(frozen=True)
class Segment:
    """One block of a node's in-edges over a model relation.

    Attributes:
        table: the configured relation whose edges hold the block.
        outgoing: the block is the node's OUT-edges of ``table`` (a reverse relation, or the
            swapped half of a homogeneous graph's reverse edges); else its in-edges.
    """

    table: EdgeTable
    outgoing: bool

    @property
    def label(self) -> str:
        """The table the block's keys index."""
        return self.table.label + OUT_SUFFIX if self.outgoing else self.table.label

    @property
    def anchor_ntype(self) -> str:
        """The node type whose degree/base properties locate the block."""
        return self.table.etype[0] if self.outgoing else self.table.etype[2]

    @property
    def deg_property(self) -> str:
        """The node property holding the block's length."""
        return f"gs_{'out' if self.outgoing else 'in'}_deg_{self.table.index}"

    @property
    def base_property(self) -> str:
        """The node property holding the block's first key."""
        return f"gs_{'out' if self.outgoing else 'in'}_base_{self.table.index}"


@dataclass(frozen=True)
class StoreLayout:
    """Tables and properties of one graph in a store.

    Attributes:
        tables: the configured relations, in config order.
        node_features: node type -> feature names as stored (config order).
        add_reverse_edges: the out-edge tables exist (reverse relations are read from them).
        is_homogeneous: the graph is GConstruct's homogeneous ``_N`` / ``_E``.
        learnable: node types with a stored ``gs_learnable_embedding``.
        segments: model relation -> the blocks forming a node's in-edges over it.
    """

    tables: tuple[EdgeTable, ...]
    node_features: dict[str, tuple[str, ...]]
    add_reverse_edges: bool
    is_homogeneous: bool
    learnable: frozenset[str]
    segments: dict[CanonicalEtype, tuple[Segment, ...]]

    @classmethod
    def from_schema(cls, schema: GraphSchema, learnable: frozenset[str] = frozenset()) -> StoreLayout:
        """The layout of a graph with this schema.

        Args:
            schema: the graph schema (data_transform_new.json).
            learnable: node types whose learnable embeddings are stored.

        Returns:
            The layout.
        """
        configured = [et for et in schema.canonical_etypes if et not in schema.reverse_of]
        tables = tuple(
            EdgeTable(i, et, tuple(f.name for f in schema.edge_features.get(et, ())))
            for i, et in enumerate(configured)
        )
        by_etype = {t.etype: t for t in tables}
        segments: dict[CanonicalEtype, tuple[Segment, ...]] = {}
        for etype in schema.canonical_etypes:
            if etype in schema.reverse_of:
                segments[etype] = (Segment(by_etype[schema.reverse_of[etype]], outgoing=True),)
            elif schema.is_homogeneous and schema.add_reverse_edges:
                segments[etype] = (Segment(by_etype[etype], False), Segment(by_etype[etype], True))
            else:
                segments[etype] = (Segment(by_etype[etype], outgoing=False),)
        return cls(
            tables=tables,
            node_features={nt: tuple(f.name for f in schema.node_features.get(nt, ())) for nt in schema.ntypes},
            add_reverse_edges=schema.add_reverse_edges,
            is_homogeneous=schema.is_homogeneous,
            learnable=frozenset(learnable),
            segments=segments,
        )

    def node_segments(self, ntype: str) -> tuple[Segment, ...]:
        """Every block whose degree/base properties live on ``ntype`` nodes, in a fixed order."""
        blocks = [Segment(t, False) for t in self.tables if t.etype[2] == ntype]
        if self.add_reverse_edges:
            blocks += [Segment(t, True) for t in self.tables if t.etype[0] == ntype]
        return tuple(blocks)

    def payload_features(self, ntype: str, model_ntypes: frozenset[str] | None) -> tuple[str, ...]:
        """The stored properties a payload node of ``ntype`` carries.

        Args:
            ntype: the node type.
            model_ntypes: node types the model reads features of (``None``: every type); a
                type outside it is featureless in the model and carries only its learnable
                embedding.

        Returns:
            Feature names (payload keys = property names).
        """
        if model_ntypes is not None and ntype not in model_ntypes:
            return (LEARNABLE_EMBEDDING_KEY,)
        return self.node_features.get(ntype, ())

    def to_json(self, types: dict[str, dict[str, str]] | None = None) -> str:
        """The layout record kept in the store's meta table.

        Args:
            types: table label -> property -> store type (``FLOAT[]``, ``STRING``...).
        """
        return json.dumps({
            "types": types or {},
            "format": LAYOUT_FORMAT,
            "relations": [list(t.etype) for t in self.tables],
            "edge_features": [list(t.features) for t in self.tables],
            "node_features": {nt: list(f) for nt, f in self.node_features.items()},
            "add_reverse_edges": self.add_reverse_edges,
            "is_homogeneous": self.is_homogeneous,
            "learnable": sorted(self.learnable),
        }, sort_keys=True)

    @staticmethod
    def parse_record(text: str) -> dict[str, Any]:
        """Reads a meta-table layout record.

        Raises:
            ValueError: not a layout record of this format.
        """
        record = json.loads(text)
        if not isinstance(record, dict) or record.get("format") != LAYOUT_FORMAT:
            raise ValueError(f"not a {LAYOUT_FORMAT} store")
        return record


def quote(name: str) -> str:
    """An identifier as openCypher text: backtick-quoted, inner backticks doubled.

    Only names from the model config (node types, relations, feature names) pass here; data
    values are always query parameters.
    """
    return "`" + name.replace("`", "``") + "`"
