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
from typing import Any

from handler.contract.errors import (
    MissingFieldError,
    PayloadFormatError,
    RequestTooLargeError,
    TaskMismatchError,
    echo,
)
from handler.contract.graph_schema import GraphSchema
from handler.contract.limits import WARN_TARGETS, RequestLimits
from handler.contract.names import NODE_TASKS, TASKS
from handler.contract.targets import kind_of_task
from handler.request.columnar import columnar_groups
from handler.request.decode import ColumnsDeclined, DecodedRequest
from handler.request.grouping import graph_lists, group_edges, group_nodes
from handler.request.parsed import ParsedRequest
from handler.request.request_uid import RequestUid

logger = logging.getLogger(__name__)
# GraphStorm's text for the node tasks in a task-mismatch error: ["node_classification", "node_regression"].
_NODE_TASKS_TEXT = "[" + ", ".join(f'"{task}"' for task in NODE_TASKS) + "]"


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
        self.target_kind = kind_of_task(model_task)

    def parse(self, decoded: DecodedRequest) -> ParsedRequest:
        """Checks a decoded request and groups its graph.

        Args:
            decoded: the output of ``decode``.

        Returns:
            The typed request.

        Raises:
            RealtimeError: 400, 401, 402, 411, 413 or 421 (see the module docstring).
            ColumnsDeclined: a body the extension read as columns is not a clean graph.
        """
        document, grouped, columns = decoded.document, None, decoded.columns
        if columns is not None:  # pyarrow's, the extension's (JSON, Arrow), a store extraction's
            grouped = columnar_groups(columns, self.schema)
            if grouped is None and decoded.native_columns:
                raise ColumnsDeclined("the body's graph is not a clean columnar graph")
            # A clean graph is read as columns: the document is the rest of the request.
            document = columns.to_document() if grouped is None else {**columns.envelope, "targets": columns.targets}
        if not isinstance(document, dict):
            raise PayloadFormatError(
                f"the payload must be a JSON object, but got a JSON {type(document).__name__}"
            )
        self._check_task(document.get("gml_task"))
        raw_targets = document.get("targets")
        if raw_targets is None or (isinstance(raw_targets, list | dict | str) and len(raw_targets) == 0):
            raise MissingFieldError("targets")
        if not isinstance(raw_targets, list):
            raise PayloadFormatError(f'The "targets" field should be a list of {self.target_kind.word} objects, '
                                     f'but got {echo(raw_targets)}')
        if grouped is not None and columns is not None:
            self._check_counts(len(raw_targets), columns.num_nodes, columns.num_edges, decoded.uid)
        else:
            self._check_counts(len(raw_targets), *_graph_sizes(document), decoded.uid)
        read = self.target_kind.read
        targets = tuple(read(index, item) for index, item in enumerate(raw_targets))
        if grouped is None:
            nodes, edges = graph_lists(document)
            grouped = group_nodes(nodes, self.schema), group_edges(edges, self.schema)
        return ParsedRequest(
            uid=decoded.uid,
            targets=targets,
            nodes=grouped[0],
            edges=grouped[1],
        )

    def _check_task(self, gml_task: Any) -> None:
        """421 unless the payload's ``gml_task`` is the model's task."""
        if not isinstance(gml_task, str) or gml_task not in TASKS:
            if self.model_task in NODE_TASKS:  # GraphStorm's own text
                raise TaskMismatchError(
                    f"This endpoint is for node prediction task, but got {echo(gml_task)} task from "
                    f'the payload. Supported task types include {_NODE_TASKS_TEXT}'
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

    def _check_counts(self, targets: int, nodes: int | None, edges: int | None, uid: RequestUid) -> None:
        """413 for targets, nodes or edges over their limits (before walking them; None: the
        graph's list is missing or not a list, which the graph's checks report)."""
        for what, count in (("targets", targets), ("nodes", nodes), ("edges", edges)):
            limit = getattr(self.limits, f"max_{what}")
            if count is not None and count > limit:
                raise RequestTooLargeError(
                    f"the payload has {count} {what}; this endpoint accepts at most {limit} "
                    f"(limit max_{what}). Split the request into smaller ones."
                )
        if targets > WARN_TARGETS:
            logger.warning("request %s: %d targets; GraphStorm advises at most %d per request",
                           uid, targets, WARN_TARGETS)


def _graph_sizes(document: dict[str, Any]) -> tuple[int | None, int | None]:
    """How many ``graph.nodes`` and ``graph.edges`` a document holds (None: not a list)."""
    graph = document.get("graph")
    if not isinstance(graph, dict):
        return None, None
    nodes, edges = graph.get("nodes"), graph.get("edges")
    return (len(nodes) if isinstance(nodes, list) else None, len(edges) if isinstance(edges, list) else None)
