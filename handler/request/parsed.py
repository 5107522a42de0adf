"""The typed request: what ``parse`` makes of a decoded body, and what ``build`` consumes.

Targets are nodes or edges (``handler.contract.targets``). The graph part is grouped by node
type and relation, each group holding its members' ids and raw feature objects; values are
transformed by ``build``.
"""

from __future__ import annotations

from dataclasses import dataclass

from handler.contract.names import CanonicalEtype
from handler.contract.targets import EdgeTarget, NodeTarget, Target
from handler.request.grouping import TypeGroup
from handler.request.request_uid import RequestUid

__all__ = ["EdgeTarget", "NodeTarget", "ParsedRequest", "Target"]


@dataclass(frozen=True)
class ParsedRequest:
    """A request whose fields passed the structural checks and count limits.

    Attributes:
        uid: ``request_uid`` (``RequestUid``: read when the answer is built).
        targets: the targets in request order (duplicates kept); all ``NodeTarget`` for a
            node task, all ``EdgeTarget`` for an edge task.
        nodes: node type -> the payload's nodes of that type, in order of first appearance.
        edges: relation -> the payload's edges of that relation (ids are raw ``(src, dst)``).
    """

    uid: RequestUid
    targets: tuple[Target, ...]
    nodes: dict[str, TypeGroup]
    edges: dict[CanonicalEtype, TypeGroup]

    @property
    def num_nodes(self) -> int:
        """Nodes listed in ``graph.nodes``."""
        return sum(len(g.ids) for g in self.nodes.values())

    @property
    def num_edges(self) -> int:
        """Edges listed in ``graph.edges``."""
        return sum(len(g.ids) for g in self.edges.values())
