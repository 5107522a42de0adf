"""Fixture stores copied into the loopback fake Neptune server, each made once per module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handler.graph_store.neptune_csv import export_store
from tests.handler.graph_store.neptune_env import REGION
from tests.handler.graph_store.neptune_server import FakeNeptune, ladybug_executor, load_neptune_csv
from tests.handler.graph_store.stores import StoreCache


@dataclass
class NeptuneCopy:
    """A fixture store exported as Neptune CSV and served by the fake Neptune server."""

    csv_dir: Path
    server: FakeNeptune
    close: Any


class NeptuneCopies:
    """One Neptune copy per distinct embedded store, made on first use."""

    def __init__(self, stores: StoreCache, root: Path) -> None:
        self.stores = stores
        self.root = root
        self._copies: dict[Path, NeptuneCopy] = {}

    def get(self, variant: str) -> NeptuneCopy:
        store = self.stores.path(variant)
        if store not in self._copies:
            folder = self.root / store.name
            export_store(store, folder / "csv")
            load_neptune_csv(folder / "csv", folder / "neptune.lbug")
            execute, close = ladybug_executor(str(folder / "neptune.lbug"))
            self._copies[store] = NeptuneCopy(folder / "csv", FakeNeptune(execute, region=REGION).start(), close)
        return self._copies[store]

    def close(self) -> None:
        for copy in self._copies.values():
            copy.server.stop()
            copy.close()


