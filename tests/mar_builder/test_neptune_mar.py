"""A `.mar` whose graph store is Neptune: gs-build-mar records the URI (and no credential), and
gs-predict --mar answers targets-only requests from the (fake, loopback) Neptune like target/."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compare import load_cases
from tests.handler.graph_store.neptune_env import CREDENTIALS, fake_aws
from tests.handler.graph_store.neptune_stores import NeptuneCopies
from tests.handler.graph_store.stores import StoreCache
from tests.mar_builder.build_mar import build_mar, predict_targets_only

REPO = Path(__file__).resolve().parents[2]
VARIANT = "rgcn_nc"


@pytest.fixture(scope="module")
def neptune(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NeptuneCopies, dict[str, str]]]:
    stores = StoreCache(tmp_path_factory.mktemp("stores"))
    with fake_aws(tmp_path_factory.mktemp("aws-home")) as env:
        copies = NeptuneCopies(stores, tmp_path_factory.mktemp("neptune"))
        try:
            yield copies, env
        finally:
            copies.close()
            stores.close()


def test_mar_with_a_neptune_store_answers_targets_only(neptune: tuple[NeptuneCopies, dict[str, str]],
                                                       tmp_path: Path) -> None:
    copies, env = neptune
    uri = copies.get(VARIANT).server.uri("neptune-db", read_timeout=5)
    assert build_mar(tmp_path, VARIANT, "--graph-store", uri) == 0
    mar = tmp_path / "m.mar"
    with zipfile.ZipFile(mar) as archive:
        everything = b"".join(archive.read(name) for name in archive.namelist())
    assert uri.encode() in everything  # the store is recorded ...
    assert not [c for c in CREDENTIALS if c.encode() in everything]  # ... and no credential
    case = next(c for c in load_cases(VARIANT) if c.name == "v04_medium_full")
    output = predict_targets_only(mar, case, tmp_path, env={**_base_env(), **env}).decode()
    assert not [c for c in CREDENTIALS if c in output]


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
