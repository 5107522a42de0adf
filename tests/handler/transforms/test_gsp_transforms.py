"""Tests of GSProcessing graphs: its transform JSON and its transformations, rule by rule.

The fixture ``gsp_rgcn_nc`` checks the whole path against GSProcessing's own output
(``intermediate/*.npz`` in test_graph_builder.py, ``target/`` in test_fixture_parity.py); here
each rule of GSProcessing 0.5.1's Spark code is pinned down on small inputs, and the models
that cannot be served are refused at load.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from handler import RealtimePredictor
from handler.contract.errors import UnsupportedConfigError
from handler.contract.graph_schema import GraphSchema
from handler.transforms import FeatureValueError, build_transform
from handler.transforms.gsp_bucket_numerical import GSPBucketNumericalTransform

ARTIFACTS = Path(__file__).parents[2] / "fixtures" / "gsp_rgcn_nc" / "artifacts"
CONF = json.loads((ARTIFACTS / "data_transform_new.json").read_text())
YAML = "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"


def _feature(ntype: str, name: str, conf: dict = CONF):
    schema = GraphSchema.from_dict(conf)
    return next(f for f in schema.node_features[ntype] if f.name == name)


def _numerical(imputer: str, imputed: float | None, norm: str, reconstruction: dict, column: str = "c"):
    """A GSProcessing numerical feature spec with the given saved state."""
    conf = copy.deepcopy(CONF)
    paper = conf["graph"]["nodes"][0]
    paper["features"].append({
        "column": column, "name": "f", "dim": [1],
        "transformation": {"name": "numerical", "kwargs": {"normalizer": norm, "imputer": imputer}},
        "precomputed_transformation": {
            "cols": [column], "out_dtype": "float32", "transformation_name": "DistNumericalTransformation",
            "imputer_model": {"imputer_name": imputer,
                              "imputed_val_dict": {} if imputed is None else {column: imputed}},
            "normalizer_model": {"norm_name": norm, "norm_reconstruction": reconstruction},
        },
    })
    return build_transform(_feature("paper", "f", conf))


def test_schema_reads_gsprocessing_layout():
    schema = GraphSchema.from_dict(CONF)
    assert schema.by_gsprocessing and schema.relation_order == schema.canonical_etypes
    assert schema.canonical_etypes[:2] == (("author", "writing", "paper"), ("paper", "writing-rev", "author"))
    names = [f.name for f in schema.node_features["paper"]]
    assert names == ["feat", "year", "citations", "pages", "venue", "keywords"]
    assert [f.name for f in schema.edge_features[("author", "writing", "paper")]] == ["order", "contrib"]
    gconstruct = GraphSchema.from_file(ARTIFACTS.parents[1] / "rgcn_nc" / "artifacts" / "data_transform_new.json")
    assert not gconstruct.by_gsprocessing and gconstruct.relation_order is None


def test_min_max_is_not_clipped():
    t = _numerical("none", None, "min-max", {"originalMinValues": [10.0], "originalMaxValues": [20.0]})
    np.testing.assert_array_equal(t.apply([10, 15, 40, 0]).ravel(), np.float32([0.0, 0.5, 3.0, -1.0]))
    constant = _numerical("none", None, "min-max", {"originalMinValues": [3.0], "originalMaxValues": [3.0]})
    np.testing.assert_array_equal(constant.apply([3, 100]).ravel(), np.float32([0.5, 0.5]))


def test_standard_divides_by_the_column_sum():
    t = _numerical("none", None, "standard", {"col_sums": {"sum(c)": 200}})
    np.testing.assert_array_equal(t.apply([50, 1.5]).ravel(), np.float32([0.25, 0.0075]))


def test_mean_imputation_is_truncated_for_integer_columns():
    t = _numerical("mean", 14.77, "min-max", {"originalMinValues": [0.0], "originalMaxValues": [100.0]})
    # Integer values beside the null: Spark's Imputer casts the mean back to the integer column.
    np.testing.assert_array_equal(t.apply([None, 20]).ravel(), np.float32([0.14, 0.2]))
    # A float column keeps the mean.
    np.testing.assert_array_equal(t.apply([None, 20.5]).ravel(), np.float32([0.1477, 0.205]))
    negative = _numerical("mean", -2.5, "none", {})
    np.testing.assert_array_equal(negative.apply([None, 1]).ravel(), np.float32([-2.0, 1.0]))  # toward zero


def test_an_integer_column_sum_decides_the_column_type():
    integer_sum = _numerical("mean", 2.5, "standard", {"col_sums": {"sum(c)": 10}})
    np.testing.assert_array_equal(integer_sum.apply([None]).ravel(), np.float32([0.2]))
    np.testing.assert_array_equal(integer_sum.apply([None, 1.0]).ravel(), np.float32([0.2, 0.1]))
    float_sum = _numerical("mean", 2.5, "standard", {"col_sums": {"sum(c)": 10.0}})
    np.testing.assert_array_equal(float_sum.apply([None, 1]).ravel(), np.float32([0.25, 0.1]))


def test_null_without_imputer_is_refused_naming_the_row():
    t = _numerical("none", None, "min-max", {"originalMinValues": [0.0], "originalMaxValues": [1.0]})
    with pytest.raises(FeatureValueError, match="no imputer") as err:
        t.apply([0.5, None])
    assert err.value.row == 1


def test_fixture_features():
    citations = build_transform(_feature("paper", "citations"))  # mean 14.77 -> 14 (integer column), / 421
    np.testing.assert_array_equal(citations.apply([None, 421, 842]).ravel(), np.float32([14 / 421, 1.0, 2.0]))
    pages = build_transform(_feature("paper", "pages"))  # median 14, x / 70151
    np.testing.assert_array_equal(pages.apply([None, 7]).ravel(), np.float32([14 / 70151, 7 / 70151]))
    venue = build_transform(_feature("paper", "venue"))
    got = venue.apply(["KDD", ["ACL"], None, "", "unknown venue", 3])
    assert got.shape == (6, 8)
    assert got[0].tolist() == [0, 1, 0, 0, 0, 0, 0, 0] and got[1, 7] == 1
    assert not got[2:].any()


@pytest.mark.parametrize(("value", "buckets"), [
    (1980, [0]), (1995, [0]), (2025, [5]), (2031, [5]),
    (2011, [2, 3]),  # window [2009, 2013]: buckets 2 (2005-2010) and 3 (2010-2015)
    (1996, [0]),  # window [1994 -> 1995, 1998]
    (2024, [5]),  # window [2022, 2026 -> 2025 - 0.5]
    (2012.5, [3]),
])
def test_bucket_numerical_windows(value, buckets):
    year = build_transform(_feature("paper", "year"))  # range [1995, 2025], 6 buckets, window 4
    assert np.flatnonzero(year.apply([value])[0]).tolist() == buckets


def test_no_op_null_is_refused_and_values_pass():
    feat = build_transform(_feature("paper", "feat"))
    assert feat.apply([[0.5] * 16]).tolist() == [[0.5] * 16]
    with pytest.raises(FeatureValueError, match="null") as err:
        feat.apply([[0.5] * 16, None])
    assert err.value.row == 1


def _membership(value: float, lo: float, hi: float, count: int, window: float) -> list[int]:
    """GSProcessing 0.5.1's ``determine_bucket_membership``, one value at a time."""
    if value >= hi:
        return [count - 1]
    if value <= lo:
        return [0]
    size = (hi - lo) / count
    low, high = value - window / 2, value + window / 2
    low = lo if low < lo else (hi - size / 10 if low >= hi else low)
    high = lo if high < lo else (hi - size / 10 if high >= hi else high)
    return list(range(int((low - lo) // size), int((high - lo) // size) + 1))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(values=st.lists(st.floats(-50, 150) | st.integers(-50, 150), min_size=1, max_size=20),
       lo=st.integers(-10, 10), width=st.floats(0.5, 100), count=st.integers(1, 12), window=st.floats(0, 40))
def test_bucket_numerical_matches_gsprocessing_value_by_value(values, lo, width, count, window):
    transform = GSPBucketNumericalTransform("f", [lo, lo + width], count, window)
    got = transform.apply(values)
    for row, value in enumerate(values):
        assert np.flatnonzero(got[row]).tolist() == _membership(float(value), lo, lo + width, count, window)


def test_bucket_numerical_null_is_refused():
    year = build_transform(_feature("paper", "year"))
    with pytest.raises(FeatureValueError, match="no imputer"):
        year.apply([2000, None])


def test_categorical_unknown_takes_the_rare_category_when_there_is_one():
    conf = copy.deepcopy(CONF)
    venue = next(f for f in conf["graph"]["nodes"][0]["features"] if f["name"] == "venue")
    venue["precomputed_transformation"]["string_indexer_labels_arrays"][0].append("GSP_CONSTANT_OTHER")
    venue["precomputed_transformation"]["per_col_label_to_one_hot_idx"]["venue"]["GSP_CONSTANT_OTHER"] = 8
    t = build_transform(_feature("paper", "venue", conf))
    got = t.apply(["unknown", None, "KDD"])
    assert np.flatnonzero(got[0]).tolist() == [8] and not got[1].any() and got[2, 1] == 1


@pytest.mark.parametrize(("ntype", "name", "reason"), [
    ("author", "h_index", "rank-gauss"),
    ("paper", "keywords", "multi-categorical"),
])
def test_transformations_without_state_are_refused(ntype, name, reason):
    with pytest.raises(UnsupportedConfigError, match=f"{name}.*{reason}"):
        build_transform(_feature(ntype, name))


@pytest.mark.parametrize(("ntype", "name", "reason"), [
    ("author", "h_index", "rank-gauss"),
    ("paper", "keywords", "multi-categorical"),
])
def test_model_using_a_feature_that_cannot_be_reapplied_is_refused_at_load(tmp_path, ntype, name, reason):
    for path in ARTIFACTS.iterdir():
        shutil.copy(path, tmp_path / path.name)
    config = yaml.safe_load((ARTIFACTS / YAML).read_text())
    feats = config["gsf"]["basic"]["node_feat_name"]
    config["gsf"]["basic"]["node_feat_name"] = [f"{item},{name}" if item.startswith(f"{ntype}:") else item
                                                for item in feats]
    (tmp_path / YAML).write_text(yaml.safe_dump(config))
    pattern = f"node type {ntype}: feature {name}: .*{reason}.*cannot be re-applied"
    with pytest.raises(UnsupportedConfigError, match=pattern):
        RealtimePredictor.from_artifacts(tmp_path)


def test_features_over_several_columns_are_refused():
    conf = copy.deepcopy(CONF)
    conf["graph"]["nodes"][0]["features"].append(
        {"column": ["a", "b"], "name": "ab", "transformation": {"name": "no-op"}, "dim": [2]})
    with pytest.raises(UnsupportedConfigError, match="ab: .*several columns"):
        build_transform(_feature("paper", "ab", conf))


def _edge(src: str, rel: str, dst: str) -> dict:
    return {"source": {"column": "s", "type": src}, "relation": {"type": rel}, "dest": {"column": "d", "type": dst}}


def test_reverse_edges_and_homogeneous_graphs():
    hetero = {"version": "gsprocessing-runtime-v1.0", "graph": {
        "nodes": [{"type": "user", "column": "id", "features": []}],
        "edges": [_edge("user", "buys", "item"), _edge("item", "similar", "item")],
        "is_homogeneous": False, "add_reverse_edges": True}}
    schema = GraphSchema.from_dict(hetero)
    assert schema.canonical_etypes == (("user", "buys", "item"), ("item", "buys-rev", "user"),
                                       ("item", "similar", "item"), ("item", "similar-rev", "item"))
    assert schema.reverse_of[("item", "buys-rev", "user")] == ("user", "buys", "item")
    assert schema.relation_order == schema.canonical_etypes and set(schema.ntypes) == {"user", "item"}
    homogeneous = {"version": "gsprocessing-runtime-v1.0", "graph": {
        "nodes": [{}], "edges": [_edge("_N", "_E", "_N")], "is_homogeneous": True, "add_reverse_edges": True}}
    schema = GraphSchema.from_dict(homogeneous)
    assert schema.is_homogeneous and schema.add_reverse_edges
    assert schema.canonical_etypes == (("_N", "_E", "_N"),) and schema.ntypes == ("_N",)
