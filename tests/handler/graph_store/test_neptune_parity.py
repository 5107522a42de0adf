"""Neptune Database and Neptune Analytics give the embedded store's payloads, byte for byte.

For every fixture with ``raw/``: the embedded store (session-built, ``conftest.stores``) is
exported with ``gs-load-graph --neptune-csv``'s writer, the CSV is checked against Neptune's
header grammar and reloaded through the same reader into the loopback fake Neptune server's
store, and payloads built through ``neptune-db+http://`` and ``neptune-graph+http://`` (real boto3
clients, SigV4, the documented wire formats) equal the embedded store's payloads for the
fixture's targets at full fanout and sampled with a seed, each in at most ``num_layers + 1``
round trips (counted by the server).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from handler.graph_store.neptune_csv import read_node_file
from handler.graph_store.payload import PayloadBuilder, dumps
from handler.graph_store.store_uri import open_store
from tests.compare import artifacts_dir, load_cases
from tests.handler.graph_store.neptune_env import fake_aws
from tests.handler.graph_store.neptune_stores import NeptuneCopies
from tests.handler.graph_store.stores import STORE_FIXTURES, StoreCache

SEED = 20261206


def _cases(variant: str) -> list[tuple[str, list[Any]]]:
    """Two valid cases of a fixture: its smallest full neighbourhood and its first sampled one."""
    valid = [c for c in load_cases(variant) if c.kind == "valid"]
    full = sorted((c for c in valid if c.name.endswith("_full")), key=lambda c: len(c.body))[:1]
    other = [c for c in valid if not c.name.endswith("_full")][:2 - len(full)]
    return [(c.name, json.loads(c.body)["targets"]) for c in full + other]


@pytest.fixture(scope="module")
def neptune(stores: StoreCache, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeptuneCopies]:
    with fake_aws(tmp_path_factory.mktemp("aws-home")):
        copies = NeptuneCopies(stores, tmp_path_factory.mktemp("neptune-copies"))
        try:
            yield copies
        finally:
            copies.close()


@pytest.mark.parametrize("variant", STORE_FIXTURES)
def test_payloads_through_neptune_equal_the_embedded_stores(stores: StoreCache, neptune: NeptuneCopies,
                                                            variant: str) -> None:
    """Neptune Database: every case at full and the model's fanout; Neptune Analytics (the same
    query texts through the other client): the first case at both fanouts."""
    embedded = stores.builder(variant)
    copy = neptune.get(variant)
    cases = _cases(variant)
    want = {(name, fanout): dumps(embedded.payload(targets, fanout, seed=SEED))
            for name, targets in cases for fanout in ("full", None)}
    for kind, kind_cases in (("neptune-db", cases), ("neptune-graph", cases[:1])):
        runner = open_store(copy.server.uri(kind))
        try:
            remote = PayloadBuilder.from_model_dir(runner, artifacts_dir(variant))
            limit = remote.config.num_layers + 1  # the seeds, then one query per hop
            for name, targets in kind_cases:
                for fanout in ("full", None):
                    copy.server.clear()
                    got = dumps(remote.payload(targets, fanout, seed=SEED))
                    assert got == want[(name, fanout)], f"{variant}/{name} fanout={fanout} through {kind}"
                    assert copy.server.count() <= limit, f"{variant}/{name}: {copy.server.count()} round trips"
        finally:
            runner.close()


@pytest.mark.parametrize("variant", STORE_FIXTURES)
def test_neptune_csv_headers_follow_the_grammar_and_reload(neptune: NeptuneCopies, variant: str) -> None:
    """Every exported file passes the header grammar (read_node_file checks it) and holds one label."""
    copy = neptune.get(variant)
    files = sorted(copy.csv_dir.glob("*.csv"))
    assert files
    labels = set()
    for path in files:
        with open(path, encoding="utf-8") as f:
            header = f.readline().rstrip("\r\n").split(",")
        assert header[:2] == [":ID", ":LABEL"]
        node_file = read_node_file(path)
        labels.add(node_file.label)
        assert node_file.columns[0].name == "gs_key"
        assert len(set(node_file.ids)) == len(node_file.ids)
    assert "gs_store_meta" in labels


def test_gs_build_payload_reads_a_neptune_uri(stores: StoreCache, neptune: NeptuneCopies,
                                              capsys: pytest.CaptureFixture) -> None:
    from handler.graph_store.cli import build_payload_main

    variant = "rgcn_nc"
    _name, targets = _cases(variant)[0]
    common = ["--model-dir", str(artifacts_dir(variant)), "--targets", json.dumps(targets), "--seed", "5"]
    assert build_payload_main([*common, "--store", str(stores.path(variant))]) == 0
    embedded = capsys.readouterr().out
    assert build_payload_main([*common, "--store", neptune.get(variant).server.uri("neptune-db")]) == 0
    assert capsys.readouterr().out == embedded
    neptune.get(variant).server.inject("unavailable", times=10)
    try:
        assert build_payload_main([*common, "--store", neptune.get(variant).server.uri("neptune-db",
                                                                                       max_attempts=2)]) == 3
    finally:
        neptune.get(variant).server.clear()
    err = capsys.readouterr().err
    assert "ServiceUnavailableException (HTTP 503) after 2 attempt(s)" in err
