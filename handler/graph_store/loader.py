"""gs-load-graph: GConstruct's input tables into an embedded Ladybug store.

Reads the tables ``data_transform_new.json`` names (each found by its file name under the
input directory), checks them against the config, lays the edges out so that each node's
in-edges (and, for ``add_reverse_edges``, out-edges) are one contiguous key range
(``layout.py``), and bulk-loads Parquet with ``COPY FROM``. The store is built beside its
final path and renamed into place only when complete: a failed load leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handler.contract.graph_schema import LEARNABLE_EMBEDDING_KEY, GraphSchema, InputTable
from handler.graph_store.ladybug_store import DATABASE_FILE, WRITER_MAX_DB_BYTES
from handler.graph_store.layout import (
    DST_PROPERTY,
    FORWARD_KEY_PROPERTY,
    META_KEY,
    META_TABLE,
    SRC_PROPERTY,
    StoreLayout,
    quote,
)

KEY_PROPERTY = "~id"
# File name of a node type's learnable embeddings under --learnable-embeddings DIR
# (raw node id -> vector, the layout GraphStorm's fixture ships in extra/).
LEARNABLE_FILE_SUFFIX = "_" + LEARNABLE_EMBEDDING_KEY + ".json"

Progress = Callable[[str], None]


class LoadError(ValueError):
    """A config or input table that does not fit; the message names the table and column."""


@dataclass(frozen=True)
class LoadReport:
    """What a load wrote.

    Attributes:
        store: the store directory.
        num_nodes: node type -> rows.
        num_edges: relation label -> rows.
        seconds: wall time of the whole load.
    """

    store: Path
    num_nodes: dict[str, int]
    num_edges: dict[str, int]
    seconds: float


def load_graph(
    schema: GraphSchema,
    input_dir: str | Path,
    store: str | Path,
    *,
    learnable_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> LoadReport:
    """Loads a graph's input tables into a new store directory.

    Args:
        schema: the graph schema with its input blocks (``GraphSchema.from_file``).
        input_dir: where the config's files are found (by file name).
        store: the store directory to create (must not exist).
        learnable_dir: a folder of ``<ntype>_gs_learnable_embedding.json`` files to store beside
            the graph (learnable embeddings of featureless node types).
        progress: called with one line per step (``None``: silent).

    Returns:
        Counts and time.

    Raises:
        LoadError: the config or a table does not fit (message names table and column), or
            the store already exists.
    """
    import pyarrow as pa

    say = progress or (lambda _line: None)
    started = time.perf_counter()
    store = Path(store)
    if store.exists():
        raise LoadError(f"store {store} already exists; remove it or choose another path")
    learnable = _read_learnable(Path(learnable_dir)) if learnable_dir else {}
    layout = StoreLayout.from_schema(schema, frozenset(learnable))
    nodes = _read_nodes(schema, Path(input_dir), say)
    edges = {t.etype: _read_edges(schema, t.etype, Path(input_dir), say) for t in layout.tables}
    for ntype in schema.ntypes:  # endpoint-only node types: their ids come from the edges
        if ntype not in nodes:
            ends = [tbl.column(column) for et, tbl in edges.items()
                    for column, end in ((SRC_PROPERTY, et[0]), (DST_PROPERTY, et[2])) if end == ntype]
            ids = _unique(pa.chunked_array([c for col in ends for c in col.chunks], pa.string()))
            nodes[ntype] = pa.table({KEY_PROPERTY: ids})
    extra_columns: dict[str, dict[str, Any]] = {nt: {} for nt in nodes}
    edge_tables: dict[str, Any] = {}
    for table in layout.tables:
        src_t, _, dst_t = table.etype
        tbl = edges[table.etype]
        block = next(b for b in schema.inputs if b.relation == table.etype)
        _index_of(nodes[src_t], tbl, SRC_PROPERTY, block, src_t)  # refuses unknown sources
        dst_idx = _index_of(nodes[dst_t], tbl, DST_PROPERTY, block, dst_t)
        tbl, deg, base = _keyed(tbl, dst_idx, SRC_PROPERTY, nodes[dst_t].num_rows)
        extra_columns[dst_t][f"gs_in_deg_{table.index}"] = deg
        extra_columns[dst_t][f"gs_in_base_{table.index}"] = base
        edge_tables[table.label] = tbl
        if layout.add_reverse_edges:
            src_idx = _index_of(nodes[src_t], tbl, SRC_PROPERTY, block, src_t)
            out, deg, base = _keyed(tbl, src_idx, DST_PROPERTY, nodes[src_t].num_rows)
            extra_columns[src_t][f"gs_out_deg_{table.index}"] = deg
            extra_columns[src_t][f"gs_out_base_{table.index}"] = base
            edge_tables[table.label + "#out"] = out
    for ntype, vectors in learnable.items():
        if ntype not in nodes:
            raise LoadError(f"learnable embeddings for node type {ntype!r}, which the graph lacks")
        ids = nodes[ntype].column(KEY_PROPERTY).to_pylist()
        extra_columns[ntype][LEARNABLE_EMBEDDING_KEY] = pa.array(
            [vectors.get(i) for i in ids], pa.list_(pa.float64()))
    node_tables = {}
    for ntype, tbl in nodes.items():
        for seg in layout.node_segments(ntype):
            for name in (seg.deg_property, seg.base_property):
                if name not in extra_columns[ntype]:  # a relation with no rows
                    extra_columns[ntype][name] = pa.array([0] * tbl.num_rows, pa.int64())
        for name in [s.deg_property for s in layout.node_segments(ntype)] + [
                s.base_property for s in layout.node_segments(ntype)] + (
                [LEARNABLE_EMBEDDING_KEY] if ntype in learnable else []):
            tbl = tbl.append_column(name, extra_columns[ntype][name])
        node_tables[ntype] = tbl
    partial = store.parent / f".{store.name}.partial-{os.getpid()}"
    try:
        _write_store(partial, layout, node_tables, edge_tables, say)
        os.replace(partial, store)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    seconds = time.perf_counter() - started
    say(f"store {store} written in {seconds:.1f} s")
    return LoadReport(
        store=store,
        num_nodes={nt: t.num_rows for nt, t in node_tables.items()},
        num_edges={label: t.num_rows for label, t in edge_tables.items() if not label.endswith("#out")},
        seconds=seconds,
    )


def _read_learnable(folder: Path) -> dict[str, dict[str, list[float]]]:
    """``<ntype>_gs_learnable_embedding.json`` files: node type -> raw id -> vector."""
    if not folder.is_dir():
        raise LoadError(f"learnable-embedding folder {folder} does not exist")
    found = {}
    for path in sorted(folder.glob("*" + LEARNABLE_FILE_SUFFIX)):
        with open(path, encoding="utf-8") as f:
            table = json.load(f)
        if not isinstance(table, dict):
            raise LoadError(f"{path.name}: expected a JSON object raw node id -> vector")
        found[path.name[: -len(LEARNABLE_FILE_SUFFIX)]] = {str(k): v for k, v in table.items()}
    if not found:
        raise LoadError(f"no *{LEARNABLE_FILE_SUFFIX} file in {folder}")
    return found


def _read_nodes(schema: GraphSchema, input_dir: Path, say: Progress) -> dict[str, Any]:
    """Node type -> table of ``~id`` + features (raw values, property names = feature names)."""
    nodes: dict[str, Any] = {}
    for block in schema.inputs:
        if block.relation is not None:
            continue
        if block.type_name in nodes:
            raise LoadError(f"node type {block.type_name!r} has several node blocks; "
                            "merge them into one table")
        tbl = _read_block(block, input_dir, say)
        ids = _string_column(tbl, block.id_columns[0], block)
        columns = {KEY_PROPERTY: ids}
        columns.update(_feature_columns(tbl, block))
        import pyarrow as pa
        import pyarrow.compute as pc

        table = pa.table(columns)
        if ids.null_count:
            raise LoadError(f"table {_files(block)} column {block.id_columns[0]!r}: null node id")
        if pc.count_distinct(ids).as_py() != len(ids):
            raise LoadError(f"table {_files(block)} column {block.id_columns[0]!r}: duplicate node ids")
        nodes[block.type_name] = table
    return nodes


def _read_edges(schema: GraphSchema, etype: tuple[str, str, str], input_dir: Path, say: Progress) -> Any:
    """One relation's edges: ``gs_src``, ``gs_dst`` (raw ids) and edge features, all blocks."""
    import pyarrow as pa

    parts = []
    for block in schema.inputs:
        if block.relation != etype:
            continue
        tbl = _read_block(block, input_dir, say)
        if len(block.id_columns) != 2:
            raise LoadError(f"edge block {block.type_name!r} needs source_id_col and dest_id_col")
        columns = {
            SRC_PROPERTY: _string_column(tbl, block.id_columns[0], block),
            DST_PROPERTY: _string_column(tbl, block.id_columns[1], block),
        }
        columns.update(_feature_columns(tbl, block))
        part = pa.table(columns)
        for name in (SRC_PROPERTY, DST_PROPERTY):
            if part.column(name).null_count:
                col = block.id_columns[0 if name == SRC_PROPERTY else 1]
                raise LoadError(f"table {_files(block)} column {col!r}: null node id in an edge")
        parts.append(part)
    if len(parts) > 1 and any(p.schema != parts[0].schema for p in parts):
        raise LoadError(f"relation {','.join(etype)}: its edge blocks have different feature columns")
    return pa.concat_tables(parts)


def _read_block(block: InputTable, input_dir: Path, say: Progress) -> Any:
    """Every file of a block as one Arrow table."""
    import pyarrow as pa

    fmt = str(block.format.get("name", "parquet")).lower()
    if fmt not in ("parquet", "csv"):
        raise LoadError(f"{block.type_name}: input format {fmt!r} is not supported (parquet, csv)")
    paths: list[Path] = []
    for entry in block.files:
        name = Path(entry).name
        matches = sorted(input_dir.glob(name)) if any(c in name for c in "*?[") else [input_dir / name]
        if not matches or not all(p.is_file() for p in matches):
            raise LoadError(f"{block.type_name}: input file {name!r} (config entry {entry!r}) "
                            f"not found under {input_dir}")
        paths.extend(matches)
    started = time.perf_counter()
    tables = []
    for path in paths:
        try:
            if fmt == "parquet":
                import pyarrow.parquet as pq

                tables.append(pq.read_table(path))
            else:
                import pyarrow.csv as pcsv

                sep = block.format.get("separator", ",")
                tables.append(pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter=sep)))
        except (pa.ArrowException, OSError) as exc:
            raise LoadError(f"{block.type_name}: cannot read {path.name}: {exc}") from exc
    try:
        table = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
    except pa.ArrowException as exc:
        raise LoadError(f"{block.type_name}: files {_files(block)} have different columns: {exc}") from exc
    say(f"read {block.type_name}: {table.num_rows} rows from {len(paths)} file(s) "
        f"in {time.perf_counter() - started:.1f} s")
    return table


def _files(block: InputTable) -> str:
    return ", ".join(Path(f).name for f in block.files)


def _column(tbl: Any, name: str, block: InputTable) -> Any:
    if name not in tbl.column_names:
        raise LoadError(f"table {_files(block)} ({block.type_name}) has no column {name!r} "
                        f"(columns: {', '.join(tbl.column_names[:20])})")
    return tbl.column(name)


def _string_column(tbl: Any, name: str, block: InputTable) -> Any:
    """An id column as strings (GraphStorm payload ids are strings)."""
    import pyarrow as pa

    col = _column(tbl, name, block)
    try:
        return col.cast(pa.string()).combine_chunks()
    except pa.ArrowException as exc:
        raise LoadError(f"table {_files(block)} column {name!r}: ids must be strings or integers "
                        f"({col.type})") from exc


def _feature_columns(tbl: Any, block: InputTable) -> dict[str, Any]:
    """Feature name -> raw column, cast to a type the store keeps exactly."""
    out = {}
    for spec in block.features:
        if len(spec.columns) != 1:
            raise LoadError(f"table {_files(block)} feature {spec.name!r}: multi-column features "
                            f"({', '.join(spec.columns)}) are not supported by the graph store")
        col = _column(tbl, spec.columns[0], block)
        out[spec.name] = _storable(col, f"table {_files(block)} column {spec.columns[0]!r}")
    return out


def _storable(col: Any, where: str) -> Any:
    """The column cast to the Arrow type its Ladybug type reads back unchanged."""
    target = _storable_type(col.type)
    if target is None:
        raise LoadError(f"{where}: type {col.type} cannot be stored (numbers, strings, booleans "
                        "and lists of them can)")
    return col.cast(target).combine_chunks() if target != col.type else col.combine_chunks()


def _storable_type(t: Any) -> Any:
    import pyarrow as pa
    import pyarrow.types as pt

    if pt.is_string(t) or pt.is_large_string(t) or pt.is_null(t):
        return pa.string()
    if pt.is_boolean(t):
        return pa.bool_()
    if pt.is_integer(t):
        return pa.int64()
    if pt.is_float32(t) or pt.is_float16(t):
        return pa.float32()
    if pt.is_float64(t):
        return pa.float64()
    if pt.is_list(t) or pt.is_large_list(t) or pt.is_fixed_size_list(t):
        inner = _storable_type(t.value_type)
        if inner is None or pt.is_list(inner):
            return None
        return pa.list_(inner)
    return None


_DDL_TYPES = {"string": "STRING", "bool": "BOOLEAN", "int64": "INT64", "float": "FLOAT", "double": "DOUBLE"}


def _ddl_type(t: Any) -> str:
    import pyarrow.types as pt

    if pt.is_list(t):
        return _ddl_type(t.value_type) + "[]"
    return _DDL_TYPES[str(t)]


def _unique(ids: Any) -> Any:
    import pyarrow.compute as pc

    return pc.unique(ids.combine_chunks())


def _index_of(node_table: Any, edges: Any, column: str, block: InputTable, ntype: str) -> Any:
    """Row index in ``node_table`` of every edge endpoint in ``column``; refuses unknown ids."""
    import pyarrow.compute as pc

    idx = pc.index_in(edges.column(column), value_set=node_table.column(KEY_PROPERTY))
    if idx.null_count:
        missing = pc.filter(edges.column(column), pc.is_null(idx))[0].as_py()
        side, source = ("source", block.id_columns[0]) if column == SRC_PROPERTY else (
            "destination", block.id_columns[1])
        raise LoadError(f"table {_files(block)} column {source!r} (relation {block.type_name}): "
                        f"{idx.null_count} {side} id(s) that are not {ntype} nodes (e.g. {missing[:80]!r})")
    return idx


def _keyed(edges: Any, anchor_idx: Any, tie_column: str, num_anchor: int) -> tuple[Any, Any, Any]:
    """Edges ordered anchor-major (ties: the other endpoint's id, then input order), keyed.

    Args:
        edges: the relation's edges; with a ``gs_fwd`` column when re-keying forward edges
            source-major (its ``~id`` is then replaced).
        anchor_idx: row index of each edge's anchor node (destination for in-edge blocks,
            source for out-edge blocks).
        tie_column: the column of the other endpoint's raw id.
        num_anchor: rows of the anchor node table.

    Returns:
        (edges with ``~id`` = position in that order and ``gs_fwd``, per-anchor-node degree,
        per-anchor-node first key).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if KEY_PROPERTY in edges.column_names:
        edges = edges.drop_columns([KEY_PROPERTY])
    work = edges.append_column("gs_anchor", anchor_idx)
    order = pc.sort_indices(work, sort_keys=[("gs_anchor", "ascending"), (tie_column, "ascending")])
    work = work.take(order)
    anchors = work.column("gs_anchor").combine_chunks()
    counts = pc.value_counts(anchors)
    sizes = counts.field("counts").cast(pa.int64())
    starts = pc.subtract(pc.cumulative_sum(sizes), sizes)
    slot = pc.index_in(pa.array(range(num_anchor), anchors.type), value_set=counts.field("values"))
    deg = pc.fill_null(pc.take(sizes, slot), 0)
    base = pc.fill_null(pc.take(starts, slot), 0)
    keys = pa.array(range(work.num_rows), pa.int64())
    work = work.drop_columns(["gs_anchor"])
    if FORWARD_KEY_PROPERTY not in work.column_names:
        work = work.append_column(FORWARD_KEY_PROPERTY, keys)
    return work.add_column(0, KEY_PROPERTY, keys), deg, base


def _write_store(
    folder: Path, layout: StoreLayout, nodes: dict[str, Any], edges: dict[str, Any], say: Progress,
) -> None:
    """Creates the database in ``folder`` and bulk-loads every table."""
    import ladybug
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    work = folder / "load"
    work.mkdir()
    database = ladybug.Database(str(folder / DATABASE_FILE), max_db_size=WRITER_MAX_DB_BYTES)
    conn = ladybug.Connection(database)
    try:
        tables: list[tuple[str, Any]] = [(nt, t) for nt, t in nodes.items()] + list(edges.items())
        types = {label: {name: _ddl_type(tbl.schema.field(name).type) for name in tbl.column_names}
                 for label, tbl in tables}
        record = layout.to_json(types)
        tables.append((META_TABLE, pa.table({KEY_PROPERTY: [META_KEY], "json": [record]})))
        for i, (label, tbl) in enumerate(tables):
            started = time.perf_counter()
            key_type = "INT64" if pa.types.is_integer(tbl.schema.field(KEY_PROPERTY).type) else "STRING"
            columns = [f"{quote(KEY_PROPERTY)} {key_type} PRIMARY KEY"] + [
                f"{quote(name)} {_ddl_type(tbl.schema.field(name).type)}"
                for name in tbl.column_names if name != KEY_PROPERTY]
            conn.execute(f"CREATE NODE TABLE {quote(label)} ({', '.join(columns)})")
            if tbl.num_rows:
                path = work / f"t{i}.parquet"
                pq.write_table(tbl, path)
                conn.execute(f"COPY {quote(label)} FROM '{path.as_posix()}'")
                path.unlink()
            say(f"loaded {label}: {tbl.num_rows} rows in {time.perf_counter() - started:.1f} s")
    except RuntimeError as exc:
        raise LoadError(f"the store refused the load: {str(exc)[:400]}") from exc
    finally:
        conn.close()
        database.close()
        shutil.rmtree(work, ignore_errors=True)


