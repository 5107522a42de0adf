"""TorchServe adapter: one GraphStorm response envelope per request of a batch.

TorchServe imports this file as the top-level module `torchserve_handler` from the extracted
archive (gs-build-mar copies it to the archive root next to the `handler` package), so it uses
absolute `handler.*` imports and defines exactly one class (TorchServe's entry-point rule).

The request path itself is the core's (`RealtimePredictor.answer`); this file only moves bytes,
headers and metrics. Never raises out of `handle`: one exception there fails every request of
the batch (503).
An unexpected failure answers GraphStorm's generic 500 text; the exception and its stack trace
go to the log with the request_uid, never into a response.
"""

from __future__ import annotations

import logging
import os
import sys
from http import HTTPStatus
from pathlib import Path
from typing import Any

import torch
from ts.torch_handler.base_handler import BaseHandler

from handler.contract.arrow_response import negotiate_response_type
from handler.contract.envelope import request_uid
from handler.contract.errors import InternalError
from handler.contract.names import ARTIFACTS_DIR, JSON_CONTENT_TYPE
from handler.contract.settings import ServingOptions
from handler.serving import emf, serving_metrics
from handler.serving.expand import store_location
from handler.serving.heap import retain_freed_heap
from handler.serving.predictor import RawRequest, RealtimePredictor, RequestOutcome, error_outcome

logger = logging.getLogger(__name__)

EMF_NAMESPACE = "GsTorchServe"
DECODED_BODY = ("TorchServe decoded the request body before the handler saw it, so its exact bytes "
                "are lost; set decode_input_request=false")


class GraphStormHandler(BaseHandler):
    """Hands TorchServe batches to `RealtimePredictor.answer`."""

    def initialize(self, context) -> None:
        """Restores the model from the extracted archive.

        Args:
            context: TorchServe's Context (system_properties: model_dir, gpu_id;
                model_yaml_config: the archive's model-config.yaml).
        """
        # request_uid is the sha256 of the exact body, so the worker must not JSON-decode bodies;
        # the worker reads this variable for every request it receives after this point.
        os.environ["TS_DECODE_INPUT_REQUEST"] = "false"
        _route_warnings_to_stderr()
        props = context.system_properties
        model_dir = Path(props["model_dir"])
        artifacts = model_dir / ARTIFACTS_DIR
        gpu_id = props.get("gpu_id")
        device = f"cuda:{gpu_id}" if torch.cuda.is_available() and gpu_id is not None else "cpu"
        # The handler section and the GS_* environment, read and validated once.
        options = ServingOptions.from_sources((context.model_yaml_config or {}).get("handler"), os.environ)
        # One intra-op thread per worker by default: payload graphs are small, so the ops gain
        # nothing from a second thread, and on a busy machine each parallel op waits for a
        # thread the other workers or the frontend hold (docs/performance.md).
        torch.set_num_threads(options.torch_threads)
        retain_freed_heap(options.heap_retain_mb)
        self.options = options
        self.predictor = RealtimePredictor.from_artifacts(
            artifacts if artifacts.is_dir() else model_dir, device=device, options=options,
            graph_store=store_location(options, model_dir),
        )
        if options.warm_up:
            # Before TorchServe hears the worker is ready: the first request then costs what
            # any other does. A failed warm-up is logged; requests still get their own answers.
            try:
                logger.info("warm-up forward: %.3f s", self.predictor.warm_up())
            except Exception:
                logger.warning("warm-up forward failed", exc_info=True)
        self.model_name = getattr(context, "model_name", None) or model_dir.name
        self.initialized = True
        logger.info("GraphStorm model loaded from %s on %s; %s", model_dir, device, options)

    def handle(self, data: list[dict[str, Any]], context) -> list[bytes]:
        """Answers a batch: one envelope (bytes) per request, in order, each in the format its
        Accept header negotiates (JSON, or our Arrow response).

        Args:
            data: TorchServe's batch, one dict per request (`body` or `data` holds the body).
            context: TorchServe's Context of this batch.

        Returns:
            One serialized envelope per request.
        """
        try:
            outcomes = self._answer(data, context)
        except Exception as exc:  # a bug must cost 500s, not a 503 for the whole batch
            outcomes = [error_outcome(request_uid(_raw_body(r) or b""), exc, "adapter", _response_type(context, idx))
                        for idx, r in enumerate(data)]
        for idx, outcome in enumerate(outcomes):
            self._set_response_headers(context, idx, outcome)
        serving_metrics.write_batch(context.metrics, outcomes)
        if self.options.emf_metrics:
            self._write_emf(outcomes)
        return [outcome.body for outcome in outcomes]

    def _write_emf(self, outcomes: list[RequestOutcome]) -> None:
        """One EMF line for the batch, on stdout (the container's log, CloudWatch Logs on SageMaker)."""
        try:
            line = emf.emf_record(EMF_NAMESPACE, self.model_name, [o.status_code for o in outcomes],
                                  [o.timings_ms for o in outcomes], len(outcomes))
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except Exception:  # metrics must never fail the batch
            logger.warning("EMF metrics line not written", exc_info=True)

    def _answer(self, data: list[dict[str, Any]], context) -> list[RequestOutcome]:
        """The predictor's answers; a body TorchServe decoded beyond recovery is a 500."""
        bodies = [_raw_body(request) for request in data]
        accepts = [_accept(context, idx) for idx in range(len(data))]
        readable = [RawRequest(body, _content_type(context, idx), accepts[idx])
                    for idx, body in enumerate(bodies) if body is not None]
        answers = iter(self.predictor.answer(readable))
        outcomes = []
        for body, accept in zip(bodies, accepts, strict=True):
            if body is None:
                outcomes.append(error_outcome("", InternalError(DECODED_BODY), "adapter",
                                              negotiate_response_type(accept)))
            else:
                outcomes.append(next(answers))
        return outcomes

    def _set_response_headers(self, context, idx: int, outcome: RequestOutcome) -> None:
        """The body's content type (JSON, or the Arrow stream the client asked for); the
        envelope's status as HTTP status when configured."""
        context.set_response_content_type(idx, outcome.content_type)
        if self.options.http_status:
            status_code = outcome.status_code
            try:
                phrase = HTTPStatus(status_code).phrase
            except ValueError:
                phrase = ""
            context.set_response_status(status_code, phrase, idx)


def _route_warnings_to_stderr() -> None:
    """Sends this project's warnings and errors (request_uid, stack trace) to the worker's stderr.

    TorchServe logs a worker's stdout, where its Python logging writes, at INFO and its stderr
    at WARN; the shipped quiet log4j2.xml keeps WARN and above in model_log.log, so errors
    written to stdout would be lost. INFO and below stay on stdout.
    """
    for name in ("handler", __name__):
        log = logging.getLogger(name)
        if getattr(log, "_gs_routed", False):
            continue
        out = logging.StreamHandler(sys.stdout)
        out.addFilter(lambda record: record.levelno < logging.WARNING)
        err = logging.StreamHandler(sys.stderr)
        err.setLevel(logging.WARNING)
        for h in (out, err):
            h.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False
        log._gs_routed = True  # type: ignore[attr-defined]  # our marker on a stdlib Logger


def _raw_body(request: dict[str, Any]) -> bytes | None:
    """The request body exactly as sent; None when the server decoded it beyond recovery.

    With decoding off (set by `initialize`) TorchServe passes bytes/bytearray. Were it on, it
    would pass `text/*` bodies as str (re-encoding restores the exact bytes) and
    `application/json` ones as Python objects, whose exact bytes (hence request_uid) are lost.
    A request without a body gives b"".
    """
    value = request.get("body")
    if value is None:
        value = request.get("data")
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return None


def _header(context, idx: int, name: str) -> str | None:
    """A request header's value, its name matched without case assumptions (None: absent or empty).

    Args:
        name: the header's name in lower case.
    """
    for key, value in context.get_all_request_header(idx).items():
        if key.lower() == name and isinstance(value, str) and value:
            return value
    return None


def _accept(context, idx: int) -> str | None:
    """The request's Accept header (None: absent): the response's format."""
    return _header(context, idx, "accept")


def _response_type(context, idx: int) -> str:
    """The negotiated response format, for answers outside the request path: JSON when even
    the headers cannot be read."""
    try:
        return negotiate_response_type(_accept(context, idx))
    except Exception:  # the failure being answered may be the context's own
        return JSON_CONTENT_TYPE


def _content_type(context, idx: int) -> str:
    """The request's Content-Type (without case assumptions); JSON when absent."""
    value = _header(context, idx, "content-type")
    if value is not None:
        return value
    body_headers = context.get_request_header(idx, "body")
    if isinstance(body_headers, dict) and body_headers.get("content-type"):
        return body_headers["content-type"]
    return JSON_CONTENT_TYPE
