"""Amazon Neptune as a graph store: query runners over boto3's Neptune clients.

Two runners speak the same openCypher text as the embedded store (``runner.QueryRunner``):

* ``NeptuneDatabaseRunner``: Neptune Database through the ``neptunedata`` client,
  ``execute_open_cypher_query`` (POST ``/opencypher``, ``parameters`` a JSON *string*). The
  cluster endpoint is always given as ``endpoint_url``: without it botocore resolves a regional
  host that is not the cluster.
* ``NeptuneAnalyticsRunner``: Neptune Analytics through the ``neptune-graph`` client,
  ``execute_query`` (POST ``/queries``, ``parameters`` a map); the answer's ``payload`` is a
  stream that is read (bounded) and parsed here.

Both sign with SigV4 (botocore; signing names ``neptune-db`` / ``neptune-graph``) using the
default credential chain: no credential is ever an argument, a URI part, or a message text.
Timeouts and retries are set on purpose (``ClientSettings``): a stuck query costs a worker at
most ``max_attempts * (connect_timeout + read_timeout)`` plus botocore's backoff, never a hang.
botocore's ``standard`` retry mode retries what is safe for a read-only query: throttling
(HTTP 429, ``TooManyRequestsException`` / ``ThrottlingException``), HTTP 500/502/503/504,
timeouts and dropped connections. Every failure leaves as ``GraphStoreError`` with a short text
naming the store, the AWS error code or the transport failure, and the attempts made.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handler.graph_store.runner import Dialect, GraphStoreError

# The longest server-provided message an error text carries (a server may echo query text).
_MAX_SERVER_MESSAGE = 200

# Store kinds (URI schemes, dialect names) and the boto3 services that reach them.
NEPTUNE_DB_KIND = "neptune-db"
NEPTUNE_GRAPH_KIND = "neptune-graph"
NEPTUNE_DB_SERVICE = "neptunedata"
NEPTUNE_GRAPH_SERVICE = "neptune-graph"
# Neptune Analytics' query language value for openCypher.
OPEN_CYPHER = "OPEN_CYPHER"

# Neptune keeps the store layout's key in this property: ``~id`` is global across labels there,
# so ``gs-load-graph --neptune-csv`` writes ``~id`` = ``<label>:<key>`` and the key itself here.
NEPTUNE_KEY_PROPERTY = "gs_key"
# The delimiter of a list value (a float vector) kept as one string property: Neptune keeps no
# list properties (an array property is a set: order and duplicates are lost).
NEPTUNE_VECTOR_SEPARATOR = "|"


def neptune_dialect(name: str) -> Dialect:
    """The dialect of a Neptune store (``neptune-db`` or ``neptune-graph``).

    Args:
        name: the store kind, as errors and logs name it.

    Returns:
        Lookups by ``gs_key``, vectors as ``|``-delimited strings, integer edge keys (``Long``),
        one ``UNION ALL`` query per hop (``num_layers + 1`` round trips per extraction), its
        padding columns filled with literals (Neptune's openCypher has no ``CAST``).
    """
    return Dialect(name=name, key_property=NEPTUNE_KEY_PROPERTY, vectors_as_strings=True,
                   vector_separator=NEPTUNE_VECTOR_SEPARATOR, integer_keys=True, batch_hops=True,
                   cast_null_pads=False)


@dataclass(frozen=True)
class ClientSettings:
    """Timeouts, retries and size bounds of one Neptune client.

    Attributes:
        connect_timeout_s: seconds to open a connection to the endpoint.
        read_timeout_s: seconds to wait for the answer to one attempt (a Neptune Analytics
            query is also given this as its server-side ``queryTimeoutMilliseconds``).
        max_attempts: attempts per query, the first included (botocore ``total_max_attempts``).
        max_response_bytes: the largest answer read from a Neptune Analytics payload stream.
    """

    connect_timeout_s: float = 2.0
    read_timeout_s: float = 10.0
    max_attempts: int = 3
    max_response_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if not (self.connect_timeout_s > 0 and self.read_timeout_s > 0):
            raise ValueError("Neptune connect and read timeouts must be > 0 seconds")
        if not 1 <= self.max_attempts <= 10:
            raise ValueError("Neptune max_attempts must be between 1 and 10")
        if self.max_response_bytes < 1:
            raise ValueError("Neptune max_response_bytes must be >= 1")

    def botocore_config(self, *, inject_host_prefix: bool = True) -> Any:
        """The botocore ``Config`` of these settings.

        Args:
            inject_host_prefix: ``False`` for a loopback test server: Neptune Analytics' data
                plane prefixes the host with the graph id, which only the AWS endpoint resolves.

        Returns:
            A ``botocore.config.Config``.
        """
        from botocore.config import Config

        return Config(
            connect_timeout=self.connect_timeout_s,
            read_timeout=self.read_timeout_s,
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            inject_host_prefix=inject_host_prefix,
            # One worker thread queries at a time; a second connection serves a retry that
            # races a dropped one.
            max_pool_connections=2,
        )


# botocore's DEBUG lines of these loggers print the signed request: the canonical request with the
# session token (botocore.auth) and the headers with the access key id and token (botocore.endpoint).
_SIGNING_LOGGERS = ("botocore.auth", "botocore.endpoint")


def _quiet_signing_logs() -> None:
    """Keeps the loggers that print signed requests at INFO or above, whatever the root level.

    Credentials must never reach a log: a worker or client run with DEBUG logging would otherwise
    write the session token and access key id of every Neptune request.
    """
    for name in _SIGNING_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.INFO:
            logger.setLevel(logging.INFO)


def _make_client(service: str, *, region: str, endpoint_url: str | None, settings: ClientSettings,
                 inject_host_prefix: bool = True) -> Any:
    """A boto3 client of ``service`` with the settings' timeouts and retries."""
    import boto3

    _quiet_signing_logs()
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint_url,
        config=settings.botocore_config(inject_host_prefix=inject_host_prefix),
    )


def _store_error(err: Exception, store: str, settings: ClientSettings) -> GraphStoreError:
    """A failure of a Neptune call as ``GraphStoreError``: what failed, never a credential.

    Args:
        err: what botocore raised.
        store: the store as the text names it (``Neptune Database at HOST``).
        settings: the client's settings (to say how long and how often it tried).

    Returns:
        The error to raise (``from`` the original, which holds no credential either).
    """
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )
    from botocore.parsers import ResponseParserError

    tried = f"{settings.max_attempts} attempt(s)"
    if isinstance(err, ClientError):
        info = err.response.get("Error", {})
        meta = err.response.get("ResponseMetadata", {})
        code = str(info.get("Code") or "UnknownError")[:80]
        status = meta.get("HTTPStatusCode", "?")
        attempts = int(meta.get("RetryAttempts", 0)) + 1
        message = str(info.get("Message") or err.response.get("detailedMessage") or "")
        message = message[:_MAX_SERVER_MESSAGE] + ("..." if len(message) > _MAX_SERVER_MESSAGE else "")
        text = f"{store} answered {code} (HTTP {status}) after {attempts} attempt(s)"
        return GraphStoreError(f"{text}: {message}" if message else text)
    if isinstance(err, ReadTimeoutError):
        return GraphStoreError(f"{store} gave no answer within {settings.read_timeout_s:g} s "
                               f"({tried})")
    if isinstance(err, (ConnectTimeoutError, EndpointConnectionError)):
        return GraphStoreError(f"{store} is unreachable ({tried}, connect timeout "
                               f"{settings.connect_timeout_s:g} s)")
    if isinstance(err, ConnectionClosedError):
        return GraphStoreError(f"{store} closed the connection before answering ({tried})")
    if isinstance(err, (NoCredentialsError, PartialCredentialsError)):
        return GraphStoreError(f"{store}: no usable AWS credentials were found for SigV4 signing "
                               "(environment, shared config or instance role)")
    if isinstance(err, ResponseParserError):
        return GraphStoreError(f"{store} sent a malformed response (not the documented JSON)")
    return GraphStoreError(f"{store} query failed: {type(err).__name__}")


def _rows(document: Any, store: str) -> list[dict[str, Any]]:
    """The ``results`` of a Neptune openCypher answer, checked to be a list of row objects.

    Raises:
        GraphStoreError: the answer is not ``{"results": [{column: value}, ...]}``.
    """
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list) or not all(isinstance(row, dict) for row in results):
        raise GraphStoreError(f"{store} sent malformed results (expected {{\"results\": [rows]}}, "
                              f"got {type(results).__name__ if results is not None else 'none'})")
    return results


def _parameters_json(parameters: Mapping[str, Any]) -> str:
    """Query parameters as the JSON text ``neptunedata`` sends (ids are data, never query text)."""
    return json.dumps(dict(parameters), separators=(",", ":"), allow_nan=False, ensure_ascii=False)


class NeptuneDatabaseRunner:
    """Runs openCypher on a Neptune Database cluster (``neptunedata.execute_open_cypher_query``).

    Attributes:
        dialect: ``neptune_dialect("neptune-db")``.
        round_trips: queries sent so far (one HTTP exchange each, retries aside).
    """

    def __init__(self, endpoint_url: str, region: str, settings: ClientSettings | None = None,
                 *, host: str | None = None) -> None:
        """Opens the client (no request is sent until the first query).

        Args:
            endpoint_url: the cluster endpoint, ``https://<cluster>:8182`` (or a loopback test
                server's ``http://127.0.0.1:PORT``).
            region: the cluster's AWS region (part of the SigV4 scope).
            settings: timeouts and retries; the defaults otherwise.
            host: how error texts name the cluster (default: the endpoint URL).
        """
        self.dialect = neptune_dialect(NEPTUNE_DB_KIND)
        self.settings = settings or ClientSettings()
        self.round_trips = 0
        self._store = f"Neptune Database at {host or endpoint_url}"
        self._client = _make_client(NEPTUNE_DB_SERVICE, region=region, endpoint_url=endpoint_url,
                                    settings=self.settings)

    def run(self, query: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Runs one query; see ``QueryRunner.run``.

        Raises:
            GraphStoreError: the cluster failed, timed out, throttled past the retries, or
                answered something that is not openCypher results.
        """
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        self.round_trips += 1
        try:
            answer = self._client.execute_open_cypher_query(
                openCypherQuery=query, parameters=_parameters_json(parameters))
        except (BotoCoreError, ClientError, ResponseParserError) as err:
            raise _store_error(err, self._store, self.settings) from err
        return _rows(answer, self._store)

    def close(self) -> None:
        """Closes the client's connections."""
        self._client.close()


class NeptuneAnalyticsRunner:
    """Runs openCypher on a Neptune Analytics graph (``neptune-graph.execute_query``).

    Attributes:
        dialect: ``neptune_dialect("neptune-graph")``.
        round_trips: queries sent so far.
    """

    def __init__(self, graph_id: str, region: str, settings: ClientSettings | None = None,
                 *, endpoint_url: str | None = None) -> None:
        """Opens the client.

        Args:
            graph_id: the graph identifier (``g-...``).
            region: the graph's AWS region.
            settings: timeouts and retries; the defaults otherwise.
            endpoint_url: a loopback test server (``http://127.0.0.1:PORT``); ``None`` for AWS,
                whose data-plane host botocore derives from the graph id and region.
        """
        self.dialect = neptune_dialect(NEPTUNE_GRAPH_KIND)
        self.settings = settings or ClientSettings()
        self.round_trips = 0
        self.graph_id = graph_id
        self._store = f"Neptune Analytics graph {graph_id}"
        self._client = _make_client(NEPTUNE_GRAPH_SERVICE, region=region, endpoint_url=endpoint_url,
                                    settings=self.settings, inject_host_prefix=endpoint_url is None)

    def run(self, query: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Runs one query; see ``QueryRunner.run``.

        Raises:
            GraphStoreError: as ``NeptuneDatabaseRunner.run``; also an answer larger than
                ``settings.max_response_bytes`` or a payload that is not JSON.
        """
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        self.round_trips += 1
        limit = self.settings.max_response_bytes
        try:
            answer = self._client.execute_query(
                graphIdentifier=self.graph_id, queryString=query, language=OPEN_CYPHER,
                parameters=dict(parameters),
                queryTimeoutMilliseconds=int(self.settings.read_timeout_s * 1000))
            body = answer["payload"].read(limit + 1)
            answer["payload"].close()
        except (BotoCoreError, ClientError, ResponseParserError) as err:
            raise _store_error(err, self._store, self.settings) from err
        if len(body) > limit:
            raise GraphStoreError(f"{self._store} answered more than {limit} bytes")
        try:
            document = json.loads(body)
        except ValueError:
            raise GraphStoreError(f"{self._store} sent a malformed payload (not JSON)") from None
        return _rows(document, self._store)

    def close(self) -> None:
        """Closes the client's connections."""
        self._client.close()
