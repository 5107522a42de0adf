"""Checks shared by the SAGE / GAT / GATv2 tests: configurations they refuse."""

from __future__ import annotations

import dataclasses

import pytest

from handler.contract.errors import UnsupportedConfigError
from handler.nn.encoder import build_encoder
from tests.handler.nn.reference_cases import HOMOGENEOUS_NTYPE, HOMOGENEOUS_RELATION, ReferenceCase


def assert_refuses_unsupported(encoder: str) -> None:
    """Edge features and heterogeneous graphs raise ``UnsupportedConfigError``."""
    config = ReferenceCase(encoder, "plain", {}, num_edges=0).config()
    with_efeat = dataclasses.replace(config, edge_feat_names={HOMOGENEOUS_RELATION: ("w",)})
    with pytest.raises(UnsupportedConfigError, match="edge_feat_name"):
        build_encoder(with_efeat, [HOMOGENEOUS_NTYPE], [HOMOGENEOUS_RELATION], {HOMOGENEOUS_RELATION: 1})
    with pytest.raises(UnsupportedConfigError, match="homogeneous"):
        build_encoder(config, ["a", "b"], [("a", "r", "b")], {})
