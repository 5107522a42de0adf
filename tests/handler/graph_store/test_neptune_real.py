"""Opt-in: the fixtures against a REAL Neptune (skipped unless a cluster is named).

Set ``GS_TEST_NEPTUNE_ENDPOINT`` to a store URI (``neptune-db://<cluster endpoint>`` or
``neptune-graph://<graph id>``, ``?region=`` if the AWS configuration has none) whose data was
bulk-loaded from ``gs-load-graph --neptune-csv`` of the fixture ``GS_TEST_NEPTUNE_FIXTURE``
(default ``rgcn_nc``; docs/graph_store.md, "Neptune"), and run from a host that reaches it (the
cluster's VPC) with credentials allowed to read it. Every valid case's targets then give the
embedded store's payload, byte for byte, at full fanout and sampled with a seed, within
``num_layers + 1`` round trips once the extractor batches per hop.
"""

from __future__ import annotations

import json
import os

import pytest

from handler.graph_store.payload import PayloadBuilder, dumps
from handler.graph_store.store_uri import open_store
from tests.compare import artifacts_dir, load_cases
from tests.handler.graph_store.stores import StoreCache

ENDPOINT = os.environ.get("GS_TEST_NEPTUNE_ENDPOINT")
FIXTURE = os.environ.get("GS_TEST_NEPTUNE_FIXTURE", "rgcn_nc")

pytestmark = pytest.mark.skipif(not ENDPOINT, reason="set GS_TEST_NEPTUNE_ENDPOINT to a Neptune store URI")


def test_fixture_payloads_from_a_real_neptune(stores: StoreCache) -> None:
    assert ENDPOINT is not None
    embedded = stores.builder(FIXTURE)
    runner = open_store(ENDPOINT)
    try:
        remote = PayloadBuilder.from_model_dir(runner, artifacts_dir(FIXTURE))
        for case in (c for c in load_cases(FIXTURE) if c.kind == "valid"):
            targets = json.loads(case.body)["targets"]
            for fanout in ("full", None):
                assert dumps(remote.payload(targets, fanout, seed=7)) == dumps(
                    embedded.payload(targets, fanout, seed=7)), f"{case.name} fanout={fanout}"
    finally:
        runner.close()
