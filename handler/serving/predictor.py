"""``RealtimePredictor``: request bytes in, GraphStorm response envelope out.

The request path is ``PIPELINE``, an explicit list of typed stages (name, input type -> output
type), each run under the one timer (``_timed``) and the one error boundary (``error_envelope``):

    decode   RawRequest     -> DecodedRequest  (JSON: columns, or a document;  handler/request/decode.py
                                                request_uid, hashed on a helper thread for a large
                                                body until the envelope reads it)
    expand   DecodedRequest -> DecodedRequest  (targets-only requests completed from the graph
                                                store, when the model has one)  handler/serving/expand.py
    parse    DecodedRequest -> ParsedRequest   (targets, groups)          handler/request/parse.py
    transform ParsedRequest -> ParsedRequest   (batched: row-wise feature transforms once over the
                                                batch's rows)  GraphBuilder.transform_batch
    build    ParsedRequest  -> PayloadGraph    (graph, features)          handler/inputs/graph_builder.py
    forward  PayloadGraph   -> Envelope        (batched: ONE model call over the batch's disjoint
                                                union, split when it exceeds the batch budget)
    envelope Envelope       -> bytes           (serialised once, as JSON or, when the request's Accept
                                                asks for it, as our Arrow response; 413 over
                                                max_response_bytes)  handler/contract/arrow_response.py

A new stage is one entry of ``PIPELINE`` (its input type must be the previous stage's output
type, its output type the next one's input type; ``check_pipeline`` says so at import). A
request that fails skips to ``envelope`` with its error envelope; one whose body the extension
read straight into columns is read again the reference way first (``_read_again``: a JSON
document, pyarrow for an Arrow body), so the reference path decides every error. ``answer``
runs a batch through the stages and returns, per request, the envelope bytes plus the stage
timings and graph sizes; servers (the TorchServe handler, ``bench/``, ``gs-predict``) call it and
nothing else. SageMaker's hooks, for readers who know them: ``input_fn`` = decode + parse +
transform + build, ``predict_fn`` = forward, ``output_fn`` = envelope (docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handler.contract.arrow_response import negotiate_response_type
from handler.contract.artifacts import locate_artifacts
from handler.contract.envelope import Envelope
from handler.contract.errors import (
    InternalError,
    PayloadFormatError,
    RealtimeError,
    ResponseTooLargeError,
    UnprocessablePayloadError,
)
from handler.contract.graph_schema import GraphSchema
from handler.contract.limits import RequestLimits
from handler.contract.lm_resolution import LMResolver
from handler.contract.model_config import ModelConfig
from handler.contract.names import JSON_CONTENT_TYPE, CanonicalEtype
from handler.contract.settings import ServingOptions
from handler.contract.targets import Position, TargetKey
from handler.inputs.graph_builder import GraphBuilder, PayloadGraph, int64_tensor
from handler.model.graphstorm_model import GraphStormModel, ModelLoadError, restore_model
from handler.nn.relational_graph import RelationalGraph
from handler.request.decode import DecodedRequest, decode, error_uid
from handler.request.parse import RequestParser
from handler.request.parsed import ParsedRequest
from handler.request.request_uid import RequestUid
from handler.serving.expand import GraphExpander
from handler.transforms import TextTokens

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawRequest:
    """A request as the server received it: the input of the first stage.

    Attributes:
        body: the exact body bytes (``request_uid`` is their hash).
        content_type: the request's Content-Type (None: absent).
        accept: the request's Accept header (None: absent): the response's format
            (``negotiate_response_type``).
        columns_first: a well-formed JSON or Arrow request is read straight into columns by
            the extension (False: as a JSON document, or by pyarrow; ``handler.request.decode``).
    """

    body: bytes
    content_type: str | None
    accept: str | None = None
    columns_first: bool = True


@dataclass(frozen=True)
class Stage:
    """One step of the request path.

    Attributes:
        name: the stage's name (its key in ``RequestOutcome.timings_ms``, the metrics and the
            profiler's ``gs.<name>`` ranges).
        takes: the type of its input (the previous stage's output).
        gives: the type of its output.
        run: ``run(predictor, value) -> output``; a ``batched`` stage gets the batch's in-flight
            requests instead, and leaves each one's output (or error) on it.
        batched: runs once over every request still in flight (``forward``), not per request.
    """

    name: str
    takes: type
    gives: type
    run: Callable[[Any, Any], Any]
    batched: bool = False


PIPELINE: tuple[Stage, ...] = (
    Stage("decode", RawRequest, DecodedRequest,
          lambda p, raw: p.decode(raw.body, raw.content_type, raw.columns_first)),
    Stage("expand", DecodedRequest, DecodedRequest, lambda p, decoded: p.expand(decoded)),
    Stage("parse", DecodedRequest, ParsedRequest, lambda p, decoded: p.parse(decoded)),
    Stage("transform", ParsedRequest, ParsedRequest, lambda p, flights: p._transform_batch(flights), batched=True),
    Stage("build", ParsedRequest, PayloadGraph, lambda p, parsed: p.build(parsed)),
    Stage("forward", PayloadGraph, Envelope, lambda p, flights: p._forward(flights), batched=True),
    Stage("envelope", Envelope, bytes, lambda p, env: p._serialise(env)),
)


def check_pipeline(stages: Sequence[Stage]) -> tuple[str, ...]:
    """Checks that each stage takes what the previous one gives; returns the stage names.

    Raises:
        TypeError: two neighbouring stages do not fit, the first does not take a
            ``RawRequest``, or the last does not turn an ``Envelope`` into bytes.
    """
    if stages[0].takes is not RawRequest or stages[-1].takes is not Envelope or stages[-1].gives is not bytes:
        raise TypeError("the pipeline must start from a RawRequest and end with Envelope -> bytes")
    for before, after in zip(stages, stages[1:], strict=False):
        if not issubclass(before.gives, after.takes):
            raise TypeError(f"stage {after.name} takes {after.takes.__name__}, "
                            f"but {before.name} gives {before.gives.__name__}")
    return tuple(s.name for s in stages)


STAGES = check_pipeline(PIPELINE)


@dataclass
class RequestOutcome:
    """What one request of a batch was answered, and what answering it cost.

    Attributes:
        envelope: the answer (its ``media_type`` is the body's format).
        body: the answer serialised (the response body).
        timings_ms: stage -> milliseconds, for the stages the request reached (``forward`` is
            its batch's whole forward, shared by the requests in it).
        num_nodes: nodes of its payload graph (None when it failed before ``build``).
        num_edges: edges of its payload graph (None when it failed before ``build``).
    """

    envelope: Envelope
    body: bytes = b""
    timings_ms: dict[str, float] = field(default_factory=dict)
    num_nodes: int | None = None
    num_edges: int | None = None

    @property
    def status_code(self) -> int:
        """The envelope's status code."""
        return self.envelope.status_code

    @property
    def content_type(self) -> str:
        """The body's media type (the response's Content-Type): JSON or our Arrow stream."""
        return self.envelope.media_type


@dataclass
class _InFlight:
    """A request moving through the stages.

    Attributes:
        value: the last stage's output (a ``RawRequest`` at first).
        raw: the request as received.
        uid: the request id, once a stage's output carries it (None before ``decode``).
        timings_ms: stage -> milliseconds.
        graph: its payload graph, once built (sizes for the outcome; ``forward``'s input).
        envelope: its answer, once it has one (an error skips the stages left before ``envelope``).
        media_type: the format its answer is serialised to (negotiated from its Accept header).
        native_columns: the extension read its body as columns (a failure reads it again the
            reference way: ``RealtimePredictor._read_again``).
    """

    value: Any
    raw: RawRequest
    media_type: str
    uid: RequestUid | None = None
    native_columns: bool = False
    timings_ms: dict[str, float] = field(default_factory=dict)
    graph: PayloadGraph | None = None
    envelope: Envelope | None = None

    @property
    def request_uid(self) -> str:
        return "" if self.uid is None else self.uid.text


@dataclass(frozen=True)
class DisjointUnion:
    """Several payload graphs as one disjoint graph, and where each request's targets are.

    Attributes:
        graph: the disjoint union.
        node_inputs: node inputs, rows concatenated in request order.
        edge_inputs: edge inputs, rows concatenated in request order.
        targets: output key (target node type or relation) -> position tensors (in the union)
            of its distinct targets: ``(nodes,)`` or ``(sources, destinations)``.
        rows: per request, per listed target: ``(output key, row in the model's output)``.
        text_inputs: LM node type -> tokens, rows concatenated in request order (the LM runs
            once over all of them).
    """

    graph: RelationalGraph
    node_inputs: dict[str, torch.Tensor]
    edge_inputs: dict[CanonicalEtype, torch.Tensor]
    targets: dict[TargetKey, tuple[torch.Tensor, ...]]
    rows: list[list[tuple[TargetKey, int]]]
    text_inputs: dict[str, TextTokens] = field(default_factory=dict)


class RealtimePredictor:
    """GraphStorm real-time prediction for one model.

    Args:
        model: the restored model.
        schema: the graph schema (``data_transform_new.json``).
        config: the model config.
        limits: request, response and batch limits (default: ``options.limits``).
        lm_resolver: where text transforms find their LM (``from_artifacts`` sets it).
        options: the serving options (default: ``ServingOptions()``); ``limits`` overrides
            theirs.
        expander: the graph store that completes targets-only requests (None: no store).
    """

    def __init__(self, model: GraphStormModel, schema: GraphSchema, config: ModelConfig,
                 limits: RequestLimits | None = None, lm_resolver: LMResolver | None = None,
                 options: ServingOptions | None = None, expander: GraphExpander | None = None) -> None:
        self.model = model
        self.expander = expander
        self.schema = schema
        self.config = config
        self.options = options or ServingOptions()
        self.limits = limits or self.options.limits
        self.stages = PIPELINE
        self.parser = RequestParser(schema, config.task_type, self.limits)
        edge_dims = {et: model.edge_embed.in_dim(et) for et in schema.canonical_etypes}
        self.builder = GraphBuilder(
            schema, config,
            node_input_dims={nt: model.node_embed.in_dim(nt) for nt in schema.ntypes},
            edge_input_dims={et: d for et, d in edge_dims.items() if d is not None},
            lm_resolver=lm_resolver,
        )

    @classmethod
    def from_artifacts(cls, model_dir: str | Path, device: str | torch.device = "cpu",
                       limits: RequestLimits | None = None,
                       lm_models: Mapping[str, Path] | None = None,
                       options: ServingOptions | None = None,
                       graph_store: str | None = None) -> RealtimePredictor:
        """Loads ``model.bin``, the training YAML and ``data_transform_new.json`` from a directory.

        Args:
            model_dir: directory holding the artifacts (GraphStorm's ``model_fn`` naming rules).
            device: where the model runs.
            limits: request, response and batch limits (default: ``options.limits``).
            lm_models: language-model NAME -> DIR, over ``GS_LM_MODELS`` and the archive's
                ``<model_dir>/lm/NAME`` (``handler.contract.lm_resolution``; never the hub).
            options: the serving options (default: ``ServingOptions()``).
            graph_store: path or URI of the graph store that completes targets-only requests
                (opened read-only here; ``handler.serving.expand.store_location`` resolves the
                options' store against an archive).

        Returns:
            The predictor.

        Raises:
            ArtifactError, UnsupportedConfigError, ModelLoadError: the artifacts cannot be served.
        """
        paths = locate_artifacts(model_dir)
        schema = GraphSchema.from_file(paths.transform_json)
        config = ModelConfig.from_yaml(paths.yaml, schema.ntypes, schema.canonical_etypes, schema.relation_order)
        resolver = LMResolver.for_model_dir(model_dir, lm_models)
        model = restore_model(config, schema.canonical_etypes, paths.model_bin, device, ntypes=schema.ntypes,
                              lm_resolver=resolver)
        # Finite weights and finite inputs (the transforms reject others) make a non-finite
        # prediction the payload's doing: a 422.
        if not all(torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()):
            raise ModelLoadError(f"{paths.model_bin}: the model's weights contain NaN or infinite values")
        expander = None
        if graph_store is not None:
            expander = GraphExpander.open(graph_store, schema, config,
                                          limits or (options or ServingOptions()).limits)
        return cls(model, schema, config, limits, resolver, options, expander)

    # -- the batch call ------------------------------------------------------------------

    def answer(self, requests: Sequence[RawRequest | tuple[bytes, str | None]]) -> list[RequestOutcome]:
        """Answers a batch of requests: every stage, one forward over the valid ones.

        Never raises: every failure becomes that request's error envelope.

        Args:
            requests: per request, a ``RawRequest`` (body, content type, Accept) or
                ``(exact body bytes, content type)`` (answered as JSON).

        Returns:
            One outcome per request, in order.
        """
        raws = [r if isinstance(r, RawRequest) else RawRequest(*r) for r in requests]
        flights = [_InFlight(raw, raw, negotiate_response_type(raw.accept)) for raw in raws]
        *steps, last = self.stages
        with _gc_paused():
            start = 0
            while start < len(steps):
                if steps[start].batched:
                    self._run_batched(steps[start], [f for f in flights if f.envelope is None])
                    start += 1
                    continue
                # Consecutive per-request stages run request by request (one request's
                # intermediate values are freed before the next one's are made).
                end = start
                while end < len(steps) and not steps[end].batched:
                    end += 1
                for flight in flights:
                    for stage in steps[start:end]:
                        if flight.envelope is not None:
                            break
                        self._run(stage, flight)
                start = end
            return [self._respond(last, flight) for flight in flights]

    def predict(self, body: bytes, content_type: str = JSON_CONTENT_TYPE) -> dict[str, Any]:
        """Answers one request.

        Args:
            body: the exact request bytes.
            content_type: the request's content type.

        Returns:
            The response envelope as a dict.
        """
        return self.predict_batch([body], [content_type])[0]

    def predict_batch(self, bodies: Sequence[bytes],
                      content_types: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Answers several requests with one forward over the valid ones.

        Args:
            bodies: the exact request bytes of each request.
            content_types: each request's content type (default: all JSON).

        Returns:
            One envelope dict per request, in order.
        """
        types = content_types if content_types is not None else [JSON_CONTENT_TYPE] * len(bodies)
        outcomes = self.answer(list(zip(bodies, types, strict=True)))
        return [o.envelope.as_dict() for o in outcomes]

    def warm_up(self) -> float:
        """One forward over a synthetic graph (a node of every type, an edge of every relation,
        zero inputs), so that the first request does not pay for lazy initialisation (kernels,
        fused weights, allocator pools). Servers call it before reporting ready.

        Returns:
            Seconds it took.

        Raises:
            Whatever the model raises (the caller decides whether a failed warm-up matters).
        """
        start = time.perf_counter()
        self.run_model(self._warm_up_union())
        return time.perf_counter() - start

    # -- stages --------------------------------------------------------------------------

    def decode(self, body: bytes, content_type: str | None, columns_first: bool = False) -> DecodedRequest:
        """Stage ``decode`` (see ``handler.request.decode.decode``)."""
        return decode(body, content_type, self.limits, columns_first)

    def expand(self, decoded: DecodedRequest) -> DecodedRequest:
        """Stage ``expand`` (see ``handler.serving.expand.GraphExpander``)."""
        return self.expander.expand(decoded) if self.expander is not None else decoded

    def parse(self, decoded: DecodedRequest) -> ParsedRequest:
        """Stage ``parse`` (see ``handler.request.parse.RequestParser``)."""
        return self.parser.parse(decoded)

    def build(self, parsed: ParsedRequest) -> PayloadGraph:
        """Stage ``build`` (see ``handler.inputs.graph_builder.GraphBuilder``)."""
        return self.builder.build(parsed)

    def _transform_batch(self, flights: Sequence[_InFlight]) -> None:
        """Stage ``transform``: the batch's row-wise features transformed together
        (``GraphBuilder.transform_batch``). An optimisation only: whatever it leaves undone,
        ``build`` does request by request, so a failure here costs time, never an answer."""
        self._timed("transform", [f.timings_ms for f in flights], self._transform_rows,
                    [f.value for f in flights])

    def _transform_rows(self, requests: list[ParsedRequest]) -> None:
        try:
            self.builder.transform_batch(requests)
        except Exception:  # noqa: BLE001 - build transforms each request alone
            logger.exception("batched feature transforms failed; transforming request by request")

    def run_model(self, union: DisjointUnion) -> dict[TargetKey, torch.Tensor]:
        """The model over a disjoint union: per output key (target node type or relation), one
        row per distinct target."""
        out = self.model.predict(union.graph, union.node_inputs, union.edge_inputs, union.targets,
                                 union.text_inputs or None)
        # Inference-mode outputs carry no autograd history: only dtype and device may need a move.
        return {key: t if t.dtype == torch.float32 and t.device.type == "cpu" else t.float().cpu()
                for key, t in out.items()}

    # -- running the stages ----------------------------------------------------------------

    def _timed(self, stage: str, timings: Sequence[dict[str, float]], run: Callable[..., Any], *args: Any) -> Any:
        """The one timer: ``run(*args)``, its milliseconds added to each request's timings (a
        batched stage's to every request of its batch); a ``gs.<stage>`` profiler range when the
        ``profile_stages`` option is on. A call, not a context manager: a generator-based one
        costs ~2-3 us per stage per request."""
        start = time.perf_counter()
        try:
            if self.options.profile_stages:
                with torch.profiler.record_function(f"gs.{stage}"):
                    return run(*args)
            return run(*args)
        finally:
            elapsed = (time.perf_counter() - start) * 1000
            for t in timings:
                t[stage] = t.get(stage, 0.0) + elapsed

    def _run(self, stage: Stage, flight: _InFlight) -> None:
        """One per-request stage; on failure the flight carries its error envelope."""
        try:
            value = self._timed(stage.name, (flight.timings_ms,), stage.run, self, flight.value)
        except Exception as exc:  # noqa: BLE001 (the exception boundary)
            if flight.native_columns:
                self._read_again(flight, stage)
                return
            if flight.uid is None and isinstance(exc, RealtimeError):
                flight.uid = RequestUid(error_uid(flight.value.body, exc))  # GraphStorm's rule for decode errors
            flight.envelope = error_envelope(flight.request_uid, exc, stage.name)
            return
        flight.value = value
        uid = getattr(value, "uid", None)
        if isinstance(uid, RequestUid):
            flight.uid = uid
        if isinstance(value, DecodedRequest):
            flight.native_columns = value.native_columns
        elif isinstance(value, PayloadGraph):
            flight.graph = value
        elif isinstance(value, Envelope):
            flight.envelope = value

    def _read_again(self, flight: _InFlight, failed: Stage) -> None:
        """A request whose body the extension read as columns failed at ``failed``: its body is
        read again the reference way (a JSON document; pyarrow for an Arrow body) and its
        per-request stages run again up to ``failed``, so the reference path decides its error (or
        answers it: the columns route declines what it does not take as it is). The batched
        ``transform`` is skipped (``build`` transforms alone)."""
        flight.native_columns = False
        flight.value = dataclasses.replace(flight.raw, columns_first=False)
        for stage in self.stages:
            if not stage.batched:
                self._run(stage, flight)
            if stage is failed or flight.envelope is not None:
                return

    def _run_batched(self, stage: Stage, flights: list[_InFlight]) -> None:
        """A batched stage over the requests still in flight (each gets its output or error)."""
        if not flights:
            return
        try:
            stage.run(self, flights)
        except Exception as exc:  # noqa: BLE001 (the exception boundary)
            for flight in flights:
                if flight.envelope is None:
                    flight.envelope = error_envelope(flight.request_uid, exc, stage.name)

    def _forward(self, flights: Sequence[_InFlight]) -> None:
        """Stage ``forward``: one model call per chunk of the batch within the batch budget."""
        for chunk in self._budget_chunks(flights):
            self._timed("forward", [f.timings_ms for f in chunk], self._forward_chunk, chunk)

    def _budget_chunks(self, flights: Sequence[_InFlight]) -> Iterator[list[_InFlight]]:
        """Consecutive runs of requests whose payload graphs together fit the batch budget."""
        chunk: list[_InFlight] = []
        nodes = edges = 0
        for flight in flights:
            assert flight.graph is not None
            n, e = flight.graph.num_nodes, flight.graph.num_edges
            if chunk and (nodes + n > self.limits.max_batch_nodes or edges + e > self.limits.max_batch_edges):
                yield chunk
                chunk, nodes, edges = [], 0, 0
            chunk.append(flight)
            nodes, edges = nodes + n, edges + e
        if chunk:
            yield chunk

    def _forward_chunk(self, chunk: Sequence[_InFlight]) -> None:
        """One forward over ``chunk``; if it fails, each request on its own, so that only the
        failing one gets a 500."""
        try:
            union = disjoint_union([f.graph for f in chunk if f.graph is not None])
            out = self.run_model(union)
        except Exception as exc:  # noqa: BLE001 (the exception boundary)
            if len(chunk) == 1:
                chunk[0].envelope = error_envelope(chunk[0].request_uid, exc, "forward")
                return
            logger.exception("batched forward of %d requests failed; retrying one by one", len(chunk))
            for flight in chunk:
                self._forward_chunk([flight])
            return
        # One ``tolist`` per output key for the whole chunk; requests index its rows.
        predictions = {key: t.tolist() for key, t in out.items()}
        for flight, rows in zip(chunk, union.rows, strict=True):
            try:
                flight.envelope = self._results(flight, rows, predictions)
            except Exception as exc:  # noqa: BLE001 (the exception boundary)
                flight.envelope = error_envelope(flight.request_uid, exc, "forward")

    def _results(self, flight: _InFlight, rows: list[tuple[TargetKey, int]],
                 predictions: dict[TargetKey, list[list[float]]]) -> Envelope:
        """The success envelope of one request, or a 422 for a non-finite prediction.

        Args:
            flight: the request.
            rows: its targets' ``(output key, row)`` (``DisjointUnion.rows``).
            predictions: output key -> the model's output rows as lists (shared by the chunk's
                requests: each entry gets its own copy).
        """
        assert flight.graph is not None
        kind = flight.graph.target_kind
        results = []
        for target, (key, row) in zip(flight.graph.targets, rows, strict=True):
            prediction = list(predictions[key][row])
            if not all(map(math.isfinite, prediction)):
                raise UnprocessablePayloadError(
                    f"the prediction for {kind.describe(target)} is not finite: "
                    "feature values of the payload are too large in magnitude for the model's "
                    "float32 arithmetic"
                )
            results.append(kind.result_entry(target, prediction))
        return Envelope.success(flight.request_uid, results)

    def _serialise(self, env: Envelope) -> bytes:
        """Stage ``envelope``: the answer's bytes in its ``media_type`` (JSON, or the Arrow
        response the client asked for); a 413 when over ``max_response_bytes``, in either format."""
        body = env.to_bytes()
        if len(body) > self.limits.max_response_bytes:
            raise ResponseTooLargeError(
                f"the answer has {len(body)} bytes; this endpoint returns at most "
                f"{self.limits.max_response_bytes} (limit max_response_bytes). Ask for fewer "
                "targets per request.")
        return body

    def _respond(self, stage: Stage, flight: _InFlight) -> RequestOutcome:
        """The last stage (``envelope``) for every request, whatever it reached, in the
        request's negotiated format."""
        env = flight.envelope
        if env is None:  # a flight that skipped forward: cannot happen, answered safely
            env = error_envelope(flight.request_uid, InternalError("the request got no answer"), stage.name)
        if env.media_type != flight.media_type:
            env = dataclasses.replace(env, media_type=flight.media_type)
        try:
            body = self._timed(stage.name, (flight.timings_ms,), stage.run, self, env)
        except Exception as exc:  # noqa: BLE001 (the exception boundary)
            env, body = _serialised_error(flight.request_uid, exc, stage.name, flight.media_type)
        graph = flight.graph
        return RequestOutcome(
            envelope=env, body=body, timings_ms=flight.timings_ms,
            num_nodes=graph.num_nodes if graph is not None else None,
            num_edges=graph.num_edges if graph is not None else None,
        )

    def _warm_up_union(self) -> DisjointUnion:
        """A payload-sized graph touching every input, relation and head of the model."""
        ntypes = self.schema.ntypes
        one = torch.zeros(1, dtype=torch.int64)
        graph = RelationalGraph(num_nodes=dict.fromkeys(ntypes, 1),
                                edges={et: (one, one) for et in self.schema.canonical_etypes})
        node_inputs = {nt: torch.zeros(1, self.model.node_embed.in_dim(nt)) for nt in ntypes}
        edge_inputs = {et: torch.zeros(1, dim) for et in self.schema.canonical_etypes
                       if (dim := self.model.edge_embed.in_dim(et)) is not None}
        lm_ntypes = getattr(self.model.node_embed, "lm_ntypes", ())
        ids = np.zeros((1, 1), dtype=np.int64)
        text_inputs = {nt: TextTokens(ids, np.ones_like(ids), ids) for nt in lm_ntypes}
        kind = self.builder.target_kind
        targets = {key: (one,) * kind.arity for key in kind.predicted}
        return DisjointUnion(graph=graph, node_inputs=node_inputs, edge_inputs=edge_inputs,
                             targets=targets, rows=[], text_inputs=text_inputs)


def error_envelope(uid: str, exc: BaseException, stage: str) -> Envelope:
    """The one place an exception becomes an envelope.

    A ``RealtimeError`` is the client's, or a bounded 5xx that says what failed (its status and
    text); anything else is a bug: a generic 500, the details and stack trace go to the log
    with the request id, never to the client. ``RecursionError`` from a payload nested deeper
    than Python's stack is a 400.

    Args:
        uid: the request id ("" when unknown).
        exc: what was raised.
        stage: the stage that raised (for the log).

    Returns:
        The error envelope.
    """
    if isinstance(exc, RecursionError):
        exc = PayloadFormatError("the payload is nested too deeply")
    if isinstance(exc, RealtimeError):
        if exc.status_code >= 500:
            logger.error("request %s: %s", uid, exc.detail)
        elif exc.status_code == 422:
            logger.warning("request %s: %s", uid, exc.detail)
        return Envelope.from_error(uid, exc)
    logger.error("request %s: unexpected error in stage %s", uid, stage, exc_info=exc)
    return Envelope.from_error(uid, InternalError(""))


def error_outcome(uid: str, exc: BaseException, stage: str, media_type: str = JSON_CONTENT_TYPE) -> RequestOutcome:
    """A request answered with ``error_envelope`` before or outside the stages (a server
    adapter's failures): the envelope and its bytes in ``media_type`` (the negotiated format)."""
    env, body = _serialised_error(uid, exc, stage, media_type)
    return RequestOutcome(envelope=env, body=body)


def _serialised_error(uid: str, exc: BaseException, stage: str, media_type: str) -> tuple[Envelope, bytes]:
    """``error_envelope`` and its bytes in ``media_type``; in JSON should that fail (an Arrow
    body without pyarrow): the answer must not fail."""
    env = dataclasses.replace(error_envelope(uid, exc, stage), media_type=media_type)
    try:
        return env, env.to_bytes()
    except Exception:  # noqa: BLE001 (the exception boundary)
        logger.exception("request %s: the %s error body failed; answering JSON", uid, media_type)
        env = dataclasses.replace(env, media_type=JSON_CONTENT_TYPE)
        return env, env.to_bytes()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pauses automatic garbage collection while a request allocates.

    Parsing a large payload creates tens of thousands of acyclic objects, each allocation
    counting towards a collection that scans every tracked object (a quarter of the JSON
    parse time at ~3,000 nodes). Reference counting frees these objects anyway, and a
    collection still due runs at the first allocation after the request. A caller that
    disabled the collector keeps it disabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def disjoint_union(graphs: Sequence[PayloadGraph]) -> DisjointUnion:
    """One graph holding every request's graph, node ids offset per node type.

    Rows of the model's output per key follow the order in which distinct targets first appear
    (request by request, in ``targets`` order); duplicates share a row. Batch keys come from
    each graph's target kind. A single graph is its own union: its tensors as they are.
    """
    targets = _TargetRows()
    if len(graphs) == 1:
        pg = graphs[0]
        rows = [targets.add(pg, dict.fromkeys(pg.num_nodes_by_type, 0))]
        return DisjointUnion(
            graph=RelationalGraph(num_nodes=dict(pg.num_nodes_by_type), edges=dict(pg.edges)),
            node_inputs=dict(pg.node_inputs), edge_inputs=dict(pg.edge_inputs),
            targets=_target_tensors(targets.items), rows=rows, text_inputs=dict(pg.text_inputs),
        )
    offsets = dict.fromkeys(graphs[0].num_nodes_by_type, 0)
    starts = []  # per request: node type -> its first node in the union
    node_parts: dict[str, list[torch.Tensor]] = {}
    text_parts: dict[str, list[TextTokens]] = {}
    edge_parts: dict[CanonicalEtype, list[torch.Tensor]] = {}
    rows = []
    for pg in graphs:
        starts.append(dict(offsets))
        for ntype, x in pg.node_inputs.items():
            node_parts.setdefault(ntype, []).append(x)
        for etype, x in pg.edge_inputs.items():
            edge_parts.setdefault(etype, []).append(x)
        for ntype, tokens in pg.text_inputs.items():
            text_parts.setdefault(ntype, []).append(tokens)
        rows.append(targets.add(pg, offsets))
        for ntype, num in pg.num_nodes_by_type.items():
            offsets[ntype] += num
    graph = RelationalGraph(num_nodes=offsets, edges=_union_edges(graphs, starts))
    return DisjointUnion(
        graph=graph,
        node_inputs={nt: _cat(parts) for nt, parts in node_parts.items()},
        edge_inputs={et: _cat(parts) for et, parts in edge_parts.items()},
        targets=_target_tensors(targets.items),
        rows=rows,
        text_inputs={nt: TextTokens.concat(parts) for nt, parts in text_parts.items()},
    )


def _union_edges(graphs: Sequence[PayloadGraph],
                 starts: Sequence[Mapping[str, int]]) -> dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]]:
    """Every relation's edges of all ``graphs``, request after request, node indices offset by
    each request's ``starts``.

    One concatenation per side over every (relation, request) part and one add of the offsets
    repeated per part, whatever the number of requests and relations (a torch add per part
    cost ~3 us: 96 of them for 8 requests of a 6-relation model). Payload graphs live on the
    CPU (``GraphBuilder``); the model moves the union to its device.
    """
    etypes = list(graphs[0].edges)
    if not etypes:
        return {}
    src_parts, dst_parts, counts, src_offsets, dst_offsets = [], [], [], [], []
    for etype in etypes:
        for pg, start in zip(graphs, starts, strict=True):
            src, dst = pg.edges[etype]
            src_parts.append(src)
            dst_parts.append(dst)
            counts.append(src.shape[0])
            src_offsets.append(start[etype[0]])
            dst_offsets.append(start[etype[2]])
    # torch.cat takes the parts in one call; a numpy view of each part would cost ~1 us apiece.
    src_all = torch.cat(src_parts).numpy() + np.repeat(np.array(src_offsets, dtype=np.int64), counts)
    dst_all = torch.cat(dst_parts).numpy() + np.repeat(np.array(dst_offsets, dtype=np.int64), counts)
    edges = {}
    begin = 0
    for i, etype in enumerate(etypes):
        end = begin + sum(counts[i * len(graphs):(i + 1) * len(graphs)])
        edges[etype] = (torch.from_numpy(src_all[begin:end]), torch.from_numpy(dst_all[begin:end]))
        begin = end
    return edges


class _TargetRows:
    """The distinct targets of a union per output key, in order of first appearance.

    Attributes:
        items: output key -> positions (in the union) of its distinct targets; row i of the
            model's output for the key is ``items[key][i]``.
    """

    def __init__(self) -> None:
        self.items: dict[TargetKey, list[Position]] = {}
        self._row: dict[tuple[TargetKey, Position], int] = {}

    def add(self, pg: PayloadGraph, offsets: Mapping[str, int]) -> list[tuple[TargetKey, int]]:
        """Adds one request's targets (its node indices offset by ``offsets``); returns each
        listed target's ``(output key, row)``, duplicates sharing a row."""
        request_rows = []
        for target, position in zip(pg.targets, pg.target_positions, strict=True):
            key = pg.target_kind.batch_key(target, position, offsets)
            row = self._row.get(key)
            if row is None:
                items = self.items.setdefault(key[0], [])
                row = self._row[key] = len(items)
                items.append(key[1])
            request_rows.append((key[0], row))
        return request_rows


def _target_tensors(items: dict[TargetKey, list[Position]]) -> dict[TargetKey, tuple[torch.Tensor, ...]]:
    """Output key -> one int64 tensor per position component (nodes; or sources, destinations)."""
    return {key: tuple(int64_tensor(list(component)) for component in zip(*positions, strict=True))
            for key, positions in items.items()}


def _cat(parts: list[torch.Tensor]) -> torch.Tensor:
    return parts[0] if len(parts) == 1 else torch.cat(parts)
