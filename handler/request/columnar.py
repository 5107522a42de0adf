"""An Arrow request's graph grouped straight from its columns (the JSON path's ``TypeGroup``s).

``handler.contract.arrow_payload`` reads a body into one table per node type and relation, so
the grouping is already done; what is left is what ``grouping`` checks per member. Here those
checks run over whole columns, and only a clean graph is grouped this way: every type known to
the model, every id a non-empty string, at least one member per table. Anything else returns
None and the caller reads the body as the JSON document it stands for, whose checks (and error
texts) are the JSON path's. Numeric feature columns become numpy arrays without passing through
Python objects; other columns (strings, ragged lists, columns with nulls) become the JSON
values, as the JSON path has them.
"""

from __future__ import annotations

from typing import Any

from handler.contract.arrow_payload import FEATURE_PREFIX, ArrowPayload
from handler.contract.graph_schema import GraphSchema
from handler.contract.names import CanonicalEtype
from handler.request.grouping import TypeGroup


def columnar_groups(payload: ArrowPayload, schema: GraphSchema) -> tuple[
        dict[str, TypeGroup], dict[CanonicalEtype, TypeGroup]] | None:
    """The node and edge groups of a clean Arrow request (see the module docstring).

    Args:
        payload: the request's columns.
        schema: the model's graph schema.

    Returns:
        node type -> group and relation -> group, or None when the graph is not clean.
    """
    import pyarrow as pa  # present: the payload was read with it

    nodes: dict[str, TypeGroup] = {}
    for ntype, table in payload.nodes.items():
        ids = _ids(pa, table, "node_id")
        if ntype not in schema.node_features or ids is None:
            return None
        nodes[ntype] = _group(pa, f"node type {ntype}, node id", ids, table, payload.nodes_have_features[ntype])
    edges: dict[CanonicalEtype, TypeGroup] = {}
    for etype, table in payload.edges.items():
        src, dst = _ids(pa, table, "src_node_id"), _ids(pa, table, "dest_node_id")
        if etype not in schema.edge_features or etype in schema.reverse_of or src is None or dst is None:
            return None
        edges[etype] = _group(pa, f"edge type {list(etype)}, edge", list(zip(src, dst, strict=True)), table,
                              payload.edges_have_features[etype])
    return nodes, edges


def _ids(pa: Any, table: Any, name: str) -> list[str] | None:
    """A column of non-empty strings as a list (None: another type, nulls, "" or no rows)."""
    column = table.column(name)
    if table.num_rows == 0 or column.null_count or not (pa.types.is_string(column.type)
                                                        or pa.types.is_large_string(column.type)):
        return None
    ids = column.to_pylist()
    return ids if all(ids) else None


def _group(pa: Any, where: str, ids: list[Any], table: Any, has_features: bool) -> TypeGroup:
    group = TypeGroup(where)
    group.ids = ids
    if not has_features:
        group.missing_features = ids[0]
        group.features = [{}] * len(ids)  # read only, as the JSON path's empty objects
        return group
    names = [n for n in table.column_names if n.startswith(FEATURE_PREFIX)]
    group.keys = frozenset(n[len(FEATURE_PREFIX):] for n in names)
    group.columns = {n[len(FEATURE_PREFIX):]: _values(pa, table.column(n)) for n in names}
    return group


def _values(pa: Any, column: Any) -> Any:
    """A feature column as the transforms take it: a numpy array for numbers and booleans
    (scalars, or a fixed-size list of them), else the JSON values. The array has the dtype
    ``np.array`` gives the same JSON values (int64, float64, bool), so a transform answers the
    same."""
    array = column.combine_chunks()
    kind = array.type
    if array.null_count:
        return array.to_pylist()
    if _plain(pa, kind):
        return array.to_numpy(zero_copy_only=False)
    if pa.types.is_fixed_size_list(kind) and _plain(pa, kind.value_type) and kind.list_size > 0:
        flat = array.flatten()
        if not flat.null_count:
            return flat.to_numpy(zero_copy_only=False).reshape(len(array), kind.list_size)
    return array.to_pylist()


def _plain(pa: Any, kind: Any) -> bool:
    return pa.types.is_int64(kind) or pa.types.is_float64(kind) or pa.types.is_boolean(kind)
