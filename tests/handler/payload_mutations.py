"""Mutations of valid fixture payloads, each with the answer it must get (for test_fuzz.py).

The mutations live in ``mutations_structure`` and ``mutations_values``, their toolkit
(``Expect``, ``ModelInfo``, ``Mutated``, ``junk``) in ``mutation_kit``; ``MUTATIONS`` names
them all.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.handler.mutation_kit import Expect, ModelInfo, Mutated, junk
from tests.handler.mutations_structure import (
    add_unknown_type,
    content_type,
    deep_nesting,
    drop_edge_key,
    drop_feature,
    drop_graph_key,
    drop_node_key,
    drop_top,
    duplicate_node,
    edge_to_unknown_node,
    empty_list,
    extra_fields,
    raw_bytes,
    set_edge_type,
    set_graph,
    set_graph_list,
    set_node_item,
    set_node_type,
)
from tests.handler.mutations_values import (
    feature_dim,
    feature_extreme,
    feature_nonfinite,
    rename_id,
    set_edge_endpoint,
    set_feature,
    set_node_id,
    set_target_field,
    set_targets,
    set_task,
)

__all__ = ["MUTATIONS", "Expect", "ModelInfo", "Mutated", "junk"]

MUTATIONS: dict[str, Callable[..., Mutated]] = {f.__name__: f for f in (
    drop_top, drop_graph_key, drop_node_key, drop_feature, drop_edge_key, set_task, set_targets,
    set_target_field, set_graph, set_graph_list, set_node_item, set_node_type, set_node_id, rename_id,
    set_feature, feature_dim, feature_nonfinite, feature_extreme, set_edge_type, set_edge_endpoint,
    duplicate_node, add_unknown_type, edge_to_unknown_node, empty_list, extra_fields, deep_nesting,
    raw_bytes, content_type,
)}
