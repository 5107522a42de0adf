"""Embedded stores of the reference fixtures (tests build each once per session).

Every fixture with ``raw/`` was built from one of four table sets, copied (once) under
``tests/fixtures/graph_store/``: ``acm`` (the ACM-like graph), ``acm`` with the text ``paper``
table of the text fixtures, ``homo`` (``sage_homo_nc``) and ``gsp`` (``gsp_rgcn_nc``, built by
GSProcessing). A store is keyed by the
fixture's ``data_transform_new.json`` bytes and table set, so fixtures sharing both share it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from handler.contract.graph_schema import GraphSchema
from handler.graph_store.ladybug_store import open_ladybug
from handler.graph_store.loader import load_graph
from handler.graph_store.payload import PayloadBuilder
from tests.compare import FIXTURES_DIR, artifacts_dir

RAW = FIXTURES_DIR / "graph_store"
TEXT_FIXTURES = ("rgcn_nc_lm", "rgcn_nc_text_bert")
# Fixtures whose model the server serves and whose raw/ tables are copied.
STORE_FIXTURES = sorted(
    v for v in ("gsp_rgcn_nc", "hgt_er", "hgt_nc", "hgt_nc_efeat", "rgat_nc", "rgcn_ec", "rgcn_lp", "rgcn_nc",
                "rgcn_nc_efeat", "rgcn_nc_learnable", "rgcn_nc_lm", "rgcn_nc_text_bert", "rgcn_nr",
                "sage_homo_nc")
    if (FIXTURES_DIR / v).is_dir()
)


def input_dir(variant: str, tmp: Path) -> Path:
    """The folder of the tables a fixture's graph was built from."""
    if variant == "sage_homo_nc":
        return RAW / "homo"
    if variant == "gsp_rgcn_nc":  # GSProcessing-built: its own tables (keywords, pages)
        return RAW / "gsp"
    if variant not in TEXT_FIXTURES:
        return RAW / "acm"
    folder = tmp / "acm_text"
    if not folder.exists():
        folder.mkdir()
        for table in (RAW / "acm").iterdir():
            (folder / table.name).symlink_to(table)
        (folder / "paper.parquet").unlink()
        (folder / "paper.parquet").symlink_to(RAW / "acm_text" / "paper.parquet")
    return folder


def learnable_dir(variant: str) -> Path | None:
    """The fixture's learnable-embedding tables (``extra/``), if it has them."""
    extra = FIXTURES_DIR / variant / "extra"
    return extra if extra.is_dir() else None


class StoreCache:
    """Builds each distinct fixture store once and keeps one open runner per store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._paths: dict[str, Path] = {}
        self._builders: dict[str, PayloadBuilder] = {}

    def path(self, variant: str) -> Path:
        """The store directory of a fixture's graph (built on first use)."""
        transform = (artifacts_dir(variant) / "data_transform_new.json").read_bytes()
        extra = learnable_dir(variant)
        key = hashlib.sha256(transform + str(input_dir(variant, self.root)).encode()
                             + str(extra).encode()).hexdigest()[:16]
        if key not in self._paths:
            store = self.root / f"store-{key}"
            schema = GraphSchema.from_file(artifacts_dir(variant) / "data_transform_new.json")
            load_graph(schema, input_dir(variant, self.root), store, learnable_dir=extra)
            self._paths[key] = store
        return self._paths[key]

    def builder(self, variant: str) -> PayloadBuilder:
        """A payload builder for the fixture's model on its store (one open runner each)."""
        if variant not in self._builders:
            runner = open_ladybug(self.path(variant))
            self._builders[variant] = PayloadBuilder.from_model_dir(runner, artifacts_dir(variant))
        return self._builders[variant]

    def close(self) -> None:
        for builder in self._builders.values():
            builder.extractor.runner.close()


