"""The graph schema of ``data_transform_new.json`` (GConstruct's output config).

Node types, edge types and per-type feature specs, as GraphStorm's payload processing reads
them (``gconstruct/construct_payload_graph.py``): several blocks of one node or edge type are
merged (``get_gconstruct_conf``); a feature's payload key is its ``feature_name`` (the
real-time spec), defaulting to ``feature_col``. GSProcessing's transform JSON (another layout)
is read by ``gsp_schema`` into the same schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handler.contract.artifacts import read_transform_json
from handler.contract.gsp_schema import gsp_blocks, gsp_feature, gsp_inputs, is_gsp_config
from handler.contract.names import CanonicalEtype, as_etype  # noqa: F401 (re-exported)

LEARNABLE_EMBEDDING_KEY = "gs_learnable_embedding"
# GConstruct's suffix for the reverse relation it adds with --add-reverse-edges.
REVERSE_SUFFIX = "-rev"


@dataclass(frozen=True)
class FeatureSpec:
    """One GConstruct feature of a node or edge type.

    Attributes:
        name: ``feature_name``, the key under which payloads carry the raw value.
        transform: the ``transform`` block (``{"name": ..., ...}``); ``None`` means no-op.
        out_dtype: ``out_dtype`` of the feature block, if any.
        truncate_dim: the block-level ``truncate_dim`` of a transform-less feature, if any.
        separator: the block-level ``separator`` of a transform-less feature, if any.
        dim: ``feature_dim`` as written by GConstruct (output shape without the node axis).
        columns: ``feature_col``: the input table column(s) holding the raw value.
    """

    name: str
    transform: dict[str, Any] | None
    out_dtype: str | None = None
    truncate_dim: int | None = None
    separator: str | None = None
    dim: tuple[int, ...] | None = None
    columns: tuple[str, ...] = ()

    @property
    def transform_name(self) -> str:
        """The transform's name; ``no-op`` when the block has none."""
        return self.transform["name"] if self.transform else "no-op"


@dataclass(frozen=True)
class InputTable:
    """One ``nodes[]`` or ``edges[]`` block: where GConstruct read a type's rows from.

    Attributes:
        type_name: the node type, or the relation joined by commas.
        relation: the relation of an edge block (``None`` for a node block).
        files: the ``files`` entries as written at construction time (absolute paths there).
        format: the ``format`` block (``{"name": "parquet"}``, ``{"name": "csv", "separator": ","}``).
        id_columns: ``(node_id_col,)`` of a node block, ``(source_id_col, dest_id_col)`` of an
            edge block.
        features: the block's features (``FeatureSpec.columns`` names the input columns).
    """

    type_name: str
    relation: CanonicalEtype | None
    files: tuple[str, ...]
    format: dict[str, Any]
    id_columns: tuple[str, ...]
    features: tuple[FeatureSpec, ...]


@dataclass(frozen=True)
class GraphSchema:
    """Node and edge types of the graph the model was trained on, with their feature specs.

    Attributes:
        ntypes: every node type: GConstruct's node blocks, then relation endpoints without one.
        canonical_etypes: every relation of the model: GConstruct's edge blocks in file order,
            each followed by its reverse ``(dst, rel-rev, src)`` when ``add_reverse_edges`` was
            set on a heterogeneous graph.
        node_features: node type -> its GConstruct features (merged over blocks).
        edge_features: relation -> its GConstruct features; reverse relations have none.
        is_homogeneous: GConstruct renamed the graph to ``_N`` / ``(_N, _E, _N)``.
        add_reverse_edges: GConstruct added reverse edges: reverse relations on a heterogeneous
            graph, the swapped edges within ``_E`` on a homogeneous one.
        reverse_of: reverse relation -> the configured relation whose edges it holds swapped;
            the graph builder derives these, payloads do not carry them.
        by_gsprocessing: the graph was built by GSProcessing (``gsp_schema``).
        inputs: the config's node and edge blocks in file order (input files, id columns), as
            the graph loader (``handler.graph_store.loader``) reads them (GConstruct configs).
    """

    ntypes: tuple[str, ...]
    canonical_etypes: tuple[CanonicalEtype, ...]
    node_features: dict[str, tuple[FeatureSpec, ...]]
    edge_features: dict[CanonicalEtype, tuple[FeatureSpec, ...]]
    is_homogeneous: bool = False
    add_reverse_edges: bool = False
    reverse_of: dict[CanonicalEtype, CanonicalEtype] = field(default_factory=dict)
    by_gsprocessing: bool = False
    inputs: tuple[InputTable, ...] = ()

    @property
    def relation_order(self) -> tuple[CanonicalEtype, ...] | None:
        """The relations in the order training indexed them, when it is not the sorted order:
        GSProcessing's partitions number edge types in the JSON's order (GConstruct's: sorted)."""
        return self.canonical_etypes if self.by_gsprocessing else None

    @classmethod
    def from_file(cls, path: str | Path) -> GraphSchema:
        """Reads ``data_transform_new.json`` (or any GConstruct config with the same layout)."""
        return cls.from_dict(read_transform_json(path))

    @classmethod
    def from_dict(cls, conf: dict[str, Any]) -> GraphSchema:
        """Builds the schema from a loaded GConstruct (or GSProcessing) config.

        Raises:
            ValueError: the config has no ``nodes``/``edges`` lists, a malformed relation, or a
                relation GConstruct's reverse edges would have replaced.
        """
        node_features: dict[str, list[FeatureSpec]] = {}
        edge_features: dict[CanonicalEtype, list[FeatureSpec]] = {}
        inputs: list[InputTable] = []
        by_gsp = is_gsp_config(conf)
        if by_gsp:
            node_blocks, edge_blocks, is_homogeneous, add_reverse = gsp_blocks(conf)
            for ntype, fields in node_blocks:
                node_features.setdefault(ntype, []).extend(FeatureSpec(**f) for f in fields)
            for etype, fields in edge_blocks:
                edge_features.setdefault(etype, []).extend(FeatureSpec(**f) for f in fields)
            for block in gsp_inputs(conf):
                block_features = tuple(FeatureSpec(**gsp_feature(f)) for f in block.pop("feature_blocks"))
                block["id_columns"] = tuple(str(c) for c in block["id_columns"] if c is not None)
                inputs.append(InputTable(features=block_features, **block))
        else:
            if not isinstance(conf.get("nodes"), list) or not isinstance(conf.get("edges"), list):
                raise ValueError("graph construction config needs 'nodes' and 'edges' lists")
            inputs = [_input_table(block, None) for block in conf["nodes"]]
            for block in conf["nodes"]:
                feats = node_features.setdefault(block["node_type"], [])
                feats.extend(_feature_spec(f) for f in block.get("features", []))
            for block in conf["edges"]:
                relation = block["relation"]
                if not isinstance(relation, list) or len(relation) != 3:
                    raise ValueError(f"relation {relation!r} is not [src, rel, dst]")
                inputs.append(_input_table(block, as_etype(relation)))
                feats = edge_features.setdefault(as_etype(relation), [])
                feats.extend(_feature_spec(f) for f in block.get("features", []))
            is_homogeneous = bool(conf.get("is_homogeneous", False))
            add_reverse = bool(conf.get("add_reverse_edges", False))
        etypes = list(edge_features)
        reverse_of: dict[CanonicalEtype, CanonicalEtype] = {}
        if add_reverse and not is_homogeneous:
            etypes, reverse_of = _with_reverse_relations(etypes)
        ntypes = list(node_features)
        for src, _, dst in etypes:
            for nt in (src, dst):
                if nt not in ntypes:
                    ntypes.append(nt)
        return cls(
            ntypes=tuple(ntypes),
            canonical_etypes=tuple(etypes),
            node_features={nt: tuple(node_features.get(nt, ())) for nt in ntypes},
            edge_features={et: tuple(edge_features.get(et, ())) for et in etypes},
            is_homogeneous=is_homogeneous,
            add_reverse_edges=add_reverse,
            reverse_of=reverse_of,
            by_gsprocessing=by_gsp,
            inputs=tuple(inputs),
        )


def _with_reverse_relations(
    configured: list[CanonicalEtype],
) -> tuple[list[CanonicalEtype], dict[CanonicalEtype, CanonicalEtype]]:
    """GConstruct's relations after ``--add-reverse-edges`` on a heterogeneous graph.

    ``construct_graph.py`` fills a dict relation by relation: the relation, then
    ``(dst, rel-rev, src)`` with the swapped edges (and no features). A configured relation
    named like an earlier one's reverse replaces that reverse; this mirrors the dict.

    Args:
        configured: the config's relations, in file order.

    Returns:
        Every relation in GConstruct's order, and reverse relation -> configured relation.

    Raises:
        ValueError: a reverse relation replaced a configured relation listed before it.
    """
    source: dict[CanonicalEtype, CanonicalEtype | None] = {}  # None: configured
    for src, rel, dst in configured:
        source[(src, rel, dst)] = None
        source[(dst, rel + REVERSE_SUFFIX, src)] = (src, rel, dst)
    for etype in configured:
        replaced_by = source[etype]
        if replaced_by is not None:
            raise ValueError(
                f"relation {list(etype)} is also GConstruct's reverse of {list(replaced_by)}, "
                "which replaced its edges (add_reverse_edges); rename the relation"
            )
    return list(source), {et: fwd for et, fwd in source.items() if fwd is not None}


def _input_table(block: dict[str, Any], relation: CanonicalEtype | None) -> InputTable:
    """The input-table facts of one node (``relation`` None) or edge block."""
    files = block.get("files", [])
    ids: tuple[Any, ...]
    if relation is None:
        name, ids = block["node_type"], (block.get("node_id_col"),)
    else:
        name, ids = ",".join(relation), (block.get("source_id_col"), block.get("dest_id_col"))
    return InputTable(
        type_name=name,
        relation=relation,
        files=tuple(files) if isinstance(files, list) else (files,),
        format=dict(block.get("format") or {}),
        id_columns=tuple(str(c) for c in ids if c is not None),
        features=tuple(_feature_spec(f) for f in block.get("features", [])),
    )


def _feature_spec(block: dict[str, Any]) -> FeatureSpec:
    cols = block.get("feature_col")
    name = block.get("feature_name", cols if isinstance(cols, str) else None)
    if not isinstance(name, str):
        raise ValueError(f"feature block {block!r} has no feature_name")
    dim = block.get("feature_dim")
    return FeatureSpec(
        name=name,
        transform=block.get("transform"),
        out_dtype=block.get("out_dtype"),
        truncate_dim=block.get("truncate_dim"),
        separator=block.get("separator"),
        dim=tuple(dim) if isinstance(dim, list) else None,
        columns=(cols,) if isinstance(cols, str) else tuple(cols or ()),
    )
