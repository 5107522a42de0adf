"""Row-wise features of a batch transformed in one call answer exactly as each request alone."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest

from handler import RealtimePredictor, native
from tests.compare import artifacts_dir, load_cases
from tests.native_switch import extension

VARIANT = "rgcn_nc"
BODY = next(c.body for c in load_cases(VARIANT) if c.name == "v02_small")


@cache
def _predictor() -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir(VARIANT))


def _edited(edit) -> bytes:
    doc = json.loads(BODY)
    edit(doc["graph"]["nodes"])
    return json.dumps(doc).encode()


def _paper(nodes: list) -> dict:
    return next(n for n in nodes if n["node_type"] == "paper")


def test_the_batch_path_is_taken_and_gives_each_requests_own_rows() -> None:
    p = _predictor()
    requests = [p.parse(p.decode(body, "application/json"))
                for body in (BODY, _edited(lambda nodes: _paper(nodes)["features"].update(citations=7.5)))]
    alone = [p.build(r) for r in requests]
    requests = [p.parse(p.decode(body, "application/json"))
                for body in (BODY, _edited(lambda nodes: _paper(nodes)["features"].update(citations=7.5)))]
    p.builder.transform_batch(requests)
    assert all({"feat", "venue"} <= set(r.nodes["paper"].transformed) for r in requests)  # numbers and categories
    together = [p.build(r) for r in requests]
    for a, t in zip(alone, together, strict=True):
        for ntype, x in a.node_inputs.items():
            assert np.array_equal(x.numpy(), t.node_inputs[ntype].numpy()), ntype


def test_features_the_c_writes_are_left_to_build() -> None:
    """JSON read as columns: the features ``FeatureRows`` writes in C (numbers, max_min_norm,
    buckets, categories) are not transformed by the batch, and each request answers as alone."""
    if native.fastpath is None:
        pytest.skip("the C extension is not built or is switched off")
    p = _predictor()
    bodies = (BODY, _edited(lambda nodes: _paper(nodes)["features"].update(citations=7.5)))
    alone = [p.build(p.parse(p.decode(body, "application/json", columns_first=True))) for body in bodies]
    requests = [p.parse(p.decode(body, "application/json", columns_first=True)) for body in bodies]
    assert all(r.nodes["paper"].columns is not None for r in requests)
    p.builder.transform_batch(requests)
    # Every feature of rgcn_nc is native but rank_gauss's, which is not row-wise (not batched).
    assert not any(g.transformed for r in requests for g in (*r.nodes.values(), *r.edges.values()))
    for a, t in zip(alone, (p.build(r) for r in requests), strict=True):
        for ntype, x in a.node_inputs.items():
            assert np.array_equal(x.numpy(), t.node_inputs[ntype].numpy()), ntype
        for etype, x in a.edge_inputs.items():
            assert np.array_equal(x.numpy(), t.edge_inputs[etype].numpy()), etype


@pytest.mark.parametrize("edit", [
    lambda nodes: _paper(nodes)["features"].update(citations=float("nan")),   # 411 naming the node
    lambda nodes: _paper(nodes)["features"].update(citations="many"),          # 411, not a number
    lambda nodes: _paper(nodes)["features"].update(citations=3),               # an int among floats
    lambda nodes: _paper(nodes)["features"].update(feat=[1] * len(_paper(nodes)["features"]["feat"])),
    lambda nodes: _paper(nodes)["features"].update(feat=[0.5]),                # wrong width: 411
    lambda nodes: _paper(nodes)["features"].update(venue="nowhere"),           # unknown category: zeros
    lambda nodes: _paper(nodes)["features"].update(venue=3),                   # a number among strings
    lambda nodes: _paper(nodes)["features"].update(venue="KDD\x00"),           # numpy drops trailing NULs
    lambda nodes: _paper(nodes)["features"].update(venue="K" * 10_000),        # longer than any category
    lambda nodes: _paper(nodes)["features"].update(venue=None),                # null: zeros
])
def test_a_neighbour_never_changes_an_answer(edit) -> None:
    p = _predictor()
    bodies = [BODY, _edited(edit), BODY]
    batch = p.answer([(b, "application/json") for b in bodies])
    for body, got in zip(bodies, batch, strict=True):
        (alone,) = p.answer([(body, "application/json")])
        assert got.status_code == alone.status_code
        if alone.status_code != 200:
            assert got.body == alone.body  # error envelopes byte for byte
            continue
        for g, a in zip(got.envelope.as_dict()["data"]["results"], alone.envelope.as_dict()["data"]["results"],
                        strict=True):
            assert max(abs(x - y) for x, y in zip(g["prediction"], a["prediction"], strict=True)) <= 1e-6


def test_integers_beyond_int64_are_not_transformed_together() -> None:
    # One request's integer beyond int64 would change the dtype numpy gives the batch's rows.
    big = _edited(lambda nodes: _paper(nodes)["features"].update(year=2**63 + 5))
    ints = _edited(lambda nodes: _paper(nodes)["features"].update(year=1999))
    p = _predictor()
    batch = p.answer([(ints, "application/json"), (big, "application/json")])
    for body, got in zip((ints, big), batch, strict=True):
        (alone,) = p.answer([(body, "application/json")])
        assert got.status_code == alone.status_code
        if alone.status_code != 200:
            assert got.body == alone.body


@pytest.fixture
def python_rows():
    """The C extension off: ``build`` transforms every feature in Python (no ``FeatureRows``)."""
    with extension(False):
        yield


@pytest.mark.usefixtures("python_rows")
def test_numeric_columns_of_a_batch_are_transformed_together() -> None:
    """Arrow (and targets-only) requests bring numbers as columns: without the C extension, one
    call over the batch's columns of one dtype and width, each request's rows as alone."""
    from handler.contract.arrow_payload import payload_to_arrow
    from handler.contract.names import ARROW_STREAM_CONTENT_TYPE

    p = _predictor()
    bodies = [payload_to_arrow(json.loads(b)) for b in
              (BODY, _edited(lambda nodes: _paper(nodes)["features"].update(citations=7, year=1990)))]
    requests = [p.parse(p.decode(body, ARROW_STREAM_CONTENT_TYPE)) for body in bodies]
    alone = [p.build(r) for r in requests]
    requests = [p.parse(p.decode(body, ARROW_STREAM_CONTENT_TYPE)) for body in bodies]
    assert all(r.nodes["paper"].columns is not None for r in requests)
    p.builder.transform_batch(requests)
    assert all({"feat", "citations"} <= set(r.nodes["paper"].transformed) for r in requests)  # float64, int64
    for a, t in zip(alone, (p.build(r) for r in requests), strict=True):
        for ntype, x in a.node_inputs.items():
            assert np.array_equal(x.numpy(), t.node_inputs[ntype].numpy()), ntype
