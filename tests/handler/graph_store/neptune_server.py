"""A local fake of Amazon Neptune's openCypher HTTP APIs, for tests and the bench.

A real HTTP server on 127.0.0.1 (a free port) that speaks the wire format boto3's clients use:

* ``POST /opencypher`` (Neptune Database, ``neptunedata.execute_open_cypher_query``): a JSON body
  ``{"query": ..., "parameters": "<JSON string>"}`` or an HTML form (``query=...&parameters=...``,
  the raw HTTP API); answers ``{"results": [{column: value}, ...]}``.
* ``POST /queries`` (Neptune Analytics, ``neptune-graph.execute_query``): a JSON body
  ``{"query": ..., "language": "OPEN_CYPHER", "parameters": {...}}`` and a ``graphIdentifier``
  header; answers the same document as the response payload.

Errors use the documented shapes: neptunedata ``{"code", "requestId", "detailedMessage"}``,
neptune-graph ``{"message"}``, the code also in ``x-amzn-ErrorType``. Each request must carry a
SigV4 ``Authorization`` header whose scope names the service (``neptune-db`` /
``neptune-graph``) and the server's region; it is recorded (without the signature) for tests.

Queries run on a Ladybug store (``executor``): the tests load it from ``gs-load-graph
--neptune-csv`` output through ``load_neptune_csv``, the same reader that checks the CSV grammar.

Fault injection (``inject``): ``throttle`` (429), ``server_timeout`` (Neptune's
``TimeLimitExceededException``, 500), ``unavailable`` (503), ``hang`` (no answer until the client
gives up), ``close`` (the connection is closed without an answer), ``malformed_json`` (a 200 whose
body is not JSON), ``malformed_results`` (a 200 whose ``results`` is not a list of rows).

Run as a program (``python -m tests.handler.graph_store.neptune_server --csv DIR``) it loads
``--neptune-csv`` output, serves it until stdin closes and prints its port on the first line
(``bench/neptune.py`` starts it that way, in its own process).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

Executor = Callable[[str, dict[str, Any]], list[dict[str, Any]]]

FAULTS = ("throttle", "server_timeout", "unavailable", "hang", "close", "malformed_json",
          "malformed_results")
_SCOPE = re.compile(r"Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


class FakeNeptune:
    """The fake server; a context manager that starts and always stops it.

    Attributes:
        region: the region requests must be signed for.
        requests: one record per request received: path, service scope, query, parameters, fault.
    """

    def __init__(self, executor: Executor, region: str = "us-east-1", hang_s: float = 30.0) -> None:
        """Args:
            executor: runs a query with its parameters and returns rows.
            region: the SigV4 region a request's scope must name.
            hang_s: the longest a ``hang`` fault keeps a request open (``stop`` ends it sooner).
        """
        self.region = region
        self.requests: list[dict[str, Any]] = []
        self._executor = executor
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._hang_s = hang_s
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """The loopback port served."""
        return int(self._server.server_address[1])

    def uri(self, kind: str, graph_id: str = "g-local", **options: Any) -> str:
        """A store URI that reaches this server (``neptune-db`` or ``neptune-graph``)."""
        query = "&".join(f"{k}={v}" for k, v in {"region": self.region, **options}.items())
        path = f"/{graph_id}" if kind == "neptune-graph" else ""
        return f"{kind}+http://127.0.0.1:{self.port}{path}?{query}"

    def inject(self, fault: str, times: int = 1) -> None:
        """Makes the next ``times`` requests fail with ``fault`` (one of ``FAULTS``)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._faults.extend([fault] * times)

    def clear(self) -> None:
        """Drops pending faults and the request log."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def count(self, path: str | None = None) -> int:
        """Requests received so far (to one path if given)."""
        with self._lock:
            return sum(1 for r in self.requests if path is None or r["path"] == path)

    def start(self) -> FakeNeptune:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ends hanging requests and stops serving."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeNeptune:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_fault(self) -> str | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def _run(self, query: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:  # one Ladybug connection: queries run one at a time
            return self._executor(query, parameters)


def _handler_class(fake: FakeNeptune) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every keep-alive request.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib's name)
            pass  # requests are recorded in fake.requests, not printed

        def do_POST(self) -> None:  # noqa: N802 (stdlib's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            path = self.path.split("?", 1)[0].rstrip("/").lower()
            service = {"/opencypher": "neptune-db", "/queries": "neptune-graph"}.get(path)
            if service is None:
                self._send(404, {"code": "NotFound", "detailedMessage": f"no route {self.path}"})
                return
            scope = _SCOPE.search(self.headers.get("Authorization") or "")
            entry: dict[str, Any] = {
                "path": path, "service": scope.group(4) if scope else None,
                "region": scope.group(3) if scope else None,
                "graph": self.headers.get("graphIdentifier"), "fault": None,
            }
            if not scope or scope.group(4) != service or scope.group(3) != fake.region:
                fake._record(entry)
                self._error(service, 403, "AccessDeniedException",
                            f"missing or wrong SigV4 scope (need {service} in {fake.region})")
                return
            try:
                query, parameters, language = _decode(body, self.headers.get("Content-Type") or "")
            except ValueError as err:
                fake._record(entry)
                code = "MalformedQueryException" if service == "neptune-db" else "ValidationException"
                self._error(service, 400, code, str(err))
                return
            entry.update(query=query, parameters=parameters, language=language)
            fault = fake._next_fault()
            entry["fault"] = fault
            fake._record(entry)
            if fault is not None and self._fault(service, fault):
                return
            if service == "neptune-graph" and language != "OPEN_CYPHER":
                self._error(service, 400, "ValidationException", f"unsupported language {language!r}")
                return
            try:
                rows = fake._run(query, parameters)
            except Exception as err:  # the engine's own error text, as Neptune reports a bad query
                code = "MalformedQueryException" if service == "neptune-db" else "ValidationException"
                self._error(service, 400, code, f"{type(err).__name__}: {err}"[:500])
                return
            self._send(200, {"results": rows})

        def _fault(self, service: str, fault: str) -> bool:
            """Acts out a fault; ``False`` when the request should then be answered normally."""
            if fault == "throttle":
                code = "TooManyRequestsException" if service == "neptune-db" else "ThrottlingException"
                self._error(service, 429, code, "Rate exceeded")
            elif fault == "server_timeout":
                code = "TimeLimitExceededException" if service == "neptune-db" else "InternalServerException"
                self._error(service, 500, code, "Operation terminated (deadline exceeded)")
            elif fault == "unavailable":
                self._error(service, 503, "ServiceUnavailableException", "Service unavailable")
            elif fault == "hang":
                fake._release.wait(fake._hang_s)
                self.close_connection = True
                self._close()
            elif fault == "close":
                self.close_connection = True
                self._close()
            elif fault == "malformed_json":
                self._send_bytes(200, b"<html>upstream proxy error</html>", "application/json")
            elif fault == "malformed_results":
                self._send(200, {"results": "not a list of rows"})
            return True

        def _close(self) -> None:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        def _error(self, service: str, status: int, code: str, message: str) -> None:
            if service == "neptune-db":
                body = {"code": code, "requestId": str(uuid.uuid4()), "detailedMessage": message}
            else:
                body = {"message": message}
            self._send(status, body, {"x-amzn-ErrorType": code})

        def _send(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
            self._send_bytes(status, json.dumps(document, allow_nan=False).encode(), "application/json",
                             headers)

        def _send_bytes(self, status: int, data: bytes, content_type: str,
                        headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _decode(body: bytes, content_type: str) -> tuple[str, dict[str, Any], str]:
    """The query, its parameters and its language from a request body (JSON or form).

    Raises:
        ValueError: no query, or parameters that are not a JSON object.
    """
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8"), strict_parsing=False)
        document: dict[str, Any] = {k: v[0] for k, v in form.items()}
    else:
        document = json.loads(body or b"{}")
    query = document.get("query")
    if not isinstance(query, str) or not query:
        raise ValueError("no query in the request")
    parameters = document.get("parameters") or {}
    if isinstance(parameters, str):  # neptunedata: a JSON string
        parameters = json.loads(parameters)
    if not isinstance(parameters, dict):
        raise ValueError("parameters must be a JSON object")
    return query, parameters, str(document.get("language", "OPEN_CYPHER"))


# A fake's store is small: a bounded page cache and address-space reservation (Ladybug reserves
# 8 TiB per open database by default; a test session opens dozens).
SMALL_DATABASE = {"buffer_pool_size": 256 * 1024 * 1024, "max_db_size": 1 << 34}

_LADYBUG_TYPE = {"string": "STRING", "long": "INT64", "int": "INT64", "short": "INT64", "byte": "INT64",
                 "double": "DOUBLE", "float": "DOUBLE", "bool": "BOOLEAN", "boolean": "BOOLEAN"}


def load_neptune_csv(csv_dir: str | Path, store_path: str | Path) -> dict[str, int]:
    """Loads ``gs-load-graph --neptune-csv`` output into a new Ladybug store, as Neptune holds it.

    Every file is read by ``neptune_csv.read_node_file`` (the header grammar and Neptune's
    typing); a label becomes a node table whose primary key is the dialect's key property
    (unique per label, as the loader made it), ``~id`` an ordinary column, and every property
    keeps its Neptune type: a vector stays the delimited string Neptune would hold.

    Returns:
        Label -> rows loaded.
    """
    import ladybug
    import pyarrow as pa

    from handler.graph_store.layout import quote
    from handler.graph_store.neptune import NEPTUNE_KEY_PROPERTY
    from handler.graph_store.neptune_csv import read_node_file

    arrow_type = {"STRING": pa.string(), "INT64": pa.int64(), "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_()}
    database = ladybug.Database(str(store_path), **SMALL_DATABASE)
    connection = ladybug.Connection(database)
    counts: dict[str, int] = {}
    try:
        for path in sorted(Path(csv_dir).glob("*.csv")):
            node_file = read_node_file(path)
            types = {c.name: _LADYBUG_TYPE[(c.type or "string").lower()] for c in node_file.columns}
            key_type = types.pop(NEPTUNE_KEY_PROPERTY)
            columns = [f"{quote(NEPTUNE_KEY_PROPERTY)} {key_type} PRIMARY KEY", "`~id` STRING"] + [
                f"{quote(name)} {kind}" for name, kind in types.items()]
            connection.execute(f"CREATE NODE TABLE {quote(node_file.label)} ({', '.join(columns)})")
            rows = pa.table({NEPTUNE_KEY_PROPERTY: pa.array(node_file.values[NEPTUNE_KEY_PROPERTY],
                                                             arrow_type[key_type]),
                              "~id": pa.array(node_file.ids, pa.string()),
                              **{name: pa.array(node_file.values[name], arrow_type[kind])
                                 for name, kind in types.items()}})
            if rows.num_rows:  # COPY reads the local Arrow table `rows` by its name
                connection.execute(f"COPY {quote(node_file.label)} FROM rows")
            counts[node_file.label] = rows.num_rows
    finally:
        connection.close()
        database.close()
    return counts


def ladybug_executor(store_path: str) -> tuple[Executor, Callable[[], None]]:
    """An executor over a Ladybug store opened read-only, and its closer."""
    import ladybug

    database = ladybug.Database(store_path, read_only=True, **SMALL_DATABASE)
    connection = ladybug.Connection(database)

    def execute(query: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
        result = connection.execute(query, parameters)
        assert not isinstance(result, list), "one statement per request"
        names = result.get_column_names()
        rows = [dict(zip(names, values, strict=True)) for values in result.get_all()]
        result.close()
        return rows

    def close() -> None:
        connection.close()
        database.close()

    return execute, close


def main(argv: list[str] | None = None) -> int:
    """Serves a Ladybug store until stdin closes; prints the port first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, help="gs-load-graph --neptune-csv output to serve")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fake-neptune-") as scratch:
        load_neptune_csv(args.csv, Path(scratch) / "neptune.lbug")
        execute, close = ladybug_executor(str(Path(scratch) / "neptune.lbug"))
        with FakeNeptune(execute, region=args.region) as fake:
            print(fake.port, flush=True)
            sys.stdin.read()
        close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
