"""DGL reference recordings: their ``.npz`` format, and the check of our encoders against them.

One file per ``ReferenceCase``, ``tests/fixtures/dgl_reference/<encoder>/<label>.npz``:
``meta`` (JSON: the ``gsf`` config, node types, canonical edge types in build order, node
counts, edge-feature widths), ``param/<state_dict key>`` (the encoder's parameters, which DGL's
modules loaded strictly by their own names), ``src/<s,r,d>`` and ``dst/<s,r,d>`` (edge lists),
``h/<ntype>`` and ``e_h/<s,r,d>`` (inputs), ``expected/<ntype>`` (DGL's output).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handler.nn.encoder import build_encoder
from handler.nn.relational_graph import CanonicalEtype, RelationalGraph
from tests.compare import FIXTURES_DIR
from tests.handler.nn.reference_cases import ReferenceCase

RECORDINGS_DIR = FIXTURES_DIR / "dgl_reference"


def recording_path(case: ReferenceCase) -> Path:
    """Where ``case``'s recording lives."""
    return RECORDINGS_DIR / f"{case.name}.npz"


def _etype_key(etype: CanonicalEtype) -> str:
    return ",".join(etype)


@dataclasses.dataclass(frozen=True)
class Recording:
    """One case's inputs, parameters and DGL output, as tensors.

    Shapes:
        h[nt] ``[num_nodes[nt], hidden]``; e_h[et] ``[num_edges[et], hidden]``;
        expected[nt] ``[num_nodes[nt], out]``.
    """

    gsf: dict[str, Any]
    ntypes: list[str]
    etypes: list[CanonicalEtype]
    edge_feat_dims: dict[CanonicalEtype, int]
    graph: RelationalGraph
    params: dict[str, torch.Tensor]
    h: dict[str, torch.Tensor]
    e_h: dict[CanonicalEtype, torch.Tensor]
    expected: dict[str, torch.Tensor]


def write_recording(
    path: Path,
    gsf: Mapping[str, Any],
    graph: RelationalGraph,
    etypes: Sequence[CanonicalEtype],
    edge_feat_dims: Mapping[CanonicalEtype, int],
    params: Mapping[str, torch.Tensor],
    h: Mapping[str, torch.Tensor],
    e_h: Mapping[CanonicalEtype, torch.Tensor],
    expected: Mapping[str, torch.Tensor],
) -> None:
    """Writes one recording (compressed; a few KB).

    Args:
        path: the ``.npz`` to write (parents created).
        gsf: the config dict the encoder was built from.
        graph: node counts (in build order) and edge lists.
        etypes: canonical edge types in the order the encoder was built with.
        edge_feat_dims: edge-feature width per relation with edge features.
        params: the encoder's ``state_dict``.
        h, e_h: node and edge inputs; expected: DGL's output per node type.
    """
    meta = {
        "gsf": gsf,
        "ntypes": list(graph.num_nodes),
        "num_nodes": dict(graph.num_nodes),
        "etypes": [list(et) for et in etypes],
        "edge_feat_dims": {_etype_key(et): d for et, d in edge_feat_dims.items()},
    }
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    arrays |= {f"param/{k}": v.numpy() for k, v in params.items()}
    for et, (src, dst) in graph.edges.items():
        arrays[f"src/{_etype_key(et)}"], arrays[f"dst/{_etype_key(et)}"] = src.numpy(), dst.numpy()
    arrays |= {f"h/{nt}": x.numpy() for nt, x in h.items()}
    arrays |= {f"e_h/{_etype_key(et)}": x.numpy() for et, x in e_h.items()}
    arrays |= {f"expected/{nt}": x.numpy() for nt, x in expected.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def read_recording(path: Path) -> Recording:
    """Reads a recording written by ``write_recording``."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays.pop("meta")))
    etypes = [tuple(et) for et in meta["etypes"]]

    def group(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix):]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith(prefix)}

    src, dst = group("src/"), group("dst/")
    edges = {et: (src[_etype_key(et)], dst[_etype_key(et)]) for et in etypes}
    by_etype = {_etype_key(et): et for et in etypes}
    return Recording(
        gsf=meta["gsf"],
        ntypes=meta["ntypes"],
        etypes=etypes,
        edge_feat_dims={by_etype[k]: d for k, d in meta["edge_feat_dims"].items()},
        graph=RelationalGraph(dict(meta["num_nodes"]), edges),
        params=group("param/"),
        h=group("h/"),
        e_h={by_etype[k]: v for k, v in group("e_h/").items()},
        expected=group("expected/"),
    )


def assert_matches_recording(case: ReferenceCase) -> None:
    """Our encoder, given the recorded parameters and inputs, reproduces DGL's recorded output.

    The recorded parameters load strictly: the state_dict names and shapes are still the ones
    DGL's modules accepted when the recording was made.
    """
    rec = read_recording(recording_path(case))
    assert rec.gsf == case.gsf(), f"{recording_path(case)} is stale: rerun record_dgl_references.py"
    encoder = build_encoder(case.config(), rec.ntypes, rec.etypes, rec.edge_feat_dims).eval()
    encoder.load_state_dict(rec.params, strict=True)
    with torch.no_grad():
        got = encoder(rec.graph, rec.h, rec.e_h)
    assert set(rec.expected) == set(rec.ntypes)
    atol, rtol = case.atol_rtol
    for ntype, want in rec.expected.items():
        assert got[ntype].shape == want.shape
        torch.testing.assert_close(got[ntype], want, atol=atol, rtol=rtol)
