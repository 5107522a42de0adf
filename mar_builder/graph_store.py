"""gs-build-mar's graph-store options: check that a store holds the model's graph, and copy an
embedded store into the archive (``--graph-store``, ``--embed-graph-store``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from handler.graph_store.extract import StoreMismatchError
from handler.graph_store.opening import open_graph_store
from handler.graph_store.payload import PayloadBuilder
from handler.graph_store.runner import GraphStoreError


def check_store(location: str, artifacts_dir: Path) -> None:
    """Checks a store for the staged model: an embedded store is opened as the handler will
    and must hold the model's graph; a store URI (Neptune) is only parsed (the builder may not
    reach the database; the worker checks it at start).

    Raises:
        ValueError: a malformed URI, or a store that cannot be opened or does not hold the
            model's graph (the message names what differs).
    """
    if "://" in location:
        try:
            from handler.graph_store.store_uri import parse_store  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise ValueError(f"--graph-store {location}: store URIs are not supported by this build") from None
        parse_store(location)
        return
    try:
        runner = open_graph_store(location)
    except GraphStoreError as exc:
        raise ValueError(f"--graph-store: {exc}") from exc
    try:
        PayloadBuilder.from_model_dir(runner, artifacts_dir)
    except (StoreMismatchError, GraphStoreError) as exc:
        raise ValueError(f"--graph-store {location}: {exc}") from exc
    finally:
        runner.close()


def embed(store: Path, destination: Path) -> None:
    """Copies an embedded store directory into the staged archive."""
    if "://" in str(store) or not store.is_dir():
        raise ValueError(f"--embed-graph-store: {store} is not a store directory made by gs-load-graph")
    shutil.copytree(store, destination)
