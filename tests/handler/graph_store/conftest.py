"""The session's embedded stores of the reference fixtures (``stores.py``)."""

from __future__ import annotations

import pytest

from tests.handler.graph_store.stores import StoreCache


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory):
    """The session's fixture stores."""
    cache = StoreCache(tmp_path_factory.mktemp("graph_stores"))
    yield cache
    cache.close()
