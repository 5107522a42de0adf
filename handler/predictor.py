"""``RealtimePredictor``: request bytes in, GraphStorm response envelope out.

Two stages so that a server can batch: ``prepare`` (parse, check, build the payload graph;
per request, an error envelope on failure) and ``run`` (ONE forward over the disjoint union
of the prepared graphs, split back per request). The disjoint union is built by
concatenating edge lists with per-type node offsets, which costs far less than
``dgl.batch`` of ``DGLGraph``s and gives the same ``RelationalGraph``.
"""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from handler import envelope
from handler.artifacts import locate_artifacts
from handler.config import ModelConfig
from handler.errors import InternalError, RealtimeError, UnprocessablePayloadError
from handler.graph_builder import GraphBuilder, PayloadGraph, int64_tensor
from handler.limits import RequestLimits
from handler.model import GraphStormNodeModel, ModelLoadError, restore_model
from handler.nn.relational_graph import RelationalGraph
from handler.payload import JSON_CONTENT_TYPE, parse_request
from handler.schema import CanonicalEtype, GraphSchema

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedRequest:
    """A request ready for the model.

    Attributes:
        uid: its ``request_uid``.
        graph: its payload graph and model inputs.
    """

    uid: str
    graph: PayloadGraph

    @property
    def num_nodes(self) -> int:
        """Nodes in the payload."""
        return self.graph.num_nodes

    @property
    def num_edges(self) -> int:
        """Edges in the payload."""
        return self.graph.num_edges


@dataclass(frozen=True)
class _Union:
    """Several payload graphs as one disjoint graph, and where each request's targets are.

    Attributes:
        graph: the disjoint union.
        node_inputs: node inputs, rows concatenated in request order.
        edge_inputs: edge inputs, rows concatenated in request order.
        targets: node type -> indices (in the union) of the distinct target nodes.
        rows: per request, per listed target: ``(node type, row in the model's output)``.
    """

    graph: RelationalGraph
    node_inputs: dict[str, torch.Tensor]
    edge_inputs: dict[CanonicalEtype, torch.Tensor]
    targets: dict[str, torch.Tensor]
    rows: list[list[tuple[str, int]]]


class RealtimePredictor:
    """GraphStorm real-time node prediction for one model.

    Args:
        model: the restored model.
        schema: the graph schema (``data_transform_new.json``).
        config: the model config.
        limits: the largest request answered (default: ``RequestLimits()``).
    """

    def __init__(self, model: GraphStormNodeModel, schema: GraphSchema, config: ModelConfig,
                 limits: RequestLimits | None = None) -> None:
        self.model = model
        self.schema = schema
        self.config = config
        self.limits = limits or RequestLimits()
        self.builder = GraphBuilder(schema, config)

    @classmethod
    def from_artifacts(cls, model_dir: str | Path, device: str | torch.device = "cpu",
                       limits: RequestLimits | None = None) -> RealtimePredictor:
        """Loads ``model.bin``, the training YAML and ``data_transform_new.json`` from a directory.

        Args:
            model_dir: directory holding the artifacts (GraphStorm's ``model_fn`` naming rules).
            device: where the model runs.
            limits: the largest request answered (default: ``RequestLimits()``).

        Returns:
            The predictor.

        Raises:
            ArtifactError, UnsupportedConfigError, ModelLoadError: the artifacts cannot be served.
        """
        paths = locate_artifacts(model_dir)
        schema = GraphSchema.from_file(paths.transform_json)
        config = ModelConfig.from_yaml(paths.yaml, schema.ntypes, schema.canonical_etypes)
        model = restore_model(config, schema.canonical_etypes, paths.model_bin, device, ntypes=schema.ntypes)
        # Finite weights make a non-finite prediction the payload's doing (a 422, see _envelope).
        if not all(torch.isfinite(t).all() for t in model.state_dict().values() if t.is_floating_point()):
            raise ModelLoadError(f"{paths.model_bin}: the model's weights contain NaN or infinite values")
        return cls(model, schema, config, limits)

    def predict(self, body: bytes, content_type: str = JSON_CONTENT_TYPE) -> dict[str, Any]:
        """Answers one request.

        Args:
            body: the exact request bytes.
            content_type: the request's content type.

        Returns:
            The response envelope.
        """
        return self.predict_batch([body], [content_type])[0]

    def predict_batch(self, bodies: Sequence[bytes], content_types: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Answers several requests with one forward over the valid ones.

        Args:
            bodies: the exact request bytes of each request.
            content_types: each request's content type (default: all JSON).

        Returns:
            One envelope per request, in order.
        """
        types = content_types if content_types is not None else [JSON_CONTENT_TYPE] * len(bodies)
        staged = [self.prepare(body, ct) for body, ct in zip(bodies, types, strict=True)]
        ready = [s for s in staged if isinstance(s, PreparedRequest)]
        answers = iter(self.run(ready))
        return [next(answers) if isinstance(s, PreparedRequest) else s for s in staged]

    def prepare(self, body: bytes, content_type: str = JSON_CONTENT_TYPE) -> PreparedRequest | dict[str, Any]:
        """Parses and checks a request and builds its payload graph.

        Args:
            body: the exact request bytes.
            content_type: the request's content type.

        Returns:
            The prepared request, or the error envelope to answer with.
        """
        uid = ""
        try:
            with _gc_paused():
                self.limits.check_body(body)
                request = parse_request(body, content_type, model_task=self.config.task_type)
                uid = request.uid
                self.limits.check_counts(request.payload, uid)
                return PreparedRequest(uid=uid, graph=self.builder.build(request))
        except RealtimeError as err:
            uid = uid or err.request_uid
            if err.status_code >= 500:
                logger.error("request %s: %s", uid, err.detail)
            return envelope.from_error(uid, err)
        except Exception:
            uid = uid or envelope.request_uid(body if isinstance(body, bytes) else str(body).encode())
            logger.exception("request %s: unexpected error while preparing", uid)
            return envelope.from_error(uid, InternalError(""))

    def run(self, prepared: Sequence[PreparedRequest]) -> list[dict[str, Any]]:
        """Predicts prepared requests with one forward over their disjoint union.

        If that forward fails, each request is run on its own, so only the failing one gets a
        500.

        Args:
            prepared: requests from ``prepare``.

        Returns:
            One envelope per request, in order.
        """
        if not prepared:
            return []
        try:
            with _gc_paused():
                return self._forward(prepared)
        except Exception:
            if len(prepared) == 1:
                logger.exception("request %s: model forward failed", prepared[0].uid)
                return [envelope.from_error(prepared[0].uid, InternalError(""))]
            logger.exception("batched forward of %d requests failed; retrying one by one", len(prepared))
        return [self.run([p])[0] for p in prepared]

    def _forward(self, prepared: Sequence[PreparedRequest]) -> list[dict[str, Any]]:
        union = _disjoint_union([p.graph for p in prepared])
        out = self.model.predict(union.graph, union.node_inputs, union.edge_inputs, union.targets)
        out = {nt: t.detach().float().cpu() for nt, t in out.items()}
        return [self._envelope(p, rows, out) for p, rows in zip(prepared, union.rows, strict=True)]

    @staticmethod
    def _envelope(prepared: PreparedRequest, rows: list[tuple[str, int]],
                  out: dict[str, torch.Tensor]) -> dict[str, Any]:
        results = []
        for target, (ntype, row) in zip(prepared.graph.targets, rows, strict=True):
            prediction = out[ntype][row].tolist()
            if not all(math.isfinite(v) for v in prediction):
                logger.warning("request %s: non-finite prediction for %s %s: %s", prepared.uid,
                               ntype, target.node_id, prediction)
                where = f"node type {ntype}, node id {target.node_id}"
                if not _finite_inputs(prepared.graph):  # prepare rejects those: a server bug
                    return envelope.from_error(prepared.uid, InternalError(
                        f"the model produced a non-finite prediction for {where}"))
                return envelope.from_error(prepared.uid, UnprocessablePayloadError(
                    f"the prediction for {where} is not finite: feature values of the payload are "
                    "too large in magnitude for the model's float32 arithmetic"))
            results.append({"node_type": ntype, "node_id": target.node_id, "prediction": prediction})
        return envelope.success(prepared.uid, results)


def _finite_inputs(graph: PayloadGraph) -> bool:
    """Whether every node and edge input of a payload graph is finite."""
    inputs = [*graph.node_inputs.values(), *graph.edge_inputs.values()]
    return all(bool(torch.isfinite(x).all()) for x in inputs)


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


def _disjoint_union(graphs: Sequence[PayloadGraph]) -> _Union:
    """One graph holding every request's graph, node ids offset per node type.

    Rows of the model's output per node type follow the order in which distinct targets
    first appear (request by request, in ``targets`` order); duplicates share a row.
    """
    offsets = dict.fromkeys(graphs[0].num_nodes_by_type, 0)
    src_parts: dict[CanonicalEtype, list[torch.Tensor]] = {et: [] for et in graphs[0].edges}
    dst_parts: dict[CanonicalEtype, list[torch.Tensor]] = {et: [] for et in graphs[0].edges}
    node_parts: dict[str, list[torch.Tensor]] = {}
    edge_parts: dict[CanonicalEtype, list[torch.Tensor]] = {}
    target_rows: dict[tuple[str, int], int] = {}
    target_nodes: dict[str, list[int]] = {}
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
        request_rows = []
        for target, local in zip(pg.targets, pg.target_index, strict=True):
            key = (target.node_type, offsets[target.node_type] + local)
            if key not in target_rows:
                nodes = target_nodes.setdefault(key[0], [])
                target_rows[key] = len(nodes)
                nodes.append(key[1])
            request_rows.append((key[0], target_rows[key]))
        rows.append(request_rows)
        for ntype, num in pg.num_nodes_by_type.items():
            offsets[ntype] += num
    graph = RelationalGraph(
        num_nodes=offsets,
        edges={et: (_cat(src_parts[et]), _cat(dst_parts[et])) for et in src_parts},
    )
    return _Union(
        graph=graph,
        node_inputs={nt: _cat(parts) for nt, parts in node_parts.items()},
        edge_inputs={et: _cat(parts) for et, parts in edge_parts.items()},
        targets={nt: int64_tensor(idx) for nt, idx in target_nodes.items()},
        rows=rows,
    )


def _cat(parts: list[torch.Tensor]) -> torch.Tensor:
    return parts[0] if len(parts) == 1 else torch.cat(parts)
