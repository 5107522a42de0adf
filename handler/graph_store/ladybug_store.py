"""The embedded store: a Ladybug database file inside a store directory.

``gs-load-graph --store PATH`` makes the directory ``PATH`` holding ``graph.lbug``; readers open
it read-only (several processes at once, e.g. every TorchServe worker). Ladybug is imported
only here, when a store is opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from handler.graph_store.runner import LADYBUG, Dialect, GraphStoreError

DATABASE_FILE = "graph.lbug"
# A reader's page cache: small, since every worker of a host opens its own (the OS page cache
# holds the file once for all of them).
DEFAULT_BUFFER_POOL_BYTES = 256 * 1024 * 1024
DEFAULT_TIMEOUT_MS = 5_000
# Ladybug reserves its maximum database size as virtual address space (8 TiB by default), so a
# process holding several stores (tests, a builder beside a server) runs out of address space;
# writers reserve this much, readers a power of two above 4x the file.
WRITER_MAX_DB_BYTES = 1 << 40


def reader_max_db_bytes(path: Path) -> int:
    """The address space a read-only open reserves for the database file at ``path``."""
    return 1 << max(30, (4 * path.stat().st_size).bit_length())


def database_path(store: str | Path) -> Path:
    """The database file of a store directory (or the file itself when given one)."""
    path = Path(store)
    return path / DATABASE_FILE if path.is_dir() else path


class LadybugRunner:
    """Runs the extractor's queries on an open Ladybug database.

    Attributes:
        dialect: ``runner.LADYBUG``.
        path: the database file.
    """

    dialect: Dialect = LADYBUG

    def __init__(self, database: Any, path: Path, timeout_ms: int) -> None:
        import ladybug

        self.path = path
        self._database = database
        self._connection: Any = ladybug.Connection(database, num_threads=1)
        if timeout_ms > 0:
            self._connection.set_query_timeout(timeout_ms)

    def run(self, query: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Runs one read query; see ``runner.QueryRunner.run``."""
        if self._connection is None:
            raise GraphStoreError(f"graph store {self.path.name} is closed")
        try:
            result = self._connection.execute(query, dict(parameters))
            if isinstance(result, list):  # several statements: never sent by the extractor
                raise GraphStoreError("graph store query held several statements")
            names = result.get_column_names()
            rows = [dict(zip(names, row)) for row in result.get_all()]
            result.close()
        except RuntimeError as exc:
            text = str(exc)
            what = "timed out" if "Interrupted" in text else "failed"
            raise GraphStoreError(f"graph store query {what}: {text[:300]}") from exc
        return rows

    def close(self) -> None:
        """Closes the connection and the database (idempotent)."""
        if self._connection is not None:
            self._connection.close()
            self._database.close()
            self._connection = None


def open_ladybug(
    store: str | Path,
    *,
    read_only: bool = True,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    buffer_pool_bytes: int = DEFAULT_BUFFER_POOL_BYTES,
) -> LadybugRunner:
    """Opens an embedded store.

    Args:
        store: the store directory written by ``gs-load-graph`` (or its ``graph.lbug``).
        read_only: open without write access (any number of processes may).
        timeout_ms: per-query limit (``set_query_timeout``); 0 for none.
        buffer_pool_bytes: Ladybug's page cache for this process.

    Returns:
        A runner holding the open database.

    Raises:
        GraphStoreError: no store there, or Ladybug cannot open it.
    """
    path = database_path(store)
    if not path.is_file():
        raise GraphStoreError(f"no graph store at {store} (expected the directory gs-load-graph writes)")
    try:
        import ladybug

        database = ladybug.Database(
            str(path), read_only=read_only, buffer_pool_size=buffer_pool_bytes,
            max_db_size=reader_max_db_bytes(path) if read_only else WRITER_MAX_DB_BYTES,
        )
        return LadybugRunner(database, path, timeout_ms)
    except (RuntimeError, ImportError) as exc:
        raise GraphStoreError(f"cannot open graph store {store}: {str(exc)[:300]}") from exc
