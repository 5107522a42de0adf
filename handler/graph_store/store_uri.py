"""Where a graph store lives, as one string: an embedded store's path or a Neptune URI.

Accepted forms (``gs-build-payload --store``, ``gs-build-mar --graph-store``,
``gs-launch-endpoint --graph-store``):

* a path (no ``scheme://``): the embedded store at that path;
* ``neptune-db://<cluster endpoint>[:port]``: Neptune Database over HTTPS (port 8182 unless
  given), openCypher through ``neptunedata``;
* ``neptune-graph://<graph id>``: Neptune Analytics;
* ``neptune-db+http://127.0.0.1:PORT`` and ``neptune-graph+http://127.0.0.1:PORT/<graph id>``:
  plain HTTP to a loopback server (tests, local fakes); any other host is refused.

Query options: ``region`` (default: from the cluster's host name, else the AWS configuration),
``connect_timeout``, ``read_timeout`` (seconds) and ``max_attempts``, e.g.
``neptune-db://my-cluster.cluster-abc.us-east-1.neptune.amazonaws.com?read_timeout=5``.
A URI never carries credentials (a ``user:password@`` part is refused): requests are signed with
the default AWS credential chain. This module imports neither boto3 nor the embedded store's
driver until a store is opened, and runs on Python >= 3.9 (the deploy tools parse URIs too).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from handler.graph_store.neptune import NEPTUNE_DB_KIND as NEPTUNE_DB
from handler.graph_store.neptune import NEPTUNE_GRAPH_KIND as NEPTUNE_GRAPH
from handler.graph_store.neptune import ClientSettings

EMBEDDED = "embedded"
PLAIN_HTTP_SUFFIX = "+http"
NEPTUNE_DB_DEFAULT_PORT = 8182
_SCHEMES = (NEPTUNE_DB, NEPTUNE_GRAPH, NEPTUNE_DB + PLAIN_HTTP_SUFFIX, NEPTUNE_GRAPH + PLAIN_HTTP_SUFFIX)
# `<name>.<cluster|cluster-ro>-<id>.<region>.neptune.amazonaws.com` (and instance endpoints).
_NEPTUNE_HOST_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.neptune\.amazonaws\.com(?:\.cn)?$")
_GRAPH_ID = re.compile(r"^g-[a-z0-9]{1,40}$")
_OPTIONS = {"region", "connect_timeout", "read_timeout", "max_attempts"}


@dataclass(frozen=True)
class StoreLocation:
    """A parsed store string.

    Attributes:
        kind: ``embedded``, ``neptune-db`` or ``neptune-graph``.
        path: the embedded store's path (``embedded`` only).
        endpoint_url: the URL the client sends to (``neptune-db``; ``neptune-graph`` over
            loopback); ``None`` for Neptune Analytics on AWS (botocore derives the host).
        host: the cluster host or graph id, as texts name the store.
        graph_id: the Neptune Analytics graph identifier.
        region: the region from the URI or the host name; ``None``: the AWS configuration's.
        settings: the client's timeouts and retries.
    """

    kind: str
    path: str | None = None
    endpoint_url: str | None = None
    host: str | None = None
    graph_id: str | None = None
    region: str | None = None
    settings: ClientSettings = field(default_factory=ClientSettings)

    @property
    def is_neptune(self) -> bool:
        """Whether the store is a Neptune Database or Analytics graph."""
        return self.kind != EMBEDDED

    def describe(self) -> str:
        """The store as logs and errors name it: no query options, nothing secret."""
        if self.kind == EMBEDDED:
            return f"embedded store {self.path}"
        if self.kind == NEPTUNE_DB:
            return f"Neptune Database at {self.host}"
        return f"Neptune Analytics graph {self.graph_id}"


def parse_store(text: str) -> StoreLocation:
    """Parses a store path or URI (see the module docstring).

    Args:
        text: the ``--store`` / ``--graph-store`` value.

    Returns:
        Its location.

    Raises:
        ValueError: an unknown scheme, credentials in the URI, a non-loopback ``+http`` host,
            a malformed graph id, port or option; the message says which.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the graph store is empty: give a path or a neptune-db:// / neptune-graph:// URI")
    if "://" not in text:
        return StoreLocation(kind=EMBEDDED, path=text)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"unknown graph store scheme {scheme!r}: use a path, "
                         + ", ".join(f"{s}://" for s in _SCHEMES))
    if parts.username is not None or parts.password is not None:
        raise ValueError("a graph store URI must not carry credentials (user:password@): Neptune "
                         "requests are signed with the AWS credential chain")
    if parts.fragment:
        raise ValueError("a graph store URI has no #fragment")
    options = _options(parts.query)
    settings = _settings(options)
    plain_http = scheme.endswith(PLAIN_HTTP_SUFFIX)
    kind = scheme[: -len(PLAIN_HTTP_SUFFIX)] if plain_http else scheme
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"graph store URI {scheme}:// has a bad port") from None
    if plain_http:
        _check_loopback(host, scheme)
        if port is None:
            raise ValueError(f"{scheme}:// needs an explicit port (the loopback test server's)")
    if kind == NEPTUNE_DB:
        if not host:
            raise ValueError("neptune-db:// needs the cluster endpoint host, e.g. "
                             "neptune-db://my-cluster.cluster-abc.us-east-1.neptune.amazonaws.com")
        if parts.path not in ("", "/"):
            raise ValueError("neptune-db:// takes a host and port only, no path")
        url_host = f"[{host}]" if ":" in host else host
        address = f"{url_host}:{port or NEPTUNE_DB_DEFAULT_PORT}"
        return StoreLocation(kind=NEPTUNE_DB, endpoint_url=f"{'http' if plain_http else 'https'}://{address}",
                             host=address, region=options.get("region") or _region_of_host(host),
                             settings=settings)
    if plain_http:
        graph_id = parts.path.strip("/")
        url_host = f"[{host}]" if ":" in host else host
        endpoint: str | None = f"http://{url_host}:{port}"
    else:
        if parts.path not in ("", "/") or port is not None:
            raise ValueError("neptune-graph:// takes the graph id only: neptune-graph://g-abc123")
        graph_id, endpoint = parts.netloc, None
    if not _GRAPH_ID.match(graph_id):
        raise ValueError(f"{graph_id!r} is not a Neptune Analytics graph id (g- and up to 40 "
                         "lowercase letters or digits)")
    return StoreLocation(kind=NEPTUNE_GRAPH, endpoint_url=endpoint, host=host or graph_id,
                         graph_id=graph_id, region=options.get("region"), settings=settings)


def open_store(path_or_uri: str) -> Any:
    """Opens a store for reading: a ``QueryRunner`` (``handler.graph_store.runner``).

    Args:
        path_or_uri: as ``parse_store`` takes it.

    Returns:
        The runner; close it with ``close()``.

    Raises:
        ValueError: as ``parse_store``; also a Neptune store whose region is given nowhere.
        GraphStoreError: the embedded store cannot be opened.
    """
    location = parse_store(path_or_uri)
    if location.kind == EMBEDDED:
        from handler.graph_store.ladybug_store import open_ladybug

        assert location.path is not None
        return open_ladybug(location.path)
    region = resolve_region(location)
    from handler.graph_store.neptune import NeptuneAnalyticsRunner, NeptuneDatabaseRunner

    if location.kind == NEPTUNE_DB:
        assert location.endpoint_url is not None
        return NeptuneDatabaseRunner(location.endpoint_url, region, location.settings, host=location.host)
    assert location.graph_id is not None
    return NeptuneAnalyticsRunner(location.graph_id, region, location.settings,
                                  endpoint_url=location.endpoint_url)


def resolve_region(location: StoreLocation) -> str:
    """The region a Neptune store is signed for: the URI's, else the AWS configuration's.

    Raises:
        ValueError: neither names one.
    """
    if location.region:
        return location.region
    import boto3

    region = boto3.session.Session().region_name
    if not region:
        raise ValueError(f"no AWS region for {location.describe()}: add ?region=... to the URI or "
                         "set AWS_REGION / AWS_DEFAULT_REGION or a profile region")
    return str(region)


def _region_of_host(host: str) -> str | None:
    match = _NEPTUNE_HOST_REGION.search(host.lower())
    return match.group(1) if match else None


def _check_loopback(host: str, scheme: str) -> None:
    """Refuses a ``+http`` URI whose host is not a loopback address (plain HTTP stays local)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() == "localhost"
    if not loopback:
        raise ValueError(f"{scheme}:// speaks plain HTTP and is for a loopback test server only "
                         f"(127.0.0.1, ::1 or localhost), not {host!r}; use "
                         f"{scheme[: -len(PLAIN_HTTP_SUFFIX)]}:// for AWS")


def _options(query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key not in _OPTIONS:
            raise ValueError(f"unknown graph store URI option {key!r}; known: {', '.join(sorted(_OPTIONS))}")
        if key in options:
            raise ValueError(f"graph store URI option {key!r} is given twice")
        options[key] = value
    return options


def _settings(options: dict[str, str]) -> ClientSettings:
    values: dict[str, Any] = {}
    for key, attr, kind in (("connect_timeout", "connect_timeout_s", float),
                            ("read_timeout", "read_timeout_s", float),
                            ("max_attempts", "max_attempts", int)):
        if key in options:
            try:
                values[attr] = kind(options[key])
            except ValueError:
                raise ValueError(f"graph store URI option {key}={options[key]!r} is not a number") from None
    return ClientSettings(**values)
