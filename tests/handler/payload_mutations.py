"""Mutations of valid fixture payloads, each with the answer it must get (for test_fuzz.py).

The mutations live in ``mutations_structure``, ``mutations_values``, ``mutations_hostile``
(issue 10: numbers beyond the double range, deep nesting, long and strange strings) and
``mutations_edge_targets`` (issue 12), their toolkit (``Expect``, ``ModelInfo``, ``Mutated``,
``junk``) in ``mutation_kit``. ``MUTATIONS`` names them all; ``mutations_for`` those that apply
to a model (some only make sense for node targets, some for edge targets).
"""

from __future__ import annotations

from collections.abc import Callable

from tests.handler.mutation_kit import Expect, ModelInfo, Mutated, junk
from tests.handler.mutations_edge_targets import (
    drop_target_key,
    duplicate_target,
    edge_target_to_node_model,
    edge_type_not_a_list,
    empty_target_endpoint,
    node_target_to_edge_model,
    non_string_type_part,
    set_edge_target_id,
    shuffle_targets,
    swap_endpoints,
    target_pair_not_an_edge,
    wrong_relation,
)
from tests.handler.mutations_hostile import (
    beyond_double,
    control_chars,
    deep_value,
    lone_surrogate,
    long_string,
    non_finite_id,
)
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
    feature_null,
    rename_id,
    set_edge_endpoint,
    set_feature,
    set_node_id,
    set_target_field,
    set_targets,
    set_task,
)

__all__ = ["MUTATIONS", "Expect", "ModelInfo", "Mutated", "junk", "mutations_for"]

Mutation = Callable[..., Mutated]

_ANY_MODEL: tuple[Mutation, ...] = (
    drop_top, drop_graph_key, drop_node_key, drop_feature, drop_edge_key, set_task, set_targets,
    set_graph, set_graph_list, set_node_item, set_node_type, set_node_id, rename_id,
    set_feature, feature_null, feature_dim, feature_nonfinite, feature_extreme, set_edge_type, set_edge_endpoint,
    duplicate_node, add_unknown_type, edge_to_unknown_node, empty_list, extra_fields, deep_nesting,
    raw_bytes, content_type,
    beyond_double, non_finite_id, deep_value, long_string, control_chars, lone_surrogate,
    duplicate_target, shuffle_targets,
)
_NODE_TARGETS: tuple[Mutation, ...] = (set_target_field, edge_target_to_node_model)
_EDGE_TARGETS: tuple[Mutation, ...] = (
    swap_endpoints, wrong_relation, drop_target_key, empty_target_endpoint, set_edge_target_id,
    edge_type_not_a_list, non_string_type_part, node_target_to_edge_model, target_pair_not_an_edge,
)

MUTATIONS: dict[str, Mutation] = {f.__name__: f for f in (*_ANY_MODEL, *_NODE_TARGETS, *_EDGE_TARGETS)}


def mutations_for(edge_targets: bool) -> dict[str, Mutation]:
    """The mutations that apply to a model: every general one, plus those of its target kind.

    Args:
        edge_targets: whether the model's targets are edges (``ModelInfo.edge_targets``).

    Returns:
        name -> mutation.
    """
    own = _EDGE_TARGETS if edge_targets else _NODE_TARGETS
    return {f.__name__: f for f in (*_ANY_MODEL, *own)}
