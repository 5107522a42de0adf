"""Stage ``expand`` (between decode and parse): targets in, a full request out.

A request with ``targets`` and no ``graph`` gets the targets' sampled in-neighbourhood from the
graph store the archive names (``handler.graph_store``): nodes with raw features and edges, the
graph ``gs-build-payload`` would send, with the model's fanout or the request's ``"fanout"`` and
``"seed"``; it reaches ``parse`` as columns per node type and relation
(``handler.contract.graph_columns``, the route of an Arrow request), never as a list of member
objects. A request that carries a partial graph and ``"complete_from_store": true`` gets the
union as a JSON document: its own nodes and edges (its nodes win, whatever their features),
completed from the store around them, which ``parse`` checks as it checks any graph. Any other
request passes unchanged. Unknown target ids are GraphStorm's 404; a failing store is a bounded
503 (``GraphStoreFailureError``), never a hung or crashed worker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from handler.contract.errors import (
    GraphStoreFailureError,
    PayloadFormatError,
    RequestTooLargeError,
    TargetNodeIdError,
)
from handler.contract.graph_schema import GraphSchema
from handler.contract.limits import RequestLimits
from handler.contract.model_config import ModelConfig
from handler.contract.names import COMPLETE_FIELD
from handler.contract.settings import ServingOptions
from handler.graph_store.extract import ExtractionTooLargeError, GivenGraph
from handler.graph_store.fanout import FanoutError
from handler.graph_store.opening import open_graph_store
from handler.graph_store.payload import PayloadBuilder
from handler.graph_store.runner import GraphStoreError, QueryRunner
from handler.request.decode import DecodedRequest

logger = logging.getLogger(__name__)

# Request fields read by this stage.
FANOUT_FIELD = "fanout"
SEED_FIELD = "seed"


def store_location(options: ServingOptions, archive_root: Path) -> str | None:
    """The graph store a worker opens (``None``: none).

    Args:
        options: the serving options (the archive's record, or ``GS_GRAPH_STORE`` over it).
        archive_root: the extracted archive's folder (an embedded store lies under it).

    Returns:
        A path or URI for ``open_graph_store``.
    """
    if options.graph_store is None:
        return None
    if options.graph_store_in_archive:
        return str(archive_root / options.graph_store)
    return options.graph_store


class GraphExpander:
    """Completes targets-only and partial-graph requests from an open graph store.

    Attributes:
        builder: extraction with the model's settings.
        limits: the request limits (the extracted graph obeys them as a sent one would).
    """

    def __init__(self, runner: QueryRunner, schema: GraphSchema, config: ModelConfig,
                 limits: RequestLimits) -> None:
        self.builder = PayloadBuilder(runner, schema, config)
        self.limits = limits

    @classmethod
    def open(cls, location: str, schema: GraphSchema, config: ModelConfig,
             limits: RequestLimits) -> GraphExpander:
        """Opens the store (read-only) for a model.

        Raises:
            GraphStoreError: the store cannot be opened.
            StoreMismatchError: it does not hold the model's graph.
        """
        runner = open_graph_store(location)
        try:
            expander = cls(runner, schema, config, limits)
        except BaseException:
            runner.close()
            raise
        logger.info("graph store %s opened (%s)", location, runner.dialect.name)
        return expander

    def close(self) -> None:
        """Closes the store."""
        self.builder.extractor.runner.close()

    def expand(self, decoded: DecodedRequest) -> DecodedRequest:
        """The request with its graph extracted from the store, or unchanged.

        Raises:
            TargetNodeIdError: 404, a target node neither in the store nor in the request.
            PayloadFormatError: 400, a malformed ``fanout`` or ``seed``.
            RequestTooLargeError: 413, the extraction exceeds the request limits.
            GraphStoreFailureError: 503, the store failed.
        """
        doc = decoded.document
        if not isinstance(doc, dict) or not isinstance(doc.get("targets"), list) or not doc["targets"]:
            return decoded
        graph = doc.get("graph")
        if graph is not None and not (doc.get(COMPLETE_FIELD) is True and isinstance(graph, dict)):
            return decoded
        if len(doc["targets"]) > self.limits.max_targets:
            return decoded  # parse answers the 413
        given = GivenGraph()
        if isinstance(graph, dict):
            partial = _given(graph)
            if partial is None:
                return decoded  # a malformed graph: parse reports it
            given = partial
        fanout, seed = self._sampling(doc)
        try:
            found = self.builder.extract(doc["targets"], fanout, seed, given, max_edges=self.limits.max_edges)
        except ExtractionTooLargeError as exc:
            raise RequestTooLargeError(
                f"{exc} (limit max_edges); send a smaller fanout") from None
        except GraphStoreError as exc:
            raise GraphStoreFailureError(f"the graph store failed: {exc}") from exc
        known = set(self.builder.schema.ntypes)
        unknown = [(t, i) for t, i in found.missing if t in known]
        if unknown:
            shown = ", ".join(f"{i}" for _, i in unknown[:5])
            raise TargetNodeIdError(
                f"the target node ID: {shown} does not exist in the graph store or the payload graph "
                f"(node type {unknown[0][0]})."
            )
        if graph is None:  # targets only: the extraction reaches parse as columns
            envelope = {k: v for k, v in doc.items() if k not in ("graph", "targets")}
            columns = self.builder.columns(found, envelope, doc["targets"])
            self._check_size(columns.num_nodes, columns.num_edges)
            return replace(decoded, document=None, columns=columns)
        full = self.builder.graph(found)
        self._check_size(len(full["nodes"]), len(full["edges"]))
        return replace(decoded, document={**doc, "graph": full})

    def _check_size(self, num_nodes: int, num_edges: int) -> None:
        """413 for an extracted graph over the request limits."""
        if num_nodes > self.limits.max_nodes or num_edges > self.limits.max_edges:
            raise RequestTooLargeError(
                f"the extracted graph has {num_nodes} nodes and {num_edges} edges; "
                f"this endpoint accepts at most {self.limits.max_nodes} and {self.limits.max_edges} "
                "(limits max_nodes, max_edges); send a smaller fanout"
            )

    def _sampling(self, doc: Mapping[str, Any]) -> tuple[Any, int | None]:
        fanout, seed = doc.get(FANOUT_FIELD), doc.get(SEED_FIELD)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63):
            raise PayloadFormatError(f"'{SEED_FIELD}' must be an integer in [0, 2**63), got {seed!r}"[:200])
        try:
            self.builder.fanouts(fanout)
        except FanoutError as exc:
            raise PayloadFormatError(f"'{FANOUT_FIELD}': {exc}"[:300]) from None
        return fanout, seed


def _given(graph: Mapping[str, Any]) -> GivenGraph | None:
    """A partial graph's nodes and edges; ``None`` when a node or edge is malformed (node type
    and id strings, edge objects), which parse then reports as for any request."""
    nodes, edges = graph.get("nodes", []), graph.get("edges", [])
    if not isinstance(nodes, list) or not isinstance(edges, list):
        return None
    given = GivenGraph()
    for node in nodes:
        if not (isinstance(node, dict) and isinstance(node.get("node_type"), str)
                and isinstance(node.get("node_id"), str)):
            return None
        key = (node["node_type"], node["node_id"])
        if key in given.nodes:
            return None
        given.nodes[key] = node
    if not all(isinstance(e, dict) for e in edges):
        return None
    given.edges = list(edges)
    return given
