"""The graph-store commands: ``gs-load-graph`` and ``gs-build-payload``.

    gs-load-graph --graph-json-config-file data_transform_new.json --input-dir DIR --store PATH
                  [--neptune-csv OUT_DIR]   (also: the same tables as Neptune bulk-load CSV)
    gs-build-payload --model-dir DIR --store PATH --targets JSON|@file [--fanout F] [--seed N]

Torch-free: a client installs them with the deploy tools' dependencies plus ``.[store]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from handler.contract.arrow_payload import ArrowConversionError, payload_to_arrow
from handler.contract.graph_schema import GraphSchema
from handler.graph_store.extract import StoreMismatchError
from handler.graph_store.fanout import FanoutError
from handler.graph_store.loader import LoadError, load_graph
from handler.graph_store.neptune_csv import export_store
from handler.graph_store.opening import open_graph_store
from handler.graph_store.payload import PayloadBuilder, dumps
from handler.graph_store.runner import GraphStoreError


def load_main(argv: Sequence[str] | None = None) -> int:
    """``gs-load-graph``: loads GConstruct's input tables into a new embedded store."""
    parser = argparse.ArgumentParser(prog="gs-load-graph", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graph-json-config-file", required=True,
                        help="data_transform_new.json (or the GConstruct config) naming the input tables")
    parser.add_argument("--input-dir", required=True, help="folder holding the config's files (by file name)")
    parser.add_argument("--store", default=None,
                        help="store directory to create (required unless --neptune-csv is given)")
    parser.add_argument("--neptune-csv", default=None, metavar="OUT_DIR",
                        help="also write the store's tables as Amazon Neptune openCypher bulk-load CSV files "
                             "(docs/graph_store.md, 'Neptune')")
    parser.add_argument("--learnable-embeddings", default=None, metavar="DIR",
                        help="folder of <ntype>_gs_learnable_embedding.json (raw id -> vector) to store")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if args.store is None and args.neptune_csv is None:
        parser.error("give --store, --neptune-csv or both")
    say = None if args.quiet else lambda line: print(line, file=sys.stderr)
    try:
        with tempfile.TemporaryDirectory(prefix="gs-load-graph-") as scratch:
            schema = GraphSchema.from_file(args.graph_json_config_file)
            report = load_graph(schema, args.input_dir, args.store or Path(scratch) / "store",
                                learnable_dir=args.learnable_embeddings, progress=say)
            if args.neptune_csv is not None:
                export_store(report.store, args.neptune_csv, progress=say)
    except (LoadError, ValueError, OSError, KeyError, GraphStoreError) as exc:  # NeptuneCsvError: ValueError
        print(f"gs-load-graph: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"store": str(report.store) if args.store else None, "neptune_csv": args.neptune_csv,
                      "nodes": report.num_nodes, "edges": report.num_edges, "seconds": round(report.seconds, 2)}))
    return 0


def build_payload_main(argv: Sequence[str] | None = None) -> int:
    """``gs-build-payload``: prints the payload for target ids read from a store."""
    parser = argparse.ArgumentParser(prog="gs-build-payload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True, help="folder with the model's artifacts")
    parser.add_argument("--store", required=True, help="store directory (gs-load-graph) or store URI")
    parser.add_argument("--targets", required=True,
                        help='JSON list of targets (or {"targets": [...]}), or @file holding it')
    parser.add_argument("--fanout", default=None,
                        help="full | K1,K2 | per relation (src/rel/dst:K@...,...); default: the model's "
                             "eval_fanout, else fanout")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (same seed, same bytes)")
    parser.add_argument("--format", choices=("json", "arrow"), default="json",
                        help="json (default): the gs-realtime-v0.1 document on stdout; arrow: the same "
                             "request as our Arrow content type (docs/schema/gs-realtime-arrow.md), "
                             "bytes on stdout")
    args = parser.parse_args(argv)
    try:
        targets = _targets(args.targets)
    except (OSError, ValueError) as exc:
        print(f"gs-build-payload: --targets: {exc}", file=sys.stderr)
        return 2
    try:
        runner = open_graph_store(args.store)
    except (GraphStoreError, ValueError) as exc:
        print(f"gs-build-payload: {exc}", file=sys.stderr)
        return 3
    try:
        builder = PayloadBuilder.from_model_dir(runner, args.model_dir)
        payload = builder.payload(targets, args.fanout, args.seed)
    except KeyError as exc:
        missing = ", ".join(f"{t}:{i!r}"[:200] for t, i in exc.args[0][:10])
        print(f"gs-build-payload: target node(s) not in the store: {missing}", file=sys.stderr)
        return 4
    except (FanoutError, StoreMismatchError, ValueError, OSError) as exc:
        print(f"gs-build-payload: {exc}", file=sys.stderr)
        return 2
    except GraphStoreError as exc:
        print(f"gs-build-payload: {exc}", file=sys.stderr)
        return 3
    finally:
        runner.close()
    if args.format == "arrow":
        try:
            body = payload_to_arrow(payload)
        except ArrowConversionError as exc:
            print(f"gs-build-payload: --format arrow: {exc}", file=sys.stderr)
            return 2
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
        return 0
    sys.stdout.write(dumps(payload) + "\n")
    return 0


def _targets(text: str) -> list[Any]:
    if text.startswith("@"):
        with open(text[1:], encoding="utf-8") as f:
            text = f.read()
    value = json.loads(text)
    if isinstance(value, dict) and "targets" in value:
        value = value["targets"]
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValueError("expected a non-empty JSON list of target objects")
    return value
