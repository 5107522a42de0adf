"""GSProcessing's transform JSON (``gsprocessing-runtime-v1.0``) read into a ``GraphSchema``.

GSProcessing (GraphStorm's Spark graph construction) writes ``gsp_config_with_transformations.json``,
which GraphStorm copies next to ``model.bin`` as ``data_transform_new.json``. Its layout differs
from GConstruct's: node and edge blocks sit under ``graph``, a node block names its type
``type``, an edge block ``source.type`` / ``relation.type`` / ``dest.type``, a feature is
``{column, name, transformation: {name, kwargs}, dim, precomputed_transformation}``, and the
reverse-edge and homogeneous flags are ``graph.add_reverse_edges`` / ``graph.is_homogeneous``.
This module keeps those differences here: the rest of the server sees the same ``GraphSchema``
and ``FeatureSpec``s, whose transforms carry GSProcessing's names with the prefix
``GSP_TRANSFORM_PREFIX`` (``handler.transforms`` re-applies them, ``gsp_*.py``).

Training indexes relations in the JSON's edge order (the partition's etype ids), not sorted as
for GConstruct graphs: ``GraphSchema.relation_order`` says so.
"""

from __future__ import annotations

from typing import Any

from handler.contract.names import CanonicalEtype

GSP_VERSION_PREFIX = "gsprocessing"
# Prefix of the transform names of GSProcessing features (``gsprocessing:numerical``, ...).
GSP_TRANSFORM_PREFIX = "gsprocessing:"


def is_gsp_config(conf: Any) -> bool:
    """Whether a loaded transform JSON was written by GSProcessing."""
    if not isinstance(conf, dict) or not isinstance(conf.get("graph"), dict):
        return False
    # GSProcessing writes "gsprocessing-runtime-v1.0"; its input configs say "gsprocessing-v1.0".
    return str(conf.get("version", "")).startswith(GSP_VERSION_PREFIX) or "edges" not in conf


def gsp_blocks(conf: dict[str, Any]) -> tuple[list[tuple[str, list[dict[str, Any]]]],
                                              list[tuple[CanonicalEtype, list[dict[str, Any]]]],
                                              bool, bool]:
    """The node and edge blocks of a GSProcessing config, as (type, feature specs as GConstruct
    would write them) pairs, and the homogeneous / reverse-edge flags.

    Args:
        conf: the loaded JSON (``is_gsp_config``).

    Returns:
        ``(node blocks, edge blocks, is_homogeneous, add_reverse_edges)``; each feature spec is
        a dict of ``FeatureSpec`` fields (``name``, ``transform``, ``truncate_dim``,
        ``separator``, ``dim``).

    Raises:
        ValueError: a block without its type, a malformed relation, a feature without a name.
    """
    graph = conf["graph"]
    nodes = graph.get("nodes") or []
    edges = graph.get("edges")
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise ValueError("GSProcessing config needs 'graph.edges' (and 'graph.nodes') lists")
    node_blocks = []
    for block in nodes:
        if not block:  # GSProcessing writes [{}] for a graph without node blocks
            continue
        if not isinstance(block.get("type"), str):
            raise ValueError(f"GSProcessing node block without a 'type': {_short(block)}")
        node_blocks.append((block["type"], [gsp_feature(f) for f in block.get("features") or []]))
    edge_blocks = []
    for block in edges:
        try:
            etype = (block["source"]["type"], block["relation"]["type"], block["dest"]["type"])
        except (KeyError, TypeError):
            raise ValueError(f"GSProcessing edge block without source/relation/dest types: {_short(block)}") from None
        if not all(isinstance(t, str) for t in etype):
            raise ValueError(f"GSProcessing edge block with a non-string type: {_short(block)}")
        edge_blocks.append((etype, [gsp_feature(f) for f in block.get("features") or []]))
    return (node_blocks, edge_blocks, bool(graph.get("is_homogeneous", False)),
            bool(graph.get("add_reverse_edges", False)))


def gsp_feature(block: dict[str, Any]) -> dict[str, Any]:
    """One GSProcessing feature as ``FeatureSpec`` fields: the transformation keeps
    GSProcessing's name (prefixed), kwargs, column(s) and saved state."""
    column = block.get("column")
    if isinstance(column, list) and len(column) == 1:
        column = column[0]
    name = block.get("name", column if isinstance(column, str) else None)
    if not isinstance(name, str):
        raise ValueError(f"GSProcessing feature {_short(block)} has no name")
    transformation = block.get("transformation") or {"name": "no-op"}
    kind = transformation.get("name", "no-op")
    kwargs = transformation.get("kwargs") or {}
    dim = block.get("dim")
    columns = (column,) if isinstance(column, str) else tuple(c for c in column or () if isinstance(c, str))
    transform = {
        "name": GSP_TRANSFORM_PREFIX + str(kind),
        "kwargs": kwargs,
        "column": column,
        "precomputed": block.get("precomputed_transformation"),
    }
    return {"name": name, "transform": transform, "dim": tuple(dim) if isinstance(dim, list) else None,
            "columns": columns}


def gsp_inputs(conf: dict[str, Any]) -> list[dict[str, Any]]:
    """Where each block of a GSProcessing config reads its rows (for the graph loader).

    Args:
        conf: the loaded JSON (``is_gsp_config``; ``gsp_blocks`` has checked its types).

    Returns:
        Per node block, then per edge block: ``InputTable`` fields except ``features``
        (``type_name``, ``relation``, ``files``, ``format`` as GConstruct spells it,
        ``id_columns``), with ``feature_blocks``, the block's features.
    """
    graph = conf["graph"]
    out = []
    for block in graph.get("nodes") or []:
        if block:
            out.append({"type_name": block["type"], "relation": None, "id_columns": (block.get("column"),),
                        **_data(block), "feature_blocks": block.get("features") or []})
    for block in graph["edges"]:
        etype = (block["source"]["type"], block["relation"]["type"], block["dest"]["type"])
        out.append({"type_name": ",".join(etype), "relation": etype,
                    "id_columns": (block["source"].get("column"), block["dest"].get("column")),
                    **_data(block), "feature_blocks": block.get("features") or []})
    return out


def _data(block: dict[str, Any]) -> dict[str, Any]:
    """A block's ``data`` (format, files, separator) as GConstruct's ``files`` and ``format``."""
    data = block.get("data") or {}
    fmt: dict[str, Any] = {"name": data.get("format", "parquet")}
    if data.get("separator") is not None:
        fmt["separator"] = data["separator"]
    files = data.get("files") or []
    return {"files": tuple(files) if isinstance(files, list) else (files,), "format": fmt}


def _short(block: Any) -> str:
    text = repr(block)
    return text if len(text) <= 200 else text[:200] + "..."
