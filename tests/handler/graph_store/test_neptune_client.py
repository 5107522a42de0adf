"""The Neptune runners through boto3's real clients against the loopback fake Neptune server.

Signing, parameter encoding, response parsing, and every fault: throttling, a query that times
out (on the server, and one that never answers), a 5xx, a dropped connection, malformed results.
Each ends in bounded retries then one ``GraphStoreError`` with a clear text and no credential.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from handler.graph_store.neptune import NeptuneAnalyticsRunner, NeptuneDatabaseRunner
from handler.graph_store.runner import GraphStoreError
from handler.graph_store.store_uri import open_store
from tests.handler.graph_store.neptune_env import REGION, fake_aws, leaked
from tests.handler.graph_store.neptune_server import FakeNeptune, ladybug_executor

KINDS = ("neptune-db", "neptune-graph")
QUERY = "UNWIND $ids AS id MATCH (n:`paper` {`gs_key`: id}) RETURN n.`gs_key` AS c0, n.`feat` AS c1"
READ_TIMEOUT_S = 0.4
MAX_ATTEMPTS = 3
# botocore's standard mode backs off at most 1 s, then 2 s (jittered) before attempts 2 and 3.
BACKOFF_BOUND_S = 3.0
HOSTILE_IDS = ["p'1", 'p"2', "p`3` RETURN 1 //", "MATCH (n) DETACH DELETE n", "ünï\u2028cödé", "x" * 100_000]


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with fake_aws(tmp_path_factory.mktemp("aws-home")) as env:
        yield env


@pytest.fixture(scope="module")
def fake(aws: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeNeptune]:
    """The fake server over a one-table Ladybug store (ids include the hostile ones)."""
    import ladybug
    import pyarrow as pa

    path = tmp_path_factory.mktemp("neptune-client") / "graph.lbug"
    database = ladybug.Database(str(path))
    connection = ladybug.Connection(database)
    connection.execute("CREATE NODE TABLE `paper`(`gs_key` STRING PRIMARY KEY, `~id` STRING, `feat` STRING)")
    ids = ["a", "b", *HOSTILE_IDS]
    rows = pa.table({"gs_key": ids, "~id": [f"paper:{i}" for i in ids],  # noqa: F841 (COPY reads it by name)
                     "feat": ["0.5|0.25", None] + ["1.0"] * len(HOSTILE_IDS)})
    connection.execute("COPY `paper` FROM rows")
    connection.close()
    database.close()
    execute, close = ladybug_executor(str(path))
    with FakeNeptune(execute, region=REGION, hang_s=20) as server:
        yield server
    close()


@pytest.fixture(params=KINDS)
def runner(request: pytest.FixtureRequest, fake: FakeNeptune) -> Iterator[Any]:
    fake.clear()
    store = open_store(fake.uri(request.param, read_timeout=READ_TIMEOUT_S, connect_timeout=READ_TIMEOUT_S,
                                max_attempts=MAX_ATTEMPTS))
    yield store
    store.close()
    fake.clear()


def test_query_rows_and_signing(runner: Any, fake: FakeNeptune) -> None:
    rows = runner.run(QUERY, {"ids": ["a", "b", "missing"]})
    assert sorted(rows, key=lambda r: r["c0"]) == [{"c0": "a", "c1": "0.5|0.25"}, {"c0": "b", "c1": None}]
    (request,) = fake.requests
    # SigV4 scope: the service's signing name and the region; the graph id header for Analytics.
    if isinstance(runner, NeptuneDatabaseRunner):
        assert (request["path"], request["service"]) == ("/opencypher", "neptune-db")
    else:
        assert isinstance(runner, NeptuneAnalyticsRunner)
        assert (request["path"], request["service"], request["graph"]) == ("/queries", "neptune-graph", "g-local")
        assert request["language"] == "OPEN_CYPHER"
    assert request["region"] == REGION
    assert request["query"] == QUERY and request["parameters"] == {"ids": ["a", "b", "missing"]}
    assert runner.round_trips == 1
    assert runner.dialect.key_property == "gs_key" and runner.dialect.vectors_as_strings


def test_hostile_ids_are_parameters(runner: Any, fake: FakeNeptune) -> None:
    rows = runner.run(QUERY, {"ids": HOSTILE_IDS})
    assert sorted(r["c0"] for r in rows) == sorted(HOSTILE_IDS)
    (request,) = fake.requests
    assert request["query"] == QUERY and request["parameters"] == {"ids": HOSTILE_IDS}


@pytest.mark.parametrize("fault", ["throttle", "server_timeout", "unavailable", "hang", "close"])
def test_retryable_fault_then_clear_error(runner: Any, fake: FakeNeptune, fault: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    fake.inject(fault, times=10)
    caplog.set_level(logging.INFO)
    started = time.perf_counter()
    with pytest.raises(GraphStoreError) as info:
        runner.run(QUERY, {"ids": ["a"]})
    elapsed = time.perf_counter() - started
    assert fake.count() == MAX_ATTEMPTS  # bounded retries
    assert elapsed < MAX_ATTEMPTS * (2 * READ_TIMEOUT_S) + BACKOFF_BOUND_S + 2.0  # never a hang
    text = str(info.value)
    assert ("Neptune Database at 127.0.0.1" in text) or ("Neptune Analytics graph g-local" in text)
    expected = {"throttle": "(HTTP 429) after 3 attempt(s)", "server_timeout": "(HTTP 500) after 3 attempt(s)",
                "unavailable": "(HTTP 503) after 3 attempt(s)", "hang": "no answer within 0.4 s",
                "close": "closed the connection"}[fault]
    assert expected in text
    assert not leaked(text) and not leaked(caplog.text)


@pytest.mark.parametrize("fault", ["malformed_json", "malformed_results"])
def test_malformed_answer_is_not_retried(runner: Any, fake: FakeNeptune, fault: str) -> None:
    fake.inject(fault, times=10)
    with pytest.raises(GraphStoreError, match="malformed") as info:
        runner.run(QUERY, {"ids": ["a"]})
    assert fake.count() == 1
    assert not leaked(str(info.value))


def test_throttled_twice_then_answered(runner: Any, fake: FakeNeptune) -> None:
    fake.inject("throttle", times=MAX_ATTEMPTS - 1)
    assert runner.run(QUERY, {"ids": ["a"]}) == [{"c0": "a", "c1": "0.5|0.25"}]
    assert fake.count() == MAX_ATTEMPTS


def test_refused_query_is_a_client_error_not_retried(runner: Any, fake: FakeNeptune) -> None:
    with pytest.raises(GraphStoreError, match=r"\(HTTP 400\) after 1 attempt"):
        runner.run("MATCH (n:`no_such_label`) RETURN n.x AS x", {})
    assert fake.count() == 1


def test_unreachable_store(aws: dict[str, str]) -> None:
    from tests.sagemaker_deploy.moto_env import free_port

    port = free_port()  # nothing listens there
    for kind in KINDS:
        path = "/g-none" if kind == "neptune-graph" else ""
        store = open_store(f"{kind}+http://127.0.0.1:{port}{path}?connect_timeout=0.3&read_timeout=0.3"
                           "&max_attempts=2")
        with pytest.raises(GraphStoreError, match="unreachable") as info:
            store.run(QUERY, {"ids": ["a"]})
        assert not leaked(str(info.value))
        store.close()


def test_missing_credentials_is_clear(fake: FakeNeptune, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    store = open_store(fake.uri("neptune-db"))
    with pytest.raises(GraphStoreError, match="no usable AWS credentials"):
        store.run(QUERY, {"ids": ["a"]})
    store.close()


def test_debug_logging_writes_no_credential(fake: FakeNeptune, caplog: pytest.LogCaptureFixture) -> None:
    """Even with every logger at DEBUG, neither botocore's signing lines nor ours carry a credential."""
    caplog.set_level(logging.DEBUG)
    store = open_store(fake.uri("neptune-db", max_attempts=1))
    try:
        store.run(QUERY, {"ids": ["a"]})
        fake.inject("throttle")
        with pytest.raises(GraphStoreError):
            store.run(QUERY, {"ids": ["a"]})
    finally:
        store.close()
        fake.clear()
    assert caplog.records and not leaked(caplog.text)
