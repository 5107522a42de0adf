"""The query layer every graph store implements: openCypher text in, rows out.

The extractor (``extract.py``) writes every query itself, with labels and property names
backtick-quoted and every value (ids, keys, counts) passed as a query parameter; a store only
runs them. ``Dialect`` names the few places where stores differ. Torch-free and numpy-free:
imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Dialect:
    """Where one store's openCypher (or its data model) differs from Ladybug's.

    Attributes:
        name: the store's name, shown in errors and logs (``ladybug``, ``neptune-db``...).
        key_property: the property a node table is looked up by: the raw node id on a node
            table, the integer edge key on an edge table (``~id`` on Ladybug, where it is the
            table's primary key).
        vectors_as_strings: the store keeps list values (float vectors, learnable embeddings)
            as one delimited string (Neptune: arrays are sets); the extractor splits them.
        vector_separator: the delimiter of such strings.
        integer_keys: edge keys are stored and passed as integers (``False``: as decimal
            strings, for stores whose ids are strings).
        batch_hops: one query per hop (a ``UNION ALL`` of the per-table and per-type lookups):
            ``num_layers + 1`` round trips per extraction, for stores across a network; ``False``
            (in process): one query per table / node type and hop, cheaper to compile.
        cast_null_pads: a ``UNION ALL`` branch fills the other branches' columns with
            ``CAST(NULL AS <type>)`` (Ladybug needs typed columns); ``False``: with a literal of
            the column's type (openCypher without ``CAST``, e.g. Neptune).
    """

    name: str
    key_property: str = "~id"
    vectors_as_strings: bool = False
    vector_separator: str = "|"
    integer_keys: bool = True
    batch_hops: bool = False
    cast_null_pads: bool = True


LADYBUG = Dialect(name="ladybug")


class QueryRunner(Protocol):
    """An open connection to a graph store that runs read queries.

    Attributes:
        dialect: how this store's openCypher and data model differ (``Dialect``).
    """

    dialect: Dialect

    def run(self, query: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Runs one read query.

        Args:
            query: openCypher text written by the extractor (no data inside it).
            parameters: every value the query uses (``$name`` -> JSON-like value).

        Returns:
            One dict per result row, keyed by the ``RETURN`` aliases.

        Raises:
            GraphStoreError: the store failed (unreachable, timed out, corrupt, refused).
        """
        ...

    def close(self) -> None:
        """Releases the connection (idempotent)."""
        ...


class GraphStoreError(Exception):
    """The graph store failed: unreachable, timed out, corrupt or refusing the query.

    The server answers it with a bounded 5xx envelope saying the graph store failed
    (``handler.contract.errors.GraphStoreFailureError``); the CLI prints it and exits non-zero.
    """
