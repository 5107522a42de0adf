"""``FeatureRows``: every fixture case built with the C rows (``handler.native.feature_rows``)
gives the model input tensors of the Python transforms bit for bit, or the same error, through
JSON read as columns and through Arrow, each request alone."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from handler import RealtimePredictor, native
from handler.contract.errors import RealtimeError
from handler.inputs.feature_rows import FeatureRows
from handler.inputs.graph_builder import GraphBuilder, PayloadGraph
from handler.request.decode import ColumnsDeclined
from handler.request.grouping import TypeGroup
from handler.transforms.bucket_numerical import BucketNumericalTransform
from handler.transforms.max_min_norm import MaxMinNormTransform
from handler.transforms.noop import NoopTransform
from handler.transforms.rank_gauss import RankGaussTransform
from handler.transforms.to_categorical import ToCategoricalTransform
from tests.compare import FixtureCase, all_cases, arrow_case, artifacts_dir, lm_models
from tests.native_switch import extension

pytestmark = pytest.mark.skipif(native.fastpath is None, reason="the C extension is not built or is switched off")

CASES = [c for c in all_cases() if c.body]
CASES += [a for a in map(arrow_case, CASES) if a is not None]


@cache
def _predictor(variant: str) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir(variant), lm_models=lm_models(variant))


def _build(p: RealtimePredictor, case: FixtureCase) -> PayloadGraph:
    """As the predictor builds a body: as the extension's columns first, the reference way (a
    JSON document, pyarrow's reading) when the columns route declines or fails (the reference
    route decides every error)."""
    try:
        return p.build(p.parse(p.decode(case.body, case.content_type, columns_first=True)))
    except (ColumnsDeclined, RealtimeError):
        pass
    return p.build(p.parse(p.decode(case.body, case.content_type)))


def _built(case: FixtureCase, in_c: bool) -> PayloadGraph | tuple[int, str]:
    try:
        with extension(in_c):
            return _build(_predictor(case.variant), case)
    except RealtimeError as err:
        return err.status_code, str(err)


def _same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
        and np.array_equal(a[k].numpy().view(np.uint8), b[k].numpy().view(np.uint8)) for k in a)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.id}:{c.content_type.rsplit('.', 1)[-1]}" for c in CASES])
def test_c_rows_are_the_python_rows(case: FixtureCase) -> None:
    in_c, in_python = _built(case, True), _built(case, False)
    if not isinstance(in_python, PayloadGraph):
        assert in_c == in_python  # status and message
        return
    assert isinstance(in_c, PayloadGraph), in_c
    assert _same_tensors(in_c.node_inputs, in_python.node_inputs)
    assert _same_tensors(in_c.edge_inputs, in_python.edge_inputs)


def test_the_c_rows_serve_the_fixtures() -> None:
    """Every fixture's valid payloads take the C rows for some node type (the comparison above
    is not of two Python paths)."""
    served = {}
    for case in CASES:
        if case.kind == "invalid":
            continue
        p = _predictor(case.variant)
        try:
            request = p.parse(p.decode(case.body, case.content_type, columns_first=True))
        except ColumnsDeclined:
            continue
        builder = p.builder
        served.setdefault(case.variant, False)
        served[case.variant] |= any(
            plan.rows(group, "", "", builder._apply) is not None
            for nt, group in request.nodes.items() if (plan := builder._node_rows.get(nt)))
    # rgcn_nc_node_emb's model reads GraphStorm's node embeddings, not features.
    assert {variant for variant, rows in served.items() if not rows} == {"rgcn_nc_node_emb"}, served


# -- FeatureRows on its own: a type's features, as build transforms them -------------------------

# Feature -> (transform, output shape), as ``GraphBuilder`` compiles them from the config.
TRANSFORMS = {
    "x": (NoopTransform("x"), (2,)),
    "scaled": (MaxMinNormTransform("scaled", max_val=[10.0], min_val=[0.0]), (1,)),
    "bucket": (BucketNumericalTransform("bucket", bucket_cnt=3, bucket_range=[0, 30]), (3,)),
    "venue": (ToCategoricalTransform("venue", {"a": 0, "b": 1}), (2,)),
    "rank": (RankGaussTransform("rank"), (1,)),
}


def _group(**columns: object) -> TypeGroup:
    group = TypeGroup("node type t, node id")
    group.ids = [f"n{i}" for i in range(len(next(iter(columns.values()))))]
    group.keys = frozenset(columns)
    group.columns = dict(columns)
    return group


def _rows(plan: FeatureRows, group: TypeGroup) -> np.ndarray | None:
    return plan.rows(group, "node type t", "node id", GraphBuilder._apply)


def _python_rows(group: TypeGroup, names: tuple[str, ...]) -> np.ndarray:
    return np.concatenate([TRANSFORMS[n][0].apply(group.columns[n]) for n in names], axis=1)


@pytest.mark.parametrize("names", [("x", "scaled", "bucket", "venue", "rank"), ("rank", "venue"), ("bucket",)])
def test_rows_are_the_features_in_model_order(names: tuple[str, ...]) -> None:
    group = _group(x=np.array([[1.5, 2.0], [3.0, -1.0], [0.25, 8.0]]), scaled=np.array([5.0, 12.0, -1.0]),
                   bucket=np.array([4, 15, 29]), venue=["b", "a", "b"], rank=np.array([3.0, 1.0, 2.0]))
    width = sum(TRANSFORMS[n][1][0] for n in names)
    plan = FeatureRows.plan(TRANSFORMS, names, width, all_required=False)
    assert plan is not None
    got = _rows(plan, group)
    assert got is not None and got.dtype == np.float32
    assert got.tobytes() == _python_rows(group, names).astype(np.float32).tobytes()


def test_a_feature_the_model_does_not_read_is_checked_not_written() -> None:
    plan = FeatureRows.plan(TRANSFORMS, ("x",), 2, all_required=False)
    assert plan is not None
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    ok = _rows(plan, _group(x=x, scaled=np.array([1.0, 2.0])))
    assert ok is not None and ok.tolist() == x.tolist()
    assert _rows(plan, _group(x=x, scaled=np.array([1.0, np.nan]))) is None  # build names it


ONE_ROW = np.array([[1.0, 2.0]])


@pytest.mark.parametrize(("group", "model_width", "all_required"), [
    (_group(scaled=np.array([1.0])), 2, False),  # a model feature missing: 404 from build
    (_group(x=ONE_ROW), 2, True),  # edges: every configured feature must be there
    (_group(x=ONE_ROW), 3, False),  # the model's width differs: build names it
    (_group(x=np.array([[1.0, np.inf]])), 2, False),  # a value the transform refuses
    (_group(x=np.array([1.0])), 2, False),  # a column of another width
    (_group(x=ONE_ROW, rank=np.array([np.nan])), 2, False),  # a Python transform that raises
    (_group(x=[[1.0, 2.0]]), 2, False),  # not an array
])
def test_anything_build_would_report_is_left_to_it(group: TypeGroup, model_width: int, all_required: bool) -> None:
    plan = FeatureRows.plan(TRANSFORMS, ("x",), model_width, all_required=all_required)
    assert plan is not None
    assert _rows(plan, group) is None


def test_no_plan_for_a_model_feature_without_a_fixed_width() -> None:
    assert FeatureRows.plan(TRANSFORMS, ("x", "unknown"), None, all_required=False) is None
    assert FeatureRows.plan({**TRANSFORMS, "free": (NoopTransform("free"), None)}, ("x",), 2,
                            all_required=False) is None
