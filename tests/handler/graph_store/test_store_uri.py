"""Store strings: embedded paths, Neptune Database / Analytics URIs, loopback-only plain HTTP."""

from __future__ import annotations

import pytest

from handler.graph_store.neptune import ClientSettings
from handler.graph_store.store_uri import parse_store, resolve_region

CLUSTER = "my-cluster.cluster-abc123.eu-west-2.neptune.amazonaws.com"


def test_path_is_embedded() -> None:
    for text in ("stores/acm", "/abs/graph", "C:relative"):
        location = parse_store(text)
        assert (location.kind, location.path, location.is_neptune) == ("embedded", text, False)


def test_neptune_db_defaults_to_https_8182_and_the_hosts_region() -> None:
    location = parse_store(f"neptune-db://{CLUSTER}")
    assert location.kind == "neptune-db"
    assert location.endpoint_url == f"https://{CLUSTER}:8182"
    assert location.region == "eu-west-2"
    assert location.settings == ClientSettings()
    assert location.describe() == f"Neptune Database at {CLUSTER}:8182"


def test_options_override() -> None:
    location = parse_store(f"neptune-db://{CLUSTER}:8183?region=us-west-2&read_timeout=2.5&connect_timeout=1"
                           "&max_attempts=5")
    assert location.endpoint_url == f"https://{CLUSTER}:8183"
    assert location.region == "us-west-2"
    assert location.settings == ClientSettings(connect_timeout_s=1.0, read_timeout_s=2.5, max_attempts=5)


def test_neptune_graph() -> None:
    location = parse_store("neptune-graph://g-abc123xyz?region=us-east-2")
    assert (location.kind, location.graph_id, location.endpoint_url, location.region) == (
        "neptune-graph", "g-abc123xyz", None, "us-east-2")
    local = parse_store("neptune-graph+http://127.0.0.1:9999/g-local")
    assert (local.graph_id, local.endpoint_url) == ("g-local", "http://127.0.0.1:9999")


def test_plain_http_is_loopback_only() -> None:
    assert parse_store("neptune-db+http://127.0.0.1:8182").endpoint_url == "http://127.0.0.1:8182"
    assert parse_store("neptune-db+http://[::1]:8182").endpoint_url == "http://[::1]:8182"
    assert parse_store("neptune-db+http://localhost:1").endpoint_url == "http://localhost:1"
    for text in (f"neptune-db+http://{CLUSTER}:8182", "neptune-db+http://10.0.0.5:8182",
                 "neptune-graph+http://192.168.1.2:80/g-x"):
        with pytest.raises(ValueError, match="loopback"):
            parse_store(text)
    with pytest.raises(ValueError, match="explicit port"):
        parse_store("neptune-db+http://127.0.0.1")


@pytest.mark.parametrize("text, message", [
    ("neptune-db://AKID:secret@host:8182", "must not carry credentials"),
    ("neptune-db://user@host", "must not carry credentials"),
    ("bolt://host:8182", "unknown graph store scheme"),
    ("s3://bucket/store", "unknown graph store scheme"),
    ("neptune-db://", "needs the cluster endpoint host"),
    (f"neptune-db://{CLUSTER}/path", "no path"),
    ("neptune-graph://not-a-graph-id", "not a Neptune Analytics graph id"),
    ("neptune-graph://g-abc/extra", "graph id only"),
    (f"neptune-db://{CLUSTER}?password=x", "unknown graph store URI option"),
    (f"neptune-db://{CLUSTER}?read_timeout=soon", "is not a number"),
    (f"neptune-db://{CLUSTER}?read_timeout=0", "must be > 0"),
    (f"neptune-db://{CLUSTER}?max_attempts=50", "between 1 and 10"),
    (f"neptune-db://{CLUSTER}?region=a&region=b", "given twice"),
    (f"neptune-db://{CLUSTER}:99999", "bad port"),
    ("", "empty"),
])
def test_refusals(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_store(text)
    assert "secret" not in str(info.value)


def test_region_from_the_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert resolve_region(parse_store("neptune-graph://g-abc")) == "ap-south-1"
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(ValueError, match=r"add \?region="):
        resolve_region(parse_store("neptune-graph://g-abc"))


def test_aws_forms_reach_the_cluster_and_the_graph_with_their_signing_scopes(tmp_path) -> None:
    """No network: botocore's transport is replaced at ``before-send`` to capture the request the
    runner would send to AWS (URL and SigV4 scope)."""
    import io

    from botocore.awsrequest import AWSResponse

    from handler.graph_store.store_uri import open_store
    from tests.handler.graph_store.neptune_env import fake_aws

    class Body(io.BytesIO):
        def stream(self, *args, **kwargs):
            yield self.read()

    sent: list[tuple[str, str]] = []

    def capture(request, **kwargs):
        auth = request.headers.get("Authorization")
        sent.append((request.url, auth.decode() if isinstance(auth, bytes) else auth))
        return AWSResponse(request.url, 200, {"Content-Type": "application/json"}, Body(b'{"results": []}'))

    with fake_aws(tmp_path):
        for uri in ("neptune-graph://g-abc123", f"neptune-db://{CLUSTER}"):
            runner = open_store(uri)
            runner._client.meta.events.register("before-send", capture)  # botocore's hook, not ours
            assert runner.run("RETURN 1 AS x", {}) == []
            runner.close()
    (graph_url, graph_auth), (db_url, db_auth) = sent
    assert graph_url == "https://g-abc123.us-east-1.neptune-graph.amazonaws.com/queries"
    assert "/us-east-1/neptune-graph/aws4_request" in graph_auth
    assert db_url == f"https://{CLUSTER}:8182/opencypher"
    assert "/eu-west-2/neptune-db/aws4_request" in db_auth
