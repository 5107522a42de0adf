"""Stage 2, ``parse``: a decoded JSON document to a typed ``ParsedRequest``, in one pass.

Checks, in GraphStorm 0.5.1's order (``node_prediction_entry.transform_fn`` and
``process_json_payload_graph``): the document is an object (400), ``gml_task`` is the model's
task (421), ``targets`` present and non-empty (401), the count limits (413), every target a
target object of the task's kind (400; 402 for an empty id), then the graph's structure:
required keys, known node and edge types, ids, one set of feature keys per type (411; 402 for
an empty id). Values are transformed, and targets looked up, by ``build``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from handler.contract.errors import (
    MissingFieldDataError,
    MissingFieldError,
    PayloadFormatError,
    RequestTooLargeError,
    TaskMismatchError,
    echo,
)
from handler.contract.graph_schema import GraphSchema
from handler.contract.limits import WARN_TARGETS, RequestLimits
from handler.contract.names import EDGE_TARGET_TASKS, NODE_TASKS, TASKS, NodeId
from handler.request.columnar import columnar_groups
from handler.request.decode import DecodedRequest
from handler.request.grouping import graph_lists, group_edges, group_nodes
from handler.request.parsed import EdgeTarget, NodeTarget, ParsedRequest, Target

logger = logging.getLogger(__name__)


class RequestParser:
    """Parses requests for one model.

    Args:
        schema: the model's graph schema (known node types and relations).
        model_task: the model's task (``handler.contract.names.TASKS``).
        limits: the endpoint's request limits (counts).
    """

    def __init__(self, schema: GraphSchema, model_task: str, limits: RequestLimits) -> None:
        if model_task not in TASKS:
            raise ValueError(f"unknown task {model_task!r}")
        self.schema = schema
        self.model_task = model_task
        self.limits = limits
        self._edge_targets = model_task in EDGE_TARGET_TASKS

    def parse(self, decoded: DecodedRequest) -> ParsedRequest:
        """Checks a decoded request and groups its graph.

        Args:
            decoded: the output of ``decode``.

        Returns:
            The typed request.

        Raises:
            RealtimeError: 400, 401, 402, 411, 413 or 421 (see the module docstring).
        """
        document, grouped = decoded.document, None
        if decoded.columns is not None:  # an Arrow request: its groups straight from the columns
            grouped = columnar_groups(decoded.columns, self.schema)
            document = decoded.columns.to_document(graph=grouped is None)
        if not isinstance(document, dict):
            raise PayloadFormatError(
                f"the payload must be a JSON object, but got a JSON {type(document).__name__}"
            )
        gml_task = self._check_task(document.get("gml_task"))
        raw_targets = document.get("targets")
        if raw_targets is None or (isinstance(raw_targets, list | dict | str) and len(raw_targets) == 0):
            raise MissingFieldError("targets")
        if not isinstance(raw_targets, list):
            kind = "edge" if self._edge_targets else "node"
            raise PayloadFormatError(
                f'The "targets" field should be a list of {kind} objects, but got {echo(raw_targets)}'
            )
        self._check_counts(document, raw_targets, decoded.uid)
        parse_target = self._edge_target if self._edge_targets else self._node_target
        targets = tuple(parse_target(index, item) for index, item in enumerate(raw_targets))
        if grouped is None:
            nodes, edges = graph_lists(document)
            grouped = group_nodes(nodes, self.schema), group_edges(edges, self.schema)
        return ParsedRequest(
            uid=decoded.uid,
            gml_task=gml_task,
            targets=targets,
            nodes=grouped[0],
            edges=grouped[1],
        )

    def _check_task(self, gml_task: Any) -> str:
        if not isinstance(gml_task, str) or gml_task not in TASKS:
            if self.model_task in NODE_TASKS:  # GraphStorm's own text
                raise TaskMismatchError(
                    f"This endpoint is for node prediction task, but got {echo(gml_task)} task from "
                    'the payload. Supported task types include ["node_classification", '
                    '"node_regression"]'
                )
            raise TaskMismatchError(
                f"This endpoint is for {self.model_task}, but got {echo(gml_task)} task from the "
                f'payload. Supported task types include ["{self.model_task}"]'
            )
        if gml_task != self.model_task:
            raise TaskMismatchError(
                f"The payload's gml_task is {gml_task}, but the endpoint's model is a "
                f"{self.model_task} model."
            )
        return gml_task

    def _check_counts(self, document: dict[str, Any], targets: list[Any], uid: str) -> None:
        """413 for targets, nodes or edges over their limits (before walking them)."""
        graph = document.get("graph")
        counts: dict[str, Any] = {"targets": targets, "nodes": None, "edges": None}
        if isinstance(graph, dict):
            counts["nodes"], counts["edges"] = graph.get("nodes"), graph.get("edges")
        for what, items in counts.items():
            limit = getattr(self.limits, f"max_{what}")
            if isinstance(items, list) and len(items) > limit:
                raise RequestTooLargeError(
                    f"the payload has {len(items)} {what}; this endpoint accepts at most {limit} "
                    f"(limit max_{what}). Split the request into smaller ones."
                )
        if len(targets) > WARN_TARGETS:
            logger.warning("request %s: %d targets; GraphStorm advises at most %d per request",
                           uid, len(targets), WARN_TARGETS)

    @staticmethod
    def _node_target(index: int, item: Any) -> Target:
        if not isinstance(item, dict):
            raise PayloadFormatError(
                f'The Element of "targets" field should be a dictionary, but got {echo(item)}'
            )
        if "node_type" not in item or "node_id" not in item:
            raise PayloadFormatError(
                'The Element of "targets" field should be a dictionary that has both "node_type" '
                f'and "node_id" keys, but got {echo(item)}'
            )
        node_type = item["node_type"]
        if not isinstance(node_type, str):
            raise PayloadFormatError(f"targets[{index}].node_type must be a string, but got {echo(node_type)}")
        node_id = _target_id(item["node_id"], "node_id", f"targets[{index}], node type {node_type}")
        return NodeTarget(node_type, node_id)

    @staticmethod
    def _edge_target(index: int, item: Any) -> Target:
        keys = ("edge_type", "src_node_id", "dest_node_id")
        if not isinstance(item, dict) or not all(k in item for k in keys):
            raise PayloadFormatError(
                f'Each element of the "targets" field should be an edge object with "edge_type", '
                f'"src_node_id" and "dest_node_id" keys, but targets[{index}] is {echo(item)}'
            )
        raw_type = item["edge_type"]
        if not (isinstance(raw_type, list) and len(raw_type) == 3 and all(isinstance(p, str) for p in raw_type)):
            raise PayloadFormatError(
                f"targets[{index}].edge_type must be a list of three strings [source node type, "
                f"relation, destination node type], but got {echo(raw_type)}"
            )
        edge_type = (raw_type[0], raw_type[1], raw_type[2])
        where = f"targets[{index}], edge type {list(edge_type)}"
        src = _target_id(item["src_node_id"], "src_node_id", where)
        dst = _target_id(item["dest_node_id"], "dest_node_id", where)
        return EdgeTarget(edge_type, src, dst)


def _target_id(value: Any, key: str, where: str) -> NodeId:
    """A target's node id: a non-empty string or a finite number (402 for null or "")."""
    if value is None or value == "":
        raise MissingFieldDataError(key, where)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadFormatError(f"{where}: {key} must be a string or a number, but got {echo(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadFormatError(f"{where}: {key} must be a finite number, but got {value}")
    return value
