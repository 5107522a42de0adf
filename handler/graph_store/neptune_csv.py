"""The store's tables in Neptune's openCypher bulk-load CSV format (``gs-load-graph --neptune-csv``).

Every table of an embedded store (``layout.py``: one per node type, one per relation and its
``#out`` copy, the ``gs_store_meta`` record) becomes one node file: ``:ID``, ``:LABEL``, then one
typed property column per stored property. What Neptune then answers the extractor is what the
embedded store answers, value for value:

* ``:ID`` = ``<label>:<key>`` (``%`` and ``:`` in the label percent-escaped): Neptune's ``~id`` is
  global across labels; the key itself is the property ``gs_key`` (``String`` on node tables,
  ``Long`` on edge tables), the dialect's ``key_property``.
* ``INT64`` -> ``Long``, ``DOUBLE`` and ``FLOAT`` -> ``Double`` (a float32 value written as the
  double it reads back as, in Python's shortest round-trip form), ``BOOLEAN`` -> ``Bool``,
  ``STRING`` -> ``String``.
* a list (``FLOAT[]``, ``INT64[]``...) -> one ``String``: its items joined with the Neptune
  dialect's ``vector_separator`` (``|``; Neptune keeps arrays as sets, losing order and
  duplicates); the extractor splits it back with the same separator (``Dialect.vectors_as_strings``).
* null -> an empty field (Neptune stores no property; reading it gives null).

Values Neptune cannot give back unchanged are refused with the table, column and row: an empty
string or an empty list (an empty field reads back as null), a NaN or infinite number (the JSON of
an answer has no such value), a list item containing the separator, a property name Neptune's
header grammar forbids. Files are RFC 4180, UTF-8, one per table, named ``<nnn>_<label>.csv``.

``check_header`` is the header grammar (node and relationship files); ``read_node_file`` reads a
file back with its typed values (the loopback fake Neptune server loads its store through it).
"""

from __future__ import annotations

import csv
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handler.graph_store.layout import META_KEY, META_TABLE, StoreLayout, quote
from handler.graph_store.neptune import NEPTUNE_KEY_PROPERTY, NEPTUNE_VECTOR_SEPARATOR

Progress = Callable[[str], None]

# The embedded store's key column (loader.KEY_PROPERTY) and Neptune's property types per store type.
STORE_KEY = "~id"
_NEPTUNE_TYPE = {"STRING": "String", "INT64": "Long", "DOUBLE": "Double", "FLOAT": "Double",
                 "BOOLEAN": "Bool"}
# Neptune's property types (openCypher CSV; names are case-insensitive) and system columns.
PROPERTY_TYPES = ("bool", "boolean", "byte", "short", "int", "long", "float", "double", "datetime", "string")
NODE_SYSTEM = (":ID", ":LABEL")
RELATIONSHIP_SYSTEM = (":ID", ":START_ID", ":END_ID", ":TYPE")
_ID_SPACE = re.compile(r"^:(ID|START_ID|END_ID)(\([^()]+\))?$")
# Header cells may not hold a space, comma, carriage return or newline; a colon inside a property
# name must be escaped (``\:``); this writer never needs one, so it refuses such names instead.
_FORBIDDEN_IN_NAME = re.compile(r"[ ,\r\n:]")
_ROWS_PER_BATCH = 50_000


class NeptuneCsvError(ValueError):
    """A table or value that Neptune would not give back unchanged; the text names where."""


@dataclass(frozen=True)
class Column:
    """One column of a Neptune openCypher CSV header.

    Attributes:
        name: the property name, or the system column (``:ID``, ``:LABEL``...).
        type: the property type as written (``String``, ``Long``...); ``None`` for system columns.
        array: the type ends in ``[]`` (a multi-valued property).
    """

    name: str
    type: str | None = None
    array: bool = False

    @property
    def is_system(self) -> bool:
        """Whether this is a system column."""
        return self.type is None


def check_header(cells: list[str], kind: str) -> list[Column]:
    """Checks a header row against Neptune's openCypher CSV grammar.

    Args:
        cells: the header cells.
        kind: ``node`` or ``relationship``.

    Returns:
        The columns in order.

    Raises:
        NeptuneCsvError: a duplicate or missing system column, an unknown type, a forbidden
            character in a name, or a property named twice.
    """
    system = NODE_SYSTEM if kind == "node" else RELATIONSHIP_SYSTEM
    required = (":ID",) if kind == "node" else (":START_ID", ":END_ID", ":TYPE")
    columns: list[Column] = []
    seen: set[str] = set()
    for cell in cells:
        match = _ID_SPACE.match(cell)
        if match or cell in NODE_SYSTEM + RELATIONSHIP_SYSTEM:
            base = f":{match.group(1)}" if match else cell
            if base not in system:
                raise NeptuneCsvError(f"system column {cell!r} does not belong in a {kind} file")
            if base in seen:
                raise NeptuneCsvError(f"system column {base} appears twice")
            seen.add(base)
            columns.append(Column(base))
            continue
        if cell.startswith(":"):
            raise NeptuneCsvError(f"unknown system column {cell!r}")
        name, _, type_text = cell.rpartition(":") if ":" in cell else (cell, "", "String")
        if name.endswith(":ID") or type_text == "ID":  # `name:ID`: the node id kept as a property
            raise NeptuneCsvError(f"{cell!r}: `name:ID` columns are not written by this exporter")
        array = type_text.endswith("[]")
        base_type = type_text[:-2] if array else type_text
        if base_type.lower() not in PROPERTY_TYPES:
            raise NeptuneCsvError(f"property column {cell!r}: unknown type {type_text!r} "
                                  f"(one of {', '.join(PROPERTY_TYPES)}, optionally with [])")
        if not name or _FORBIDDEN_IN_NAME.search(name):
            raise NeptuneCsvError(f"property column {cell!r}: a name must be non-empty and hold no space, "
                                  "comma, colon, carriage return or newline")
        if name in seen:
            raise NeptuneCsvError(f"property {name!r} appears twice")
        seen.add(name)
        columns.append(Column(name, base_type, array))
    missing = [c for c in required if c not in seen]
    if missing:
        raise NeptuneCsvError(f"a {kind} file needs the system column(s) {', '.join(missing)}")
    return columns


def neptune_id(label: str, key: Any) -> str:
    """The ``~id`` a table row gets in Neptune: unique across labels, derived from (label, key)."""
    return label.replace("%", "%25").replace(":", "%3A") + ":" + str(key)


@dataclass(frozen=True)
class ExportReport:
    """What ``export_store`` wrote.

    Attributes:
        files: the CSV files, in write order.
        rows: label -> rows written.
        seconds: wall time.
    """

    files: tuple[Path, ...]
    rows: dict[str, int]
    seconds: float


def export_store(store: str | Path, out_dir: str | Path, *, progress: Progress | None = None) -> ExportReport:
    """Writes every table of an embedded store as Neptune openCypher CSV node files.

    Reads the store itself (not the input tables), so Neptune holds exactly the rows the
    embedded store holds.

    Args:
        store: the embedded store written by ``gs-load-graph --store``.
        out_dir: the folder to write (created; must be empty if it exists).
        progress: called with one line per file (``None``: silent).

    Returns:
        The files and row counts.

    Raises:
        NeptuneCsvError: a value or name Neptune would not give back unchanged.
        GraphStoreError: the store cannot be opened or read.
    """
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise NeptuneCsvError(f"{out} is not empty; give a new or empty folder for the Neptune CSV files")
    out.mkdir(parents=True, exist_ok=True)
    connection, close = _open(store)
    try:
        rows = list(_rows(connection, f"MATCH (m:{quote(META_TABLE)}) WHERE m.{quote(STORE_KEY)} = $key "
                                      "RETURN m.`json` AS json", {"key": META_KEY}))
        if not rows:
            raise NeptuneCsvError(f"{store} has no layout record; load it with gs-load-graph first")
        record = StoreLayout.parse_record(rows[0][0])
        types: dict[str, dict[str, str]] = dict(record["types"])
        types[META_TABLE] = {STORE_KEY: "STRING", "json": "STRING"}
        files, counts = [], {}
        for index, (label, props) in enumerate(types.items()):
            path = out / f"{index:03d}_{re.sub(r'[^A-Za-z0-9_.-]', '_', label)}.csv"
            counts[label] = _write_table(connection, label, props, path)
            files.append(path)
            say(f"wrote {path.name}: {counts[label]} rows of {label}")
    finally:
        close()
    seconds = time.perf_counter() - started
    say(f"Neptune CSV in {out} ({len(files)} files) in {seconds:.1f} s; load it with the bulk loader "
        "(docs/graph_store.md, 'Neptune')")
    return ExportReport(files=tuple(files), rows=counts, seconds=seconds)


def _open(store: str | Path) -> tuple[Any, Callable[[], None]]:
    """A read-only Ladybug connection to an embedded store, and its closer."""
    from handler.graph_store.ladybug_store import database_path
    from handler.graph_store.runner import GraphStoreError

    path = database_path(store)
    if not path.is_file():
        raise GraphStoreError(f"no graph store at {store} (expected the directory gs-load-graph writes)")
    import ladybug

    database = ladybug.Database(str(path), read_only=True)
    connection = ladybug.Connection(database)

    def close() -> None:
        connection.close()
        database.close()

    return connection, close


def _write_table(connection: Any, label: str, props: dict[str, str], path: Path) -> int:
    """Writes one table's rows; returns how many."""
    if ";" in label:
        raise NeptuneCsvError(f"table {label!r}: Neptune splits a :LABEL value on ';'")
    names = [STORE_KEY] + sorted(p for p in props if p != STORE_KEY)
    header = [":ID", ":LABEL"]
    formats = []
    for name in names:
        store_type = props[name]
        prop = NEPTUNE_KEY_PROPERTY if name == STORE_KEY else name
        if _FORBIDDEN_IN_NAME.search(prop) or not prop:
            raise NeptuneCsvError(f"table {label!r} property {name!r}: Neptune's CSV header allows no space, "
                                  "comma, colon, carriage return or newline in a property name")
        neptune_type = "String" if store_type.endswith("[]") else _NEPTUNE_TYPE.get(store_type)
        if neptune_type is None:
            raise NeptuneCsvError(f"table {label!r} property {name!r}: store type {store_type} has no "
                                  "Neptune CSV type")
        header.append(f"{prop}:{neptune_type}")
        formats.append(_formatter(store_type, NEPTUNE_VECTOR_SEPARATOR, f"table {label!r} property {name!r}"))
    check_header(header, "node")
    query = (f"MATCH (n:{quote(label)}) RETURN " + ", ".join(f"n.{quote(p)} AS c{i}" for i, p in enumerate(names)))
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(header)
        for row in _rows(connection, query, {}):
            writer.writerow([neptune_id(label, row[0]), label]
                            + [fmt(value, count) for fmt, value in zip(formats, row)])
            count += 1
    return count


def _rows(connection: Any, query: str, parameters: dict[str, Any]) -> Iterator[list[Any]]:
    """Every row of a query, fetched in batches (a 10M-row table is never one Python list)."""
    result = connection.execute(query, parameters)
    try:
        while result.has_next():
            yield from result.get_n(_ROWS_PER_BATCH)
    finally:
        result.close()


def _formatter(store_type: str, separator: str, where: str) -> Callable[[Any, int], str]:
    """A function (value, row) -> CSV text for one column."""
    if store_type.endswith("[]"):
        item = _scalar_formatter(store_type[:-2], where)

        def vector(value: Any, row: int) -> str:
            if value is None:
                return ""
            if not value:
                raise NeptuneCsvError(f"{where} row {row}: an empty list reads back from Neptune as null")
            texts = [item(v, row) for v in value]
            for text in texts:
                if separator in text or not text:
                    raise NeptuneCsvError(f"{where} row {row}: list item {text[:40]!r} is empty or holds "
                                          f"the separator {separator!r}")
            return separator.join(texts)

        return vector
    return _scalar_formatter(store_type, where)


def _scalar_formatter(store_type: str, where: str) -> Callable[[Any, int], str]:
    def text(value: Any, row: int) -> str:
        if value is None:
            raise NeptuneCsvError(f"{where} row {row}: a list item is null")
        if store_type in ("DOUBLE", "FLOAT"):
            number = float(value)
            if not math.isfinite(number):
                raise NeptuneCsvError(f"{where} row {row}: {number} has no JSON form in Neptune's answers")
            return repr(number)
        if store_type == "BOOLEAN":
            return "true" if value else "false"
        return str(value)

    def scalar(value: Any, row: int) -> str:
        if value is None:
            return ""
        if value == "" and store_type == "STRING":
            raise NeptuneCsvError(f"{where} row {row}: an empty string reads back from Neptune as null")
        return text(value, row)

    return scalar


@dataclass(frozen=True)
class NodeFile:
    """A Neptune node file read back.

    Attributes:
        label: the one label of its rows.
        columns: the header's property columns (system columns left out).
        ids: each row's ``:ID``.
        values: property name -> typed values (``None`` where the field was empty).
    """

    label: str
    columns: tuple[Column, ...]
    ids: list[str]
    values: dict[str, list[Any]]


def read_node_file(path: str | Path) -> NodeFile:
    """Reads a node file with Neptune's typing (``Long`` -> int, ``Double`` -> float...).

    Raises:
        NeptuneCsvError: a header outside the grammar, rows of several labels, or a value that
            does not parse as its column's type.
    """
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        columns = check_header(next(reader), "node")
        props = [c for c in columns if not c.is_system]
        where = {c.name: i for i, c in enumerate(columns)}
        ids: list[str] = []
        values: dict[str, list[Any]] = {c.name: [] for c in props}
        labels: set[str] = set()
        for line, cells in enumerate(reader, start=2):
            if len(cells) != len(columns):
                raise NeptuneCsvError(f"{Path(path).name} line {line}: {len(cells)} fields, header has {len(columns)}")
            ids.append(cells[where[":ID"]])
            labels.add(cells[where[":LABEL"]] if ":LABEL" in where else "vertex")
            for column in props:
                values[column.name].append(_parse(cells[where[column.name]], column, path, line))
    if len(labels) > 1:
        raise NeptuneCsvError(f"{Path(path).name}: rows of several labels ({sorted(labels)[:3]}...)")
    return NodeFile(label=labels.pop() if labels else "vertex", columns=tuple(props), ids=ids, values=values)


def _parse(text: str, column: Column, path: str | Path, line: int) -> Any:
    if text == "":
        return None
    kind = (column.type or "string").lower()
    try:
        if column.array:
            raise NeptuneCsvError(f"{Path(path).name}: array column {column.name} (this reader keeps one value)")
        if kind in ("long", "int", "short", "byte"):
            return int(text)
        if kind in ("double", "float"):
            return float(text)
        if kind in ("bool", "boolean"):
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        return text
    except ValueError:
        raise NeptuneCsvError(f"{Path(path).name} line {line} column {column.name}: {text[:40]!r} is not a "
                              f"{column.type}") from None
