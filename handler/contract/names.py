"""Types and constants shared by the whole request path: their one home.

Light on purpose (no torch, numpy or DGL): the wire-format modules, the config reader, the
mar builder and the container entry point import it.
"""

from __future__ import annotations

from collections.abc import Iterable

# A relation: (source node type, relation name, destination node type).
CanonicalEtype = tuple[str, str, str]


def as_etype(parts: Iterable[str]) -> CanonicalEtype:
    """A relation given as any three names (a JSON list, a tuple) as a ``CanonicalEtype``.

    Args:
        parts: source node type, relation name, destination node type.

    Returns:
        The three names as a tuple.

    Raises:
        ValueError: ``parts`` does not hold exactly three names (callers check the length first
            where the message matters).
    """
    src, rel, dst = parts
    return (src, rel, dst)

# A payload node id as JSON gives it (GraphStorm compares ids by Python equality).
NodeId = str | int | float

NODE_TASKS = ("node_classification", "node_regression")
EDGE_TASKS = ("edge_classification", "edge_regression")
LINK_PREDICTION = "link_prediction"
# Targets are edges for these tasks: a (src, dst) pair of a relation.
EDGE_TARGET_TASKS = (*EDGE_TASKS, LINK_PREDICTION)
TASKS = (*NODE_TASKS, *EDGE_TARGET_TASKS)

# GraphStorm's artifact names (``model_fn``'s defaults).
MODEL_FILE = "model.bin"
TRAINING_CONFIG_FILE = "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"
TRANSFORM_FILE = "data_transform_new.json"
# The folder of a .mar (and of a staged archive) holding the three artifacts.
ARTIFACTS_DIR = "artifacts"

JSON_CONTENT_TYPE = "application/json"

# The graph store that completes targets-only requests (issue 20): model-config.yaml handler
# options (its path or URI; whether it travels inside the archive, under ARCHIVE_STORE_DIR).
GRAPH_STORE_OPTION = "graph_store"
GRAPH_STORE_IN_ARCHIVE_OPTION = "graph_store_in_archive"
ARCHIVE_STORE_DIR = "graph_store"
