"""Targets-only requests answered from Neptune (the loopback fake, real boto3) through
``RealtimePredictor``: like target/ when the store works; a bounded 503 without credentials,
within the retry bound, and an unharmed batch neighbour when Neptune throttles, hangs, drops the
connection or answers garbage."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest

from handler import RealtimePredictor
from tests.compare import artifacts_dir, lm_models, load_cases
from tests.handler.graph_store.neptune_env import fake_aws, leaked
from tests.handler.graph_store.neptune_stores import NeptuneCopies
from tests.handler.graph_store.stores import StoreCache
from tests.handler.serving.targets_only import results, targets_only

VARIANTS = ("rgcn_nc", "rgcn_ec", "sage_homo_nc")
READ_TIMEOUT_S = 0.5
MAX_ATTEMPTS = 2


@pytest.fixture(scope="module")
def neptune(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeptuneCopies]:
    stores = StoreCache(tmp_path_factory.mktemp("stores"))
    with fake_aws(tmp_path_factory.mktemp("aws-home")):
        copies = NeptuneCopies(stores, tmp_path_factory.mktemp("neptune"))
        try:
            yield copies
        finally:
            copies.close()
            stores.close()


def _predictor(neptune: NeptuneCopies, variant: str, kind: str = "neptune-db") -> RealtimePredictor:
    uri = neptune.get(variant).server.uri(kind, read_timeout=READ_TIMEOUT_S, connect_timeout=READ_TIMEOUT_S,
                                          max_attempts=MAX_ATTEMPTS)
    return RealtimePredictor.from_artifacts(artifacts_dir(variant), lm_models=lm_models(variant), graph_store=uri)


@pytest.mark.parametrize("variant", VARIANTS)
def test_targets_only_from_neptune_answers_target(neptune: NeptuneCopies, variant: str) -> None:
    kinds = ("neptune-db", "neptune-graph") if variant == "rgcn_nc" else ("neptune-db",)
    for kind in kinds:
        predictor = _predictor(neptune, variant, kind)
        try:
            server = neptune.get(variant).server
            # the smallest full neighbourhood (byte parity of every store payload: test_neptune_parity)
            for case in sorted((c for c in load_cases(variant) if c.name.endswith("_full")),
                               key=lambda c: len(c.body))[:1]:
                server.clear()
                got, want = results(predictor.predict(targets_only(case, fanout="full"))), results(case.target)
                assert server.count() <= 3, (case.id, server.count())  # 2 layers: seeds + one per hop
                assert list(got) == list(want), (kind, case.id)
                for key, values in want.items():
                    assert all(abs(g - w) <= 1e-5 for g, w in zip(got[key], values, strict=True)), (kind, case.id)
        finally:
            predictor.expander.close()


@pytest.mark.parametrize("fault", ["throttle", "unavailable", "hang", "close", "malformed_results"])
def test_failing_neptune_is_a_bounded_503(neptune: NeptuneCopies, fault: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    predictor = _predictor(neptune, "rgcn_nc")
    server = neptune.get("rgcn_nc").server
    case = next(c for c in load_cases("rgcn_nc") if c.name == "v02_small")
    caplog.set_level(logging.INFO)
    try:
        server.clear()
        server.inject(fault, times=100)
        started = time.perf_counter()
        failed, neighbour = predictor.predict_batch([targets_only(case), case.body])
        elapsed = time.perf_counter() - started
    finally:
        server.clear()
        predictor.expander.close()
    assert failed["status_code"] == 503 and failed["error"].startswith("Graph Store Failure: ")
    assert "Neptune Database at 127.0.0.1" in failed["error"] and len(failed["error"]) < 1000
    assert neighbour["status_code"] == 200  # the batch neighbour carries its own graph
    # One query failed after its bounded attempts (backoff <= 1 s between two attempts).
    assert server.count() <= MAX_ATTEMPTS
    assert elapsed < MAX_ATTEMPTS * 2 * READ_TIMEOUT_S + 1.0 + 3.0
    assert not leaked(json.dumps(failed)) and not leaked(caplog.text)
