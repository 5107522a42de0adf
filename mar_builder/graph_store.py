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
    """Opens the store as the handler will and checks it serves the staged model.

    Raises:
        ValueError: the store cannot be opened or does not hold the model's graph (message
            names what differs).
    """
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
    if not store.is_dir():
        raise ValueError(f"--embed-graph-store: {store} is not a store directory made by gs-load-graph")
    shutil.copytree(store, destination)
