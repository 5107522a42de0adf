"""Types and constants shared by the whole request path: their one home.

Light on purpose (no torch, numpy or DGL): the wire-format modules, the config reader, the
mar builder and the container entry point import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Union

# A relation: (source node type, relation name, destination node type).
CanonicalEtype = tuple[str, str, str]


@lru_cache(maxsize=1024)
def relation_label(etype: CanonicalEtype) -> str:
    """How texts name a relation of the model: ``edge type ['user', 'rates', 'movie']`` (a JSON
    list, as GraphStorm's texts).

    Made once per relation: the request path hands every relation of each request the words its
    errors would start with (~0.5 us a formatting, a few us a request). Only for relations of
    the model's schema: strs, so equal tuples have equal labels (a payload's unchecked relation
    could hold ``1`` where another holds ``True``, equal as tuples: format it directly).
    """
    return f"edge type {list(etype)}"


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
NodeId = Union[str, int, float]  # noqa: UP007 (Python 3.9: the deploy tools import this module)

NODE_CLASSIFICATION = "node_classification"
NODE_REGRESSION = "node_regression"
EDGE_CLASSIFICATION = "edge_classification"
EDGE_REGRESSION = "edge_regression"
LINK_PREDICTION = "link_prediction"
NODE_TASKS = (NODE_CLASSIFICATION, NODE_REGRESSION)
EDGE_TASKS = (EDGE_CLASSIFICATION, EDGE_REGRESSION)
# Targets are edges for these tasks: a (src, dst) pair of a relation.
EDGE_TARGET_TASKS = (*EDGE_TASKS, LINK_PREDICTION)
TASKS = (*NODE_TASKS, *EDGE_TARGET_TASKS)

# GraphStorm's artifact names (``model_fn``'s defaults).
MODEL_FILE = "model.bin"
TRAINING_CONFIG_FILE = "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"
TRANSFORM_FILE = "data_transform_new.json"
# The folder of a .mar (and of a staged archive) holding the three artifacts.
ARTIFACTS_DIR = "artifacts"
# The folder of a model archive (.mar's artifacts/, SageMaker model.tar.gz) holding <NAME>/ LMs.
ARCHIVE_LM_DIR = "lm"
# A Hugging Face model folder (one transformers can load) has this file.
LM_CONFIG_FILE = "config.json"

# GConstruct's text transforms: they name a Hugging Face model (``bert_model``).
TOKENIZE_HF = "tokenize_hf"
BERT_HF = "bert_hf"
TEXT_TRANSFORMS = (TOKENIZE_HF, BERT_HF)

JSON_CONTENT_TYPE = "application/json"
# Our columnar request format (handler/contract/arrow_payload.py; not GraphStorm's).
ARROW_STREAM_CONTENT_TYPE = "application/vnd.apache.arrow.stream"
# A request field of ours: true with a partial graph asks the graph store to complete it
# (handler/serving/expand.py); such a request is read as a JSON document, never as columns.
COMPLETE_FIELD = "complete_from_store"

# The archive folder holding an embedded graph store (gs-build-mar --embed-graph-store; the
# handler options graph_store / graph_store_in_archive, handler/contract/settings.py).
ARCHIVE_STORE_DIR = "graph_store"
