"""`gs-predict`: the endpoint's answers to payload files, without a server.

Loads a model exactly as a TorchServe worker does (``RealtimePredictor.from_artifacts``) from
GraphStorm's raw artifacts (``--model-dir``) or from a ``.mar`` built by gs-build-mar
(``--mar``: unpacked to a temporary folder; its ``artifacts/`` folder is loaded, language models
from ``artifacts/lm/<NAME>/`` as the handler finds them, request limits from its
model-config.yaml), then answers each payload file on its own and prints the envelope exactly as
the endpoint's body would be, one JSON document per line, in the order given. Users test their
payload builders and model versions in CI with it before deploying. ``--as-arrow`` sends each
JSON payload as our Arrow request format instead (``handler.contract.arrow_payload``; its
``request_uid`` is then that of the Arrow body). ``--accept-arrow`` asks for our Arrow response
(``Accept: application/vnd.apache.arrow.stream``, ``handler.contract.arrow_response``) and prints
each one converted back to its JSON envelope, which must be the very line the JSON answer is.

Exit status: 0 when every envelope's ``status_code`` is 200; 1 when any is not (all are still
printed); 2 when the model cannot be loaded or a payload file cannot be read (nothing printed
for the payloads).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, ARTIFACTS_DIR, JSON_CONTENT_TYPE

# The archive's model-config.yaml (TorchServe batching plus the handler's options).
_MAR_MANIFEST = "MAR-INF/MANIFEST.json"
_DEFAULT_MODEL_CONFIG = "model-config.yaml"

EPILOG = """exit status: 0 every envelope has status_code 200; 1 some envelope does not (all are
printed); 2 the model cannot be loaded or a payload file cannot be read.
Language models are read from the model (a .mar's artifacts/lm/NAME, lm/NAME beside raw
artifacts), --lm-model or GS_LM_MODELS; never downloaded."""


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface of gs-predict."""
    p = argparse.ArgumentParser(
        prog="gs-predict",
        description="Print the endpoint's response envelope (one JSON line each) for payload files, "
                    "without a server.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    model = p.add_mutually_exclusive_group(required=True)
    model.add_argument("--model-dir", type=Path,
                       help="GraphStorm's raw artifacts (model.bin, training YAML, data_transform_new.json)")
    model.add_argument("--mar", type=Path, help="a model archive built by gs-build-mar")
    p.add_argument("payloads", nargs="+", metavar="PAYLOAD.json",
                   help="request bodies, sent byte for byte ('-' reads standard input)")
    p.add_argument("--content-type", default=JSON_CONTENT_TYPE,
                   help=f"the requests' Content-Type (default {JSON_CONTENT_TYPE})")
    p.add_argument("--as-arrow", action="store_true",
                   help=f"convert each JSON payload to the Arrow request format and send it as "
                        f"{ARROW_STREAM_CONTENT_TYPE} (a payload with no exact Arrow form is an error)")
    p.add_argument("--accept-arrow", action="store_true",
                   help=f"ask for the Arrow response (Accept: {ARROW_STREAM_CONTENT_TYPE}) and print it "
                        "converted back to its JSON envelope (the same line as the JSON answer)")
    p.add_argument("--lm-model", action="append", default=[], metavar="NAME=DIR",
                   help="language model NAME (as the artifacts name it) from DIR; repeatable")
    p.add_argument("--graph-store", default=None, metavar="PATH|URI",
                   help="graph store completing targets-only payloads (default: the one a --mar names)")
    return p


def _read_payload(name: str) -> bytes:
    """A payload's exact bytes ('-': standard input)."""
    return sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()


def _mar_handler_options(root: Path) -> dict:
    """The ``handler`` options of an unpacked archive's model-config.yaml (empty when none)."""
    manifest_file = root / _MAR_MANIFEST
    manifest = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    config_file = root / ((manifest.get("model") or {}).get("configFile") or _DEFAULT_MODEL_CONFIG)
    config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else None
    options = config.get("handler") if isinstance(config, dict) else None
    return options if isinstance(options, dict) else {}


def predict(model_dir: Path, bodies: list[bytes], content_type: str = JSON_CONTENT_TYPE,
            handler_options: dict | None = None, lm_models: dict[str, Path] | None = None,
            accept: str | None = None) -> list[bytes]:
    """The endpoint's answer to each body, each answered on its own, as its JSON envelope.

    Args:
        model_dir: the artifacts folder (raw artifacts, or a .mar's ``artifacts/``).
        bodies: exact request bodies.
        content_type: the requests' Content-Type.
        handler_options: model-config.yaml ``handler`` options (``ServingOptions``; an archive's
            embedded graph store lies beside ``model_dir``).
        lm_models: language model NAME -> DIR.
        accept: the requests' Accept header (None: absent); an Arrow answer it asks for is
            converted back to its JSON envelope (``arrow_response_to_envelope``).

    Returns:
        One serialized JSON envelope per body, in order.
    """
    # Imported here: torch loads only once the arguments are valid.
    from handler.contract.arrow_response import arrow_response_to_envelope
    from handler.contract.envelope import dumps
    from handler.contract.settings import ServingOptions
    from handler.serving.expand import store_location
    from handler.serving.predictor import RawRequest, RealtimePredictor

    options = ServingOptions.from_sources(handler_options)
    predictor = RealtimePredictor.from_artifacts(model_dir, device="cpu", lm_models=lm_models, options=options,
                                                 graph_store=store_location(options, model_dir.parent))
    envelopes = []
    for body in bodies:
        outcome = predictor.answer([RawRequest(body, content_type, accept)])[0]
        is_arrow = outcome.content_type == ARROW_STREAM_CONTENT_TYPE
        envelopes.append(dumps(arrow_response_to_envelope(outcome.body)) if is_arrow else outcome.body)
    return envelopes


def _status_code(envelope: bytes) -> int | None:
    try:
        return int(json.loads(envelope)["status_code"])
    except (ValueError, KeyError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status (see the module docstring)."""
    args = build_parser().parse_args(argv)
    # As in the container: a language model comes from the model or the flags, never the hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from handler.contract.lm_resolution import parse_lm_mapping

        lm_models = parse_lm_mapping(args.lm_model)
        bodies = [_read_payload(name) for name in args.payloads]
        content_type = args.content_type
        if args.as_arrow:
            from handler.contract.arrow_payload import payload_to_arrow

            bodies = [payload_to_arrow(json.loads(body)) for body in bodies]
            content_type = ARROW_STREAM_CONTENT_TYPE
        with tempfile.TemporaryDirectory(prefix="gs-predict-") as tmp:
            if args.mar is not None:
                with zipfile.ZipFile(args.mar) as archive:
                    archive.extractall(tmp)
                model_dir, options = Path(tmp) / ARTIFACTS_DIR, _mar_handler_options(Path(tmp))
            else:
                model_dir, options = args.model_dir, {}
            if args.graph_store is not None:
                options = {**options, "graph_store": args.graph_store, "graph_store_in_archive": False}
            accept = ARROW_STREAM_CONTENT_TYPE if args.accept_arrow else None
            envelopes = predict(model_dir, bodies, content_type, options, lm_models, accept)
    except Exception as err:  # noqa: BLE001 - any load failure is the user's to read, as one line
        print(f"gs-predict: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    for envelope in envelopes:
        out.write(envelope.rstrip(b"\n") + b"\n")
    out.flush()
    return 0 if all(_status_code(e) == 200 for e in envelopes) else 1


if __name__ == "__main__":
    sys.exit(main())
