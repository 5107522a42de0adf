"""A graph that comes as columns grouped straight from them (the JSON path's ``TypeGroup``s).

Columns come from an Arrow request body (pyarrow's reading), a JSON or Arrow request body read
straight into columns by the C extension (``handler.native.json_columns`` / ``arrow_columns``)
or from a graph-store extraction for a targets-only request (``handler.contract.graph_columns``),
one set per node type and relation, so the grouping is already done; what is left is what
``grouping`` checks per member. Here those checks run over whole columns, and only a clean graph
is grouped this way: every type known to the model, every id a non-empty string (or, read from
a JSON body, an int), at least one member per type. Anything else returns None and the caller
reads the columns as the JSON document they stand for (or, for the extension's, the body again
the reference way), whose checks (and error texts) are the JSON path's. Numeric feature
columns become numpy arrays of the dtype ``np.array`` gives the same JSON values (an Arrow
column without passing through Python objects); other columns (strings, ragged lists, columns
with nulls, mixed types) stay the JSON values, as the JSON path has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import chain
from typing import Any

import numpy as np

from handler.contract.arrow_payload import ENDPOINT_INDEX_COLUMNS
from handler.contract.errors import UnreadableBodyError
from handler.contract.graph_columns import GraphColumns, MemberColumns
from handler.contract.graph_schema import GraphSchema
from handler.contract.names import CanonicalEtype, relation_label
from handler.request.grouping import TypeGroup

# The Python type of every value (or every vector element) of a column -> the dtype np.array
# gives such values; only these columns become arrays.
_ARRAY_DTYPES: dict[type, Any] = {float: np.float64, int: np.int64, bool: np.bool_}


def columnar_groups(columns: GraphColumns, schema: GraphSchema) -> tuple[
        dict[str, TypeGroup], dict[CanonicalEtype, TypeGroup]] | None:
    """The node and edge groups of a clean columnar graph (see the module docstring).

    Args:
        columns: the request's graph as columns.
        schema: the model's graph schema.

    Returns:
        node type -> group and relation -> group, or None when the graph is not clean.
    """
    checked = columns.ids_checked
    nodes: dict[str, TypeGroup] = {}
    for ntype, members in columns.nodes.items():
        ids = _ids(members.ids["node_id"], checked)
        if ntype not in schema.node_features or ids is None:
            return None
        nodes[ntype] = _group(f"node type {ntype}, node id", ids, members)
        nodes[ntype].distinct_ids = checked  # the C readers decline an id listed twice
    edges: dict[CanonicalEtype, TypeGroup] = {}
    for etype, members in columns.edges.items():
        if etype not in schema.edge_features or etype in schema.reverse_of:
            return None
        where = f"{relation_label(etype)}, edge"
        # Positions (an Arrow body's, index_endpoints; the extension's local indices): the
        # (src, dst) ids are looked up only where an error text names an edge.
        if members.endpoints is not None:
            src_nodes, dst_nodes = nodes.get(etype[0]), nodes.get(etype[2])
            if src_nodes is None or dst_nodes is None or not len(members.endpoints[0]):
                return None
            edges[etype] = _group(where, EndpointPairs(src_nodes.ids, dst_nodes.ids, *members.endpoints), members)
            continue
        src, dst = _ids(members.ids["src_node_id"], checked), _ids(members.ids["dest_node_id"], checked)
        if src is None or dst is None:
            return None
        edges[etype] = _group(where, list(zip(src, dst, strict=True)), members)
    return nodes, edges


def index_endpoints(columns: GraphColumns) -> None:
    """Relations whose endpoints came as positions (an Arrow body's ``src_index`` and
    ``dest_index``) get them as int64 arrays, each position checked against its node type's count.

    Raises:
        UnreadableBodyError: a position outside its node type's nodes (400, as a malformed body).
    """
    src_key, dst_key = ENDPOINT_INDEX_COLUMNS
    sides = []
    for (src_type, _, dst_type), members in columns.edges.items():
        if members.endpoints is not None and not isinstance(members.endpoints[0], np.ndarray):
            src, dst = members.endpoints
            sides += [(members, src_type, src_key, src), (members, dst_type, dst_key, dst)]
    if not sides:
        return
    # Every side at once (the per-call costs of numpy, not the positions, are what a request
    # pays here): one writable int64 copy (torch takes writable arrays), one comparison. An
    # unsigned position beyond int64 wraps to a negative one; a negative one is huge as uint64.
    arrays = [column.to_numpy(zero_copy_only=False) for _, _, _, column in sides]
    lengths = [len(a) for a in arrays]
    flat = np.concatenate(arrays, dtype=np.int64, casting="unsafe")
    counts = {ntype: columns.nodes[ntype].num_rows for ntype in {ntype for _, ntype, _, _ in sides}}
    bounds = np.repeat(np.array([counts[ntype] for _, ntype, _, _ in sides], dtype=np.uint64), lengths)
    if (flat.view(np.uint64) >= bounds).any():
        start = 0
        for (members, ntype, key, _), length in zip(sides, lengths, strict=True):
            if (flat[start:start + length].view(np.uint64) >= counts[ntype]).any():
                etype = next(et for et, m in columns.edges.items() if m is members)
                raise UnreadableBodyError(f"edge type {list(etype)}: {key} holds a position outside node type "
                                          f"{ntype}'s {counts[ntype]} nodes")
            start += length
    start = 0
    for i in range(0, len(sides), 2):
        middle, end = start + lengths[i], start + lengths[i] + lengths[i + 1]
        sides[i][0].endpoints = (flat[start:middle], flat[middle:end])
        start = end


class EndpointPairs(Sequence[tuple[Any, Any]]):
    """A relation's ``(src, dst)`` ids when its endpoints came as positions: looked up per edge
    only where something reads one (an error text naming an edge)."""

    def __init__(self, src_ids: list[Any], dst_ids: list[Any], src: np.ndarray, dst: np.ndarray) -> None:
        self._src_ids, self._dst_ids, self._src, self._dst = src_ids, dst_ids, src, dst

    def __len__(self) -> int:
        return len(self._src)

    def __getitem__(self, row: Any) -> Any:
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        return self._src_ids[self._src[row]], self._dst_ids[self._dst[row]]


def _ids(column: Any, checked: bool = False) -> list[Any] | None:
    """A column of non-empty strings as a list (None: another type, nulls, "" or no rows);
    ``checked``: the column's producer made it a list of ids the JSON path takes as they are
    (``GraphColumns.ids_checked``: non-empty strs or ints)."""
    if checked:
        return column
    if isinstance(column, list):
        if not column or set(map(type, column)) != {str}:
            return None
        return column if all(column) else None
    # A pyarrow column (an Arrow request's): a string column without nulls holds only str.
    if column.null_count or column.type.id not in _string_type_ids():
        return None
    ids = column.to_pylist()
    return ids if ids and all(ids) else None


def _group(where: str, ids: Sequence[Any], members: MemberColumns) -> TypeGroup:
    group = TypeGroup(where)
    group.ids = ids  # type: ignore[assignment]  # EndpointPairs: read only, by len and position
    group.endpoints = members.endpoints
    if members.features is None:
        group.missing_features = ids[0]
        group.features = [{}] * len(ids)  # read only, as the JSON path's empty objects
        return group
    group.keys = frozenset(members.features)
    text = members.text_features
    group.columns = {name: column if name in text else _values(column) for name, column in members.features.items()}
    return group


def _values(column: Any) -> Any:
    """A feature column as the transforms take it: a numpy array for numbers and booleans
    (scalars, or vectors of one length), else the JSON values. The array has the dtype
    ``np.array`` gives the same JSON values (int64, float64, bool), so a transform answers the
    same."""
    if isinstance(column, list):
        return _list_values(column)
    if isinstance(column, np.ndarray):  # the extension's number column (handler.native.json_columns / arrow_columns)
        return column
    array = column if not hasattr(column, "combine_chunks") else column.combine_chunks()
    if array.null_count:
        return array.to_pylist()
    kind = array.type
    plain = _plain_type_ids()
    if kind.id in plain:  # zero-copy: the array's buffer as numpy sees it
        return array.to_numpy(zero_copy_only=False)
    if kind.id == _fixed_size_list_id() and kind.value_type.id in plain and kind.list_size > 0:
        width = kind.list_size
        # The child values of exactly these rows (a sliced array's child is longer: flatten cuts it).
        flat = array.values if array.offset == 0 and len(array.values) == len(array) * width else array.flatten()
        if not flat.null_count:
            return flat.to_numpy(zero_copy_only=False).reshape(len(array), width)
    return array.to_pylist()


def _list_values(values: list[Any]) -> Any:
    """A column of JSON values as an array when every value (or every element of vectors of one
    non-zero length) has one Python type of ``_ARRAY_DTYPES`` and fits its dtype (an integer
    beyond int64 does not); else the values. ``np.fromiter`` fills the array without numpy's
    shape discovery (the values' types are known by then)."""
    leaves = set(map(type, values))
    width = 0
    if leaves == {list}:
        lengths = set(map(len, values))
        width = lengths.pop()
        if lengths or not width:
            return values
        leaves = set(map(type, chain.from_iterable(values)))
    dtype = _ARRAY_DTYPES.get(leaves.pop()) if len(leaves) == 1 else None
    if dtype is None:
        return values
    try:
        if not width:
            return np.fromiter(values, dtype, len(values))
        return np.fromiter(chain.from_iterable(values), dtype, len(values) * width).reshape(len(values), width)
    except OverflowError:  # an int beyond int64: numpy would keep it as an object
        return values


@cache
def _string_type_ids() -> frozenset[int]:
    """pyarrow type ids of the string columns an id column may be (``string``, ``large_string``)."""
    import pyarrow as pa  # only Arrow requests come here: pyarrow read them

    return frozenset((pa.string().id, pa.large_string().id))


@cache
def _plain_type_ids() -> frozenset[int]:
    """pyarrow type ids whose arrays become numpy arrays of ``np.array``'s dtype as they are
    (``int64``, ``double``, ``bool``)."""
    import pyarrow as pa

    return frozenset((pa.int64().id, pa.float64().id, pa.bool_().id))


@cache
def _fixed_size_list_id() -> int:
    import pyarrow as pa

    return int(pa.list_(pa.int64(), 1).id)
