"""Extraction against the reference fixtures: full fanout reproduces every ``_full`` payload
(node set, edge multiset, raw values) and its prediction; sampling keeps GraphStorm's
invariants, is repeatable per seed and uniform (chi-square)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from functools import cache

import numpy as np
import pytest
from scipy.stats import chisquare

from handler import RealtimePredictor
from handler.contract.envelope import request_uid
from handler.contract.limits import RequestLimits
from handler.graph_store.payload import dumps
from handler.graph_store.sampling import sample_positions
from handler.request.decode import DecodedRequest
from handler.request.parse import RequestParser
from handler.request.request_uid import RequestUid
from tests.compare import artifacts_dir, assert_matches_target, lm_models, load_cases
from tests.handler.graph_store.stores import STORE_FIXTURES

FULL_CASES = [(v, c.name) for v in STORE_FIXTURES for c in load_cases(v) if c.name.endswith("_full")]


@cache
def _predictor(variant: str) -> RealtimePredictor:
    return RealtimePredictor.from_artifacts(artifacts_dir(variant), lm_models=lm_models(variant))


def _case(variant: str, name: str):
    return next(c for c in load_cases(variant) if c.name == name)


def canonical(graph: dict) -> tuple[list[str], list[str]]:
    """Node set and edge multiset of a payload graph, as sorted canonical JSON texts."""
    nodes = sorted(json.dumps(n, sort_keys=True) for n in graph["nodes"])
    edges = sorted(json.dumps(e, sort_keys=True) for e in graph["edges"])
    return nodes, edges


@pytest.mark.parametrize(("variant", "name"), FULL_CASES, ids=[f"{v}/{n}" for v, n in FULL_CASES])
def test_full_fanout_reproduces_fixture_payload_and_prediction(stores, variant, name):
    case = _case(variant, name)
    sent = json.loads(case.body)
    payload = stores.builder(variant).payload(sent["targets"], "full", seed=0)
    got_nodes, got_edges = canonical(payload["graph"])
    want_nodes, want_edges = canonical(sent["graph"])
    assert len(set(got_nodes)) == len(got_nodes)
    assert got_nodes == want_nodes
    assert got_edges == want_edges
    assert payload["gml_task"] == sent["gml_task"]
    body = dumps(payload).encode()
    response = _predictor(variant).predict(body)
    target = dict(case.target, request_uid=request_uid(body))
    assert_matches_target(dataclasses.replace(case, target=target), response)


def _in_degrees(graph: dict) -> Counter:
    return Counter((e["dest_node_id"], tuple(e["edge_type"])) for e in graph["edges"])


@pytest.mark.parametrize("fanout", ["10,10", "3,5", "25,2"])
def test_sampled_extraction_keeps_graphstorm_invariants(stores, fanout):
    builder = stores.builder("rgcn_nc")
    targets = json.loads(_case("rgcn_nc", "v06_large_full").body)["targets"]
    full = builder.payload(targets, "full", seed=0)
    sampled = builder.payload(targets, fanout, seed=11)
    full_edges = Counter(json.dumps(e, sort_keys=True) for e in full["graph"]["edges"])
    got_edges = Counter(json.dumps(e, sort_keys=True) for e in sampled["graph"]["edges"])
    assert not got_edges - full_edges  # a sub-multiset of the full neighbourhood
    full_nodes = {json.dumps(n, sort_keys=True) for n in full["graph"]["nodes"]}
    assert {json.dumps(n, sort_keys=True) for n in sampled["graph"]["nodes"]} <= full_nodes
    # hop h uses the fanout list's value L-h (DGL walks it reversed); a node in the frontier
    # of several hops keeps its largest sample (prefix-closed draws), for every relation alike;
    # targets are in every frontier, a node found at hop h in those of hops h+1..L (none at L)
    hop_fanout = list(reversed([int(k) for k in fanout.split(",")]))
    target_ids = {t["node_id"] for t in targets}
    deg_full, deg_got = _in_degrees(full["graph"]), _in_degrees(sampled["graph"])
    etypes = builder.schema.canonical_etypes
    for node in {n["node_id"] for n in sampled["graph"]["nodes"]}:
        counts = [deg_got[(node, et)] for et in etypes]
        if node in target_ids:
            ks = [max(hop_fanout)]
        else:
            ks = [0] + [max(hop_fanout[h:]) for h in range(1, len(hop_fanout))]
        assert any(counts == [min(k, deg_full[(node, et)]) for et in etypes] for k in ks), (node, counts)


def test_same_seed_same_bytes_other_seed_differs(stores):
    builder = stores.builder("rgcn_nc")
    targets = json.loads(_case("rgcn_nc", "v05_multi8_sampled").body)["targets"]
    first = dumps(builder.payload(targets, "10,10", seed=7))
    assert dumps(builder.payload(targets, "10,10", seed=7)) == first
    assert dumps(builder.payload(targets, "10,10", seed=8)) != first
    assert dumps(builder.payload(targets, None, seed=None)) != dumps(builder.payload(targets, None, seed=None))


@pytest.mark.parametrize("variant", STORE_FIXTURES)
def test_columns_stand_for_the_payload_graph_and_group_as_it_does(stores, variant):
    """``PayloadBuilder.columns`` (what ``expand`` hands ``parse``) is the payload's graph in its
    order, and its groups are the JSON document's: same ids and feature keys, each numeric feature
    column the array ``np.array`` makes of the JSON values (same dtype), every other column the values."""
    builder = stores.builder(variant)
    sent = json.loads(next(c for c in load_cases(variant) if c.name.endswith("_full")).body)
    found = builder.extract(sent["targets"], None, seed=3)
    envelope = {"version": sent["version"], "gml_task": sent["gml_task"]}
    columns = builder.columns(found, envelope, sent["targets"])
    document = {**envelope, "graph": builder.graph(found), "targets": sent["targets"]}
    assert columns.to_document() == document
    parser = RequestParser(builder.schema, builder.config.task_type, RequestLimits())
    by_columns = parser.parse(DecodedRequest(RequestUid("u"), None, columns))
    by_json = parser.parse(DecodedRequest(RequestUid("u"), document))
    assert by_columns.targets == by_json.targets
    for part in ("nodes", "edges"):
        got, want = getattr(by_columns, part), getattr(by_json, part)
        assert list(got) == list(want)
        for key, group in want.items():
            assert got[key].ids == group.ids and got[key].keys == group.keys
            assert got[key].missing_features == group.missing_features
            for name in group.keys or ():
                values, column = group.values(name), got[key].values(name)
                if isinstance(column, np.ndarray):
                    expected = np.array(values)
                    assert column.dtype == expected.dtype and np.array_equal(column, expected), (key, name)
                else:
                    assert column == values, (key, name)


def test_default_fanout_is_the_models():
    from handler.graph_store.fanout import model_fanout, parse_fanout

    assert model_fanout({"fanout": "10,10", "eval_fanout": "-1"}) == "-1"
    assert model_fanout({"fanout": "10,5"}) == "10,5"
    etypes = [("a", "r", "b"), ("b", "s", "a")]
    assert parse_fanout("20,5", 2, etypes) == [dict.fromkeys(etypes, 5), dict.fromkeys(etypes, 20)]
    per = parse_fanout("a/r/b:3@b/s/a:4,a/r/b:1", 2, etypes)
    assert per == [{etypes[0]: 1, etypes[1]: 0}, {etypes[0]: 3, etypes[1]: 4}]


def test_uniform_choice_chi_square(stores):
    """Every in-edge of a 200+ in-degree node is chosen equally often over seeds (k=10)."""
    builder = stores.builder("rgcn_nc")
    etype = ("paper", "is-about", "subject")
    subject = "s0"
    fanout = "subject/is-about-rev/paper:0@paper/is-about/subject:0,paper/is-about/subject:10"
    counts: Counter = Counter()
    trials = 400
    for seed in range(trials):
        payload = builder.payload([{"node_type": "subject", "node_id": subject}], fanout, seed=seed)
        chosen = [e["src_node_id"] for e in payload["graph"]["edges"] if tuple(e["edge_type"]) == etype]
        assert len(chosen) == 10 and len(set(chosen)) == 10  # without replacement
        counts.update(chosen)
    full = builder.payload([{"node_type": "subject", "node_id": subject}], "full", seed=0)
    everyone = [e["src_node_id"] for e in full["graph"]["edges"]
                if tuple(e["edge_type"]) == etype and e["dest_node_id"] == subject]
    assert len(everyone) >= 100 and set(counts) <= set(everyone)
    observed = [counts[s] for s in everyone]
    assert chisquare(observed).pvalue > 1e-3


def test_sample_positions_uniform_over_pairs():
    """Pairs of positions co-occur uniformly too (a sliding window would fail this)."""
    n, k, trials = 8, 3, 6000
    pairs: Counter = Counter()
    for seed in range(trials):
        chosen = sorted(sample_positions(seed, ("a", "r", "b"), "b", "x", n, k))
        assert len(set(chosen)) == k
        pairs.update((chosen[i], chosen[j]) for i in range(k) for j in range(i + 1, k))
    observed = [pairs[(i, j)] for i in range(n) for j in range(i + 1, n)]
    assert chisquare(observed).pvalue > 1e-3
    assert sample_positions(1, ("a", "r", "b"), "b", "x", 5, 10) == [0, 1, 2, 3, 4]
    small = sample_positions(4, ("a", "r", "b"), "b", "x", 50, 5)
    assert sample_positions(4, ("a", "r", "b"), "b", "x", 50, 9)[:5] == small  # prefix-closed


class _CountingRunner:
    """A Ladybug runner with another dialect, counting round trips."""

    def __init__(self, runner, dialect) -> None:
        self.inner, self.dialect, self.trips = runner, dialect, 0

    def run(self, query, parameters):
        self.trips += 1
        return self.inner.run(query, parameters)

    def close(self) -> None:
        self.inner.close()


def test_batched_hops_same_bytes_in_num_layers_plus_one_round_trips(stores):
    """``Dialect.batch_hops`` (stores across a network): one UNION ALL query per hop (typed-null
    pads; the literal pads of stores without CAST are the Neptune tests'), same payload bytes."""
    from handler.graph_store.ladybug_store import open_ladybug
    from handler.graph_store.payload import PayloadBuilder
    from handler.graph_store.runner import LADYBUG

    plain = stores.builder("rgcn_nc")
    dialect = dataclasses.replace(LADYBUG, batch_hops=True)
    counting = _CountingRunner(open_ladybug(stores.path("rgcn_nc")), dialect)
    try:
        batched = PayloadBuilder(counting, plain.schema, plain.config)
        for name, fanout in (("v06_large_full", "full"), ("v05_multi8_sampled", "10,10"), ("v01_tiny", "3,5")):
            targets = json.loads(_case("rgcn_nc", name).body)["targets"]
            counting.trips = 0
            got = dumps(batched.payload(targets, fanout, seed=4))
            assert counting.trips <= plain.config.num_layers + 1
            assert got == dumps(plain.payload(targets, fanout, seed=4))
    finally:
        counting.close()
