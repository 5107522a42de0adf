"""``RealtimePredictor``: request bytes in, GraphStorm response envelope out.

The request path is a straight line of typed stages, each timed, owned here:

    decode (bytes -> DecodedRequest: JSON, request_uid)        handler/request/decode.py
    expand (DecodedRequest -> DecodedRequest: targets-only requests completed from the graph
            store, when the archive names one)                 handler/serving/expand.py
    parse  (DecodedRequest -> ParsedRequest: targets, groups)  handler/request/parse.py
    build  (ParsedRequest -> PayloadGraph: graph, features)    handler/inputs/graph_builder.py
    forward(PayloadGraphs -> predictions: ONE model call over the batch's disjoint union,
            split when the batch exceeds the limits' batch budget)
    envelope(predictions or error -> Envelope -> bytes, serialised once)  handler/contract/envelope.py

``answer`` runs a batch through them and returns, per request, the envelope bytes plus the
stage timings and graph sizes; servers (the TorchServe handler, ``bench/``, ``gs-predict``)
call it and nothing else. ``_answer_error`` is the one place an exception becomes an envelope.
The disjoint union is built by concatenating edge lists with per-type node offsets.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

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
from handler.inputs.graph_builder import GraphBuilder, PayloadGraph, int64_tensor
from handler.model.graphstorm_model import GraphStormNodeModel, ModelLoadError, restore_model
from handler.nn.relational_graph import RelationalGraph
from handler.request.decode import DecodedRequest, decode, error_uid
from handler.request.parse import RequestParser
from handler.request.parsed import NodeTarget, ParsedRequest
from handler.serving.expand import GraphExpander
from handler.transforms import TextTokens

logger = logging.getLogger(__name__)

STAGES = ("decode", "expand", "parse", "build", "forward", "envelope")


@dataclass
class RequestOutcome:
    """What one request of a batch was answered, and what answering it cost.

    Attributes:
        envelope: the answer.
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


@dataclass
class _InFlight:
    """A request moving through the stages: its id, timings and the last stage's output."""

    body: bytes
    content_type: str | None
    uid: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    graph: PayloadGraph | None = None
    envelope: Envelope | None = None

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings_ms[stage] = self.timings_ms.get(stage, 0.0) + (time.perf_counter() - start) * 1000


@dataclass(frozen=True)
class DisjointUnion:
    """Several payload graphs as one disjoint graph, and where each request's targets are.

    Attributes:
        graph: the disjoint union.
        node_inputs: node inputs, rows concatenated in request order.
        edge_inputs: edge inputs, rows concatenated in request order.
        targets: node type -> indices (in the union) of the distinct target nodes; for edge
            models, target relation -> (source indices, destination indices) of the distinct
            target pairs.
        rows: per request, per listed target: ``(node type or relation, row in the model's
            output)``.
        text_inputs: LM node type -> tokens, rows concatenated in request order (the LM runs
            once over all of them).
    """

    graph: RelationalGraph
    node_inputs: dict[str, torch.Tensor]
    edge_inputs: dict[CanonicalEtype, torch.Tensor]
    targets: dict[str, torch.Tensor] | dict[CanonicalEtype, tuple[torch.Tensor, torch.Tensor]]
    rows: list[list[tuple[Any, int]]]
    text_inputs: dict[str, TextTokens] = field(default_factory=dict)


class RealtimePredictor:
    """GraphStorm real-time prediction for one model.

    Args:
        model: the restored model.
        schema: the graph schema (``data_transform_new.json``).
        config: the model config.
        limits: request, response and batch limits (default: ``RequestLimits()``).
        lm_resolver: where text transforms find their LM (``from_artifacts`` sets it).
        expander: the graph store that completes targets-only requests (None: no store).
    """

    def __init__(self, model: GraphStormNodeModel, schema: GraphSchema, config: ModelConfig,
                 limits: RequestLimits | None = None, lm_resolver: LMResolver | None = None,
                 expander: GraphExpander | None = None) -> None:
        self.model = model
        self.expander = expander
        self.schema = schema
        self.config = config
        self.limits = limits or RequestLimits()
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
                       graph_store: str | None = None) -> RealtimePredictor:
        """Loads ``model.bin``, the training YAML and ``data_transform_new.json`` from a directory.

        Args:
            model_dir: directory holding the artifacts (GraphStorm's ``model_fn`` naming rules).
            device: where the model runs.
            limits: request, response and batch limits (default: ``RequestLimits()``).
            lm_models: language-model NAME -> DIR, over ``GS_LM_MODELS`` and the archive's
                ``<model_dir>/lm/NAME`` (``handler.contract.lm_resolution``; never the hub).

        Returns:
            The predictor.

        Raises:
            ArtifactError, UnsupportedConfigError, ModelLoadError: the artifacts cannot be served.
        """
        paths = locate_artifacts(model_dir)
        schema = GraphSchema.from_file(paths.transform_json)
        config = ModelConfig.from_yaml(paths.yaml, schema.ntypes, schema.canonical_etypes)
        resolver = LMResolver.for_model_dir(model_dir, lm_models)
        model = restore_model(config, schema.canonical_etypes, paths.model_bin, device, ntypes=schema.ntypes,
                              lm_resolver=resolver)
        # Finite weights and finite inputs (the transforms reject others) make a non-finite
        # prediction the payload's doing: a 422.
        if not all(torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()):
            raise ModelLoadError(f"{paths.model_bin}: the model's weights contain NaN or infinite values")
        expander = None
        if graph_store is not None:
            expander = GraphExpander.open(graph_store, schema, config, limits or RequestLimits())
        return cls(model, schema, config, limits, resolver, expander)

    # -- the batch call ------------------------------------------------------------------

    def answer(self, requests: Sequence[tuple[bytes, str | None]]) -> list[RequestOutcome]:
        """Answers a batch of requests: every stage, one forward over the valid ones.

        Never raises: every failure becomes that request's error envelope.

        Args:
            requests: ``(exact body bytes, content type)`` per request.

        Returns:
            One outcome per request, in order.
        """
        flights = [_InFlight(body, content_type) for body, content_type in requests]
        with _gc_paused():
            for flight in flights:
                self._prepare(flight)
            self._forward([f for f in flights if f.envelope is None])
            return [self._respond(f) for f in flights]

    def predict(self, body: bytes, content_type: str = JSON_CONTENT_TYPE) -> dict[str, Any]:
        """Answers one request.

        Args:
            body: the exact request bytes.
            content_type: the request's content type.

        Returns:
            The response envelope as a dict.
        """
        return self.predict_batch([body], [content_type])[0]

    def predict_batch(self, bodies: Sequence[bytes], content_types: Sequence[str] | None = None) -> list[dict[str, Any]]:
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

    # -- stages --------------------------------------------------------------------------

    def decode(self, body: bytes, content_type: str | None) -> DecodedRequest:
        """Stage ``decode`` (see ``handler.request.decode.decode``)."""
        return decode(body, content_type, self.limits)

    def expand(self, decoded: DecodedRequest) -> DecodedRequest:
        """Stage ``expand`` (see ``handler.serving.expand.GraphExpander``)."""
        return self.expander.expand(decoded) if self.expander is not None else decoded

    def parse(self, decoded: DecodedRequest) -> ParsedRequest:
        """Stage ``parse`` (see ``handler.request.parse.RequestParser``)."""
        return self.parser.parse(decoded)

    def build(self, parsed: ParsedRequest) -> PayloadGraph:
        """Stage ``build`` (see ``handler.inputs.graph_builder.GraphBuilder``)."""
        return self.builder.build(parsed)

    def run_model(self, union: DisjointUnion) -> dict[Any, torch.Tensor]:
        """The model over a disjoint union: per target node type (edge models: per target
        relation), one row per distinct target."""
        # An edge model's predict (GraphStormEdgeModel) takes the relation -> pairs arm of targets.
        out = self.model.predict(union.graph, union.node_inputs, union.edge_inputs,
                                 union.targets,  # type: ignore[arg-type]
                                 union.text_inputs or None)
        return {nt: t.detach().float().cpu() for nt, t in out.items()}

    def _prepare(self, flight: _InFlight) -> None:
        """decode, parse, build; on failure the flight carries its error envelope."""
        stage = "decode"
        try:
            with flight.timed(stage):
                decoded = self.decode(flight.body, flight.content_type)
            flight.uid = decoded.uid
            stage = "expand"
            with flight.timed(stage):
                decoded = self.expand(decoded)
            stage = "parse"
            with flight.timed(stage):
                parsed = self.parse(decoded)
            stage = "build"
            with flight.timed(stage):
                flight.graph = self.build(parsed)
        except Exception as exc:  # noqa: BLE001 (the exception boundary)
            if stage == "decode" and isinstance(exc, RealtimeError):
                flight.uid = error_uid(flight.body, exc)
            flight.envelope = self._answer_error(flight.uid, exc, stage)

    def _forward(self, flights: Sequence[_InFlight]) -> None:
        """Stage ``forward``: one model call per chunk of the batch within the batch budget."""
        for chunk in self._budget_chunks(flights):
            start = time.perf_counter()
            self._forward_chunk(chunk)
            elapsed = (time.perf_counter() - start) * 1000
            for flight in chunk:
                flight.timings_ms["forward"] = elapsed

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
            graphs = [f.graph for f in chunk]
            union = disjoint_union(graphs)  # type: ignore[arg-type]  # _budget_chunks: flights with graphs
            out = self.run_model(union)
        except Exception as exc:  # noqa: BLE001 (the exception boundary)
            if len(chunk) == 1:
                chunk[0].envelope = self._answer_error(chunk[0].uid, exc, "forward")
                return
            logger.exception("batched forward of %d requests failed; retrying one by one", len(chunk))
            for flight in chunk:
                self._forward_chunk([flight])
            return
        for flight, rows in zip(chunk, union.rows, strict=True):
            try:
                flight.envelope = self._results(flight, rows, out)
            except Exception as exc:  # noqa: BLE001 (the exception boundary)
                flight.envelope = self._answer_error(flight.uid, exc, "forward")

    def _results(self, flight: _InFlight, rows: list[tuple[Any, int]],
                 out: dict[Any, torch.Tensor]) -> Envelope:
        """The success envelope of one request, or a 422 for a non-finite prediction."""
        assert flight.graph is not None
        results = []
        for target, (key, row) in zip(flight.graph.targets, rows, strict=True):
            prediction = out[key][row].tolist()
            if isinstance(target, NodeTarget):
                what = f"node type {target.node_type}, node id {target.node_id}"
                result = {"node_type": target.node_type, "node_id": target.node_id, "prediction": prediction}
            else:  # GraphStorm's real-time spec: the result echoes the edge target
                what = f"edge type {list(target.edge_type)}, edge {target.src_node_id} -> {target.dest_node_id}"
                result = {"edge_type": list(target.edge_type), "src_node_id": target.src_node_id,
                          "dest_node_id": target.dest_node_id, "prediction": prediction}
            if not all(math.isfinite(v) for v in prediction):
                raise UnprocessablePayloadError(
                    f"the prediction for {what} is not finite: "
                    "feature values of the payload are too large in magnitude for the model's "
                    "float32 arithmetic"
                )
            results.append(result)
        return Envelope.success(flight.uid, results)

    def _respond(self, flight: _InFlight) -> RequestOutcome:
        """Stage ``envelope``: serialises the answer once (a 413 if it is too large)."""
        with flight.timed("envelope"):
            env = flight.envelope
            if env is None:  # a flight that skipped forward: cannot happen, answered safely
                env = self._answer_error(flight.uid, InternalError("the request got no answer"), "envelope")
            body = env.to_bytes()
            if len(body) > self.limits.max_response_bytes:
                env = Envelope.from_error(flight.uid, ResponseTooLargeError(
                    f"the answer has {len(body)} bytes; this endpoint returns at most "
                    f"{self.limits.max_response_bytes} (limit max_response_bytes). Ask for fewer "
                    "targets per request."))
                body = env.to_bytes()
        graph = flight.graph
        return RequestOutcome(
            envelope=env, body=body, timings_ms=flight.timings_ms,
            num_nodes=graph.num_nodes if graph is not None else None,
            num_edges=graph.num_edges if graph is not None else None,
        )

    @staticmethod
    def _answer_error(uid: str, exc: BaseException, stage: str) -> Envelope:
        """The one place an exception becomes an envelope.

        A ``RealtimeError`` is the client's (its status and text); anything else is a bug: a
        generic 500, the details and stack trace go to the log with the request id, never to
        the client. ``RecursionError`` from a payload nested deeper than Python's stack is a 400.
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

    Rows of the model's output per node type follow the order in which distinct targets
    first appear (request by request, in ``targets`` order); duplicates share a row.
    """
    offsets = dict.fromkeys(graphs[0].num_nodes_by_type, 0)
    src_parts: dict[CanonicalEtype, list[torch.Tensor]] = {et: [] for et in graphs[0].edges}
    dst_parts: dict[CanonicalEtype, list[torch.Tensor]] = {et: [] for et in graphs[0].edges}
    node_parts: dict[str, list[torch.Tensor]] = {}
    text_parts: dict[str, list[TextTokens]] = {}
    edge_parts: dict[CanonicalEtype, list[torch.Tensor]] = {}
    target_rows: dict[tuple[Any, Any], int] = {}
    target_items: dict[Any, list[Any]] = {}
    rows = []
    for pg in graphs:
        for etype, (src, dst) in pg.edges.items():
            src_off, dst_off = offsets[etype[0]], offsets[etype[2]]
            src_parts[etype].append(src + src_off if src_off else src)
            dst_parts[etype].append(dst + dst_off if dst_off else dst)
        for ntype, x in pg.node_inputs.items():
            node_parts.setdefault(ntype, []).append(x)
        for etype, x in pg.edge_inputs.items():
            edge_parts.setdefault(etype, []).append(x)
        for ntype, tokens in pg.text_inputs.items():
            text_parts.setdefault(ntype, []).append(tokens)
        request_rows = []
        for key in _target_keys(pg, offsets):
            if key not in target_rows:
                items = target_items.setdefault(key[0], [])
                target_rows[key] = len(items)
                items.append(key[1])
            request_rows.append((key[0], target_rows[key]))
        rows.append(request_rows)
        for ntype, num in pg.num_nodes_by_type.items():
            offsets[ntype] += num
    graph = RelationalGraph(
        num_nodes=offsets,
        edges={et: (_cat(src_parts[et]), _cat(dst_parts[et])) for et in src_parts},
    )
    return DisjointUnion(
        graph=graph,
        node_inputs={nt: _cat(parts) for nt, parts in node_parts.items()},
        edge_inputs={et: _cat(parts) for et, parts in edge_parts.items()},
        targets=_target_tensors(target_items),
        rows=rows,
        text_inputs={nt: TextTokens.concat(parts) for nt, parts in text_parts.items()},
    )


def _target_keys(pg: PayloadGraph, offsets: dict[str, int]) -> Iterator[tuple[Any, Any]]:
    """Per listed target, ``(node type, union index)`` or ``(relation, (src, dst) union indices)``."""
    if pg.target_pairs:
        for target, (src, dst) in zip(pg.targets, pg.target_pairs, strict=True):
            etype = target.edge_type  # type: ignore[union-attr]  # edge targets have pairs
            yield etype, (offsets[etype[0]] + src, offsets[etype[2]] + dst)
        return
    for target, local in zip(pg.targets, pg.target_index, strict=True):
        yield target.node_type, offsets[target.node_type] + local  # type: ignore[union-attr]  # node targets


def _target_tensors(items: dict[Any, list[Any]]) -> dict[Any, Any]:
    """Node type -> indices, or relation -> (source indices, destination indices)."""
    out: dict[Any, Any] = {}
    for key, values in items.items():
        if values and isinstance(values[0], tuple):
            out[key] = (int64_tensor([s for s, _ in values]), int64_tensor([d for _, d in values]))
        else:
            out[key] = int64_tensor(values)
    return out


def _cat(parts: list[torch.Tensor]) -> torch.Tensor:
    return parts[0] if len(parts) == 1 else torch.cat(parts)
