"""Opens a graph store for reading from a path (embedded Ladybug) or a store URI (Neptune).

``store_uri.open_store`` (issue 21) parses URIs; until it is present an argument is an
embedded store's path.
"""

from __future__ import annotations

from pathlib import Path

from handler.graph_store.runner import QueryRunner


def open_graph_store(location: str | Path) -> QueryRunner:
    """A read-only runner on the store at ``location`` (path or URI).

    Raises:
        GraphStoreError: the store cannot be opened.
        ValueError: a malformed store URI.
    """
    try:
        from handler.graph_store.store_uri import open_store  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from handler.graph_store.ladybug_store import open_ladybug

        return open_ladybug(location)
    runner: QueryRunner = open_store(str(location))
    return runner
