"""Tests of handler.request.columnar on list columns (a graph-store extraction's): which become
numpy arrays (the dtype ``np.array`` gives the same values) and which stay the JSON values, and
that a graph that is not clean is read as the document it stands for (the JSON path's errors)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from handler.contract.errors import GraphConstructionError, MissingFieldDataError
from handler.contract.graph_columns import GraphColumns, MemberColumns
from handler.contract.graph_schema import GraphSchema
from handler.contract.limits import RequestLimits
from handler.request.columnar import columnar_groups
from handler.request.decode import DecodedRequest
from handler.request.parse import RequestParser
from handler.request.request_uid import RequestUid
from tests.compare import artifacts_dir

SCHEMA = GraphSchema.from_file(artifacts_dir("rgcn_nc") / "data_transform_new.json")
WRITES = ("author", "writing", "paper")
ENVELOPE = {"version": "gs-realtime-v0.1", "gml_task": "node_classification"}
TARGETS = [{"node_type": "paper", "node_id": "p1"}]


def _columns(ids: list, features: dict | None = None, edges: dict | None = None) -> GraphColumns:
    return GraphColumns(ENVELOPE, TARGETS, nodes={"paper": MemberColumns({"node_id": ids}, features)},
                        edges=edges or {})


@pytest.mark.parametrize(("values", "dtype", "shape"), [
    ([1.5, 2.0], np.float64, (2,)),
    ([1, 2], np.int64, (2,)),
    ([True, False], np.bool_, (2,)),
    ([[1.0, 2.0], [3.0, 4.0]], np.float64, (2, 2)),
    ([[1], [2]], np.int64, (2, 1)),
])
def test_numeric_columns_become_the_array_np_array_makes(values, dtype, shape):
    group = columnar_groups(_columns(["p1", "p2"], {"x": values}), SCHEMA)[0]["paper"]
    column = group.values("x")
    assert isinstance(column, np.ndarray) and column.dtype == dtype and column.shape == shape
    assert np.array_equal(column, np.array(values))


@pytest.mark.parametrize("values", [
    [1, 2.5],            # mixed int and float: a transform reading values would see 1.0
    [True, 1],           # bool and int
    [2**63, 1],          # beyond int64
    [[1.0, 2.0], [3.0]],  # ragged
    [[], []],            # empty vectors
    [[1.0, 2], [3.0, 4.0]],
    ["a", "b"],
    [None, 1.0],
])
def test_other_columns_stay_the_json_values(values):
    group = columnar_groups(_columns(["p1", "p2"], {"x": values}), SCHEMA)[0]["paper"]
    assert group.values("x") is values


def test_members_without_features_group_as_the_json_path_has_them():
    group = columnar_groups(_columns(["p1", "p2"]), SCHEMA)[0]["paper"]
    assert group.keys is None and group.missing_features == "p1" and group.features == [{}, {}]


def test_edges_group_by_relation_with_src_dst_ids():
    edges = {WRITES: MemberColumns({"src_node_id": ["a1"], "dest_node_id": ["p1"]}, {"w": [0.5]})}
    groups = columnar_groups(_columns(["p1"], None, edges), SCHEMA)[1]
    assert groups[WRITES].ids == [("a1", "p1")] and groups[WRITES].values("w").dtype == np.float64


@pytest.mark.parametrize("ids", [[], ["p1", ""], ["p1", 2]])
def test_unclean_ids_are_not_grouped_as_columns(ids):
    assert columnar_groups(_columns(ids), SCHEMA) is None


def test_an_unclean_graph_is_parsed_as_its_document():
    parser = RequestParser(SCHEMA, "node_classification", RequestLimits())
    with pytest.raises(MissingFieldDataError, match="node_id"):  # the JSON path's 402
        parser.parse(DecodedRequest(RequestUid("u"), None, _columns(["p1", ""])))
    parsed = parser.parse(DecodedRequest(RequestUid("u"), None, _columns(["p1", 2], {"x": [1.0, 2.0]})))
    group = parsed.nodes["paper"]  # a number id is the JSON path's business: grouped from the document
    assert group.ids == ["p1", 2] and group.columns is None and group.values("x") == [1.0, 2.0]


def test_unknown_types_are_read_as_the_document():
    columns = GraphColumns(ENVELOPE, TARGETS, nodes={"nope": MemberColumns({"node_id": ["x"]})})
    assert columnar_groups(columns, SCHEMA) is None
    with pytest.raises(GraphConstructionError, match="not a node type"):
        parser = RequestParser(SCHEMA, "node_classification", RequestLimits())
        parser.parse(DecodedRequest(RequestUid("u"), None, columns))


def test_to_document_lists_members_in_column_order():
    edges = {WRITES: MemberColumns({"src_node_id": ["a1"], "dest_node_id": ["p1"]})}
    doc = _columns(["p1", "p2"], {"x": [1, 2]}, edges).to_document()
    assert doc == {**ENVELOPE, "targets": TARGETS, "graph": {
        "nodes": [{"node_type": "paper", "node_id": "p1", "features": {"x": 1}},
                  {"node_type": "paper", "node_id": "p2", "features": {"x": 2}}],
        "edges": [{"edge_type": list(WRITES), "src_node_id": "a1", "dest_node_id": "p1"}]}}


def _arrow_group(column) -> object:
    """The 'x' column of a paper group made from pyarrow columns (an Arrow request's)."""
    ids = pa.array([f"p{i}" for i in range(len(column))])
    return columnar_groups(_columns(ids, {"x": column}), SCHEMA)[0]["paper"].values("x")


def _sliced(array):
    """``array`` at a non-zero offset (its buffers hold a row before it)."""
    return pa.concat_arrays([array[:1], array]).slice(1)


@pytest.mark.parametrize("values, arrow_type", [
    ([1.5, 2.0, -3.0], pa.float64()),
    ([1, 2, 3], pa.int64()),
    ([True, False, True], pa.bool_()),
    ([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], pa.list_(pa.float64(), 2)),
    ([[1], [2], [3]], pa.list_(pa.int64(), 1)),
])
@pytest.mark.parametrize("layout", ["array", "sliced", "chunked"])
def test_numeric_arrow_columns_become_the_array_np_array_makes(values, arrow_type, layout):
    array = pa.array(values, arrow_type)
    column = {"array": array, "sliced": _sliced(array),
              "chunked": pa.chunked_array([array[:1], array[1:]])}[layout]
    out = _arrow_group(column)
    assert isinstance(out, np.ndarray) and out.dtype == np.array(values).dtype
    assert np.array_equal(out, np.array(values))


@pytest.mark.parametrize("values, arrow_type", [
    ([1.5, None, 2.0], pa.float64()),
    ([[1.0, None], [3.0, 4.0], [5.0, 6.0]], pa.list_(pa.float64(), 2)),
    ([1, 2, 3], pa.int32()),
    (["a", "b", "c"], pa.string()),
])
def test_other_arrow_columns_become_the_json_values(values, arrow_type):
    assert _arrow_group(pa.array(values, arrow_type)) == values


@pytest.mark.parametrize("ids", [
    pa.array(["p1", None], pa.string()), pa.array(["p1", ""], pa.string()), pa.array([1, 2]),
    pa.array([], pa.string()),
])
def test_arrow_id_columns_that_are_not_non_empty_strings_are_not_grouped(ids):
    assert columnar_groups(_columns(ids), SCHEMA) is None


def test_arrow_id_columns_of_large_strings_are_grouped():
    group = columnar_groups(_columns(pa.array(["p1", "p2"], pa.large_string())), SCHEMA)[0]["paper"]
    assert group.ids == ["p1", "p2"]


@pytest.mark.parametrize("array", [
    pa.array([1.5, 2.0, -3.0]), pa.array([1, 2, 3]),
    pa.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], pa.list_(pa.float64(), 2)),
])
def test_numeric_arrow_columns_are_read_without_a_copy(array):
    values = array.values if pa.types.is_fixed_size_list(array.type) else array
    buffer = np.frombuffer(values.buffers()[1], np.dtype(values.type.to_pandas_dtype()))
    assert np.shares_memory(_arrow_group(array), buffer)
