"""`gs-build-mar`: GraphStorm artifacts -> a self-contained TorchServe model archive.

Flag names follow GraphStorm's `launch_realtime_endpoint.py` where they overlap
(`--restore-model-path`, `--model-yaml-config-file`, `--graph-json-config-file`,
`--infer-task-type`, `--model-name`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from handler.contract.limits import RequestLimits
from handler.contract.lm_resolution import parse_lm_mapping
from handler.contract.names import ARCHIVE_STORE_DIR
from mar_builder import graph_store, lm_files, model_config, staging
from mar_builder.archiver import ArchiverError, run_archiver
from mar_builder.artifact_args import add_artifact_args
from mar_builder.validate import ArtifactMismatchError, check_artifacts


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of gs-build-mar."""
    p = argparse.ArgumentParser(
        prog="gs-build-mar",
        description="Package a GraphStorm model as a self-contained TorchServe .mar.",
    )
    add_artifact_args(p)
    p.add_argument("--model-name", required=True, help="TorchServe model name (and .mar name)")
    p.add_argument("--model-version", default="1.0")
    p.add_argument("--export-path", type=Path, required=True, help="folder for NAME.mar")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-batch-delay", type=int, default=10, help="milliseconds")
    p.add_argument("--min-workers", type=int, default=1)
    p.add_argument("--max-workers", type=int, default=None, help="default: --min-workers")
    p.add_argument("--response-timeout", type=int, default=60, help="seconds per batch")
    p.add_argument("--http-status", action="store_true",
                   help="answer with the envelope's status_code as HTTP status "
                        "(default: HTTP 200, status in the body, as GraphStorm)")
    p.add_argument("--lm-model", action="append", default=[], metavar="NAME=DIR",
                   help="copy the language model NAME (as the artifacts name it) from DIR into the "
                        "archive; repeatable. LMs not given are taken from the working directory or "
                        "the local Hugging Face cache; the server never downloads them")
    p.add_argument("--torch-threads", type=int, default=None,
                   help="torch intra-op threads per worker (default: the handler's, 1; "
                        "see docs/performance.md)")
    p.add_argument("--heap-retain-mb", type=int, default=None,
                   help="freed C heap (MiB) a worker keeps for its next request (default: the "
                        "handler's, 64; 0: glibc's own policy; see docs/architecture.md)")
    p.add_argument("--graph-store", default=None, metavar="PATH|URI",
                   help="graph store (gs-load-graph's PATH, or a store URI) from which the handler "
                        "completes requests that carry targets and no graph")
    p.add_argument("--embed-graph-store", action="store_true",
                   help="copy the embedded store at --graph-store into the archive (an endpoint then "
                        "needs no database)")
    limits = RequestLimits()
    p.add_argument("--max-request-bytes", type=int, default=limits.max_request_bytes,
                   help="larger bodies get a 413 envelope (keep <= TorchServe's max_request_size)")
    p.add_argument("--max-nodes", type=int, default=limits.max_nodes,
                   help="payloads with more graph nodes get a 413 envelope")
    p.add_argument("--max-edges", type=int, default=limits.max_edges,
                   help="payloads with more graph edges get a 413 envelope")
    p.add_argument("--max-targets", type=int, default=limits.max_targets,
                   help="payloads with more targets get a 413 envelope")
    return p


def _store_setting(location: str | None, embed: bool) -> str | None:
    """The handler option naming the store: the archive folder, an absolute path, or the URI."""
    if embed:
        if location is None or "://" in location:
            raise ValueError("--embed-graph-store needs --graph-store PATH (an embedded store, not a URI)")
        return ARCHIVE_STORE_DIR
    if location is None or "://" in location:
        return location
    return str(Path(location).resolve())


def _model_file(restore_model_path: Path) -> Path:
    """model.bin inside ``restore_model_path`` (GraphStorm's layout), or the path itself."""
    candidate = restore_model_path / staging.MODEL_FILE if restore_model_path.is_dir() else restore_model_path
    if not candidate.is_file():
        raise FileNotFoundError(f"no {staging.MODEL_FILE} at {candidate}")
    return candidate


def build_mar(args: argparse.Namespace) -> Path:
    """Validates, stages and archives; returns the .mar path. Raises on any problem."""
    settings = model_config.ServingSettings(
        batch_size=args.batch_size,
        max_batch_delay_ms=args.max_batch_delay,
        min_workers=args.min_workers,
        max_workers=args.max_workers if args.max_workers is not None else args.min_workers,
        response_timeout_s=args.response_timeout,
        http_status=args.http_status,
        limits=RequestLimits(max_request_bytes=args.max_request_bytes, max_nodes=args.max_nodes,
                             max_edges=args.max_edges, max_targets=args.max_targets),
        torch_threads=args.torch_threads,
        heap_retain_mb=args.heap_retain_mb,
        graph_store=_store_setting(args.graph_store, args.embed_graph_store),
        graph_store_in_archive=args.embed_graph_store,
    )
    settings.validate()
    model_file = _model_file(args.restore_model_path)
    for flag, path in (("--model-yaml-config-file", args.model_yaml_config_file),
                       ("--graph-json-config-file", args.graph_json_config_file)):
        if not path.is_file():
            raise FileNotFoundError(f"{flag}: no file at {path}")
    with tempfile.TemporaryDirectory(prefix="gs-mar-stage-") as tmp:
        staged = staging.stage(Path(tmp) / "root", model_file, args.model_yaml_config_file,
                               args.graph_json_config_file)
        lm_files.stage_lm_models(staged.artifacts_dir, parse_lm_mapping(args.lm_model),
                                 lm_files.required_lm_names(args.model_yaml_config_file,
                                                            args.graph_json_config_file))
        check_artifacts(staged.artifacts_dir, args.infer_task_type)
        if args.graph_store is not None:
            graph_store.check_store(args.graph_store, staged.artifacts_dir)
            if args.embed_graph_store:  # never a URI: refused by _store_setting
                graph_store.embed(Path(args.graph_store), staged.extra_files_dir / ARCHIVE_STORE_DIR)
        config_file = model_config.write(settings, Path(tmp) / "model-config.yaml")
        return run_archiver(
            model_name=args.model_name,
            version=args.model_version,
            handler_file=staged.handler_file,
            extra_files_dir=staged.extra_files_dir,
            config_file=config_file,
            export_path=args.export_path,
        )


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the process exit status (0 ok, 2 bad input, 1 archiver)."""
    args = build_parser().parse_args(argv)
    try:
        mar = build_mar(args)
    except (ValueError, FileNotFoundError, ArtifactMismatchError) as err:
        print(f"gs-build-mar: error: {err}", file=sys.stderr)
        return 2
    except ArchiverError as err:
        print(f"gs-build-mar: error: {err}", file=sys.stderr)
        return 1
    print(mar)
    return 0


if __name__ == "__main__":
    sys.exit(main())
