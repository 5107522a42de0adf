"""Records ``tests/fixtures/dgl_reference/``: each ``ReferenceCase`` run once through DGL's own
conv modules (with GraphStorm's wrapper steps) and stored as inputs, parameters and outputs, so
the tests compare our encoders with DGL without DGL installed.

Needs an environment with DGL 2.1.0 (and the torch it loads with, 2.2.1). Not collected by pytest.
Run from the repository root after changing ``reference_cases.py``:

    DGLBACKEND=pytorch python -m tests.handler.nn.record_dgl_references
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("DGLBACKEND", "pytorch")

import dgl  # noqa: E402  (after DGLBACKEND)
import torch  # noqa: E402

from handler.nn.encoder import build_encoder  # noqa: E402
from handler.nn.relational_graph import RelationalGraph  # noqa: E402
from tests.handler.nn.dgl_hetero_reference import rgat_reference, rgcn_reference  # noqa: E402
from tests.handler.nn.dgl_homogeneous_reference import reference_forward  # noqa: E402
from tests.handler.nn.recorded_reference import RECORDINGS_DIR, recording_path, write_recording  # noqa: E402
from tests.handler.nn.reference_cases import (  # noqa: E402
    CASES,
    HETERO_EDGES,
    HETERO_EFEAT_REL,
    HETERO_HIDDEN,
    HETERO_NUM_NODES,
    HOMOGENEOUS_NTYPE,
    HOMOGENEOUS_NUM_NODES,
    HOMOGENEOUS_RELATION,
    ReferenceCase,
    hetero_graph,
)

# Parameters: seed 0 (``randomize``); homogeneous edges: seed = number of edges; inputs: seed 1.
PARAM_SEED = 0
INPUT_SEED = 1


def randomize(module: torch.nn.Module, seed: int = PARAM_SEED) -> None:
    """Random values for every floating parameter (and positive BatchNorm variances)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                values = torch.randn(tensor.shape, generator=gen) * 0.5
                tensor.copy_(values.abs() + 0.5 if name.endswith("running_var") else values)


def random_graph(num_nodes: int, num_edges: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random edges; the last node keeps zero in-degree, duplicates and self-loops allowed."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    dst = torch.randint(0, num_nodes - 1, (num_edges,), generator=gen)
    return src, dst


def record_homogeneous(case: ReferenceCase) -> None:
    """Records a SAGE / GAT / GATv2 case on a random ``_N`` graph (zero in-degree included)."""
    assert case.num_edges is not None
    config = case.config()
    ours = build_encoder(config, [HOMOGENEOUS_NTYPE], [HOMOGENEOUS_RELATION], {}).eval()
    randomize(ours)
    src, dst = random_graph(HOMOGENEOUS_NUM_NODES, case.num_edges, seed=case.num_edges)
    h = torch.randn(HOMOGENEOUS_NUM_NODES, config.hidden_size, generator=torch.Generator().manual_seed(INPUT_SEED))
    expected = reference_forward(case.encoder, ours, config, src, dst, h)
    graph = RelationalGraph({HOMOGENEOUS_NTYPE: HOMOGENEOUS_NUM_NODES}, {HOMOGENEOUS_RELATION: (src, dst)})
    write_recording(recording_path(case), case.gsf(), graph, [HOMOGENEOUS_RELATION], {}, ours.state_dict(),
                    {HOMOGENEOUS_NTYPE: h}, {}, {HOMOGENEOUS_NTYPE: expected})


def record_hetero(case: ReferenceCase) -> None:
    """Records an RGCN / RGAT case on the small heterogeneous graph."""
    config = case.config()
    efeat = {HETERO_EFEAT_REL: HETERO_HIDDEN} if config.edge_feat_names else {}
    etypes = list(HETERO_EDGES)
    ours = build_encoder(config, list(HETERO_NUM_NODES), etypes, efeat).eval()
    randomize(ours)
    graph = hetero_graph()
    dgl_graph = dgl.heterograph(graph.edges, num_nodes_dict=HETERO_NUM_NODES)
    gen = torch.Generator().manual_seed(INPUT_SEED)
    h = {nt: torch.randn(n, HETERO_HIDDEN, generator=gen) for nt, n in HETERO_NUM_NODES.items()}
    e_h = ({HETERO_EFEAT_REL: torch.rand(len(HETERO_EDGES[HETERO_EFEAT_REL][0]), HETERO_HIDDEN, generator=gen) + 0.5}
           if efeat else {})
    with torch.no_grad():
        if case.encoder == "rgcn":
            expected = rgcn_reference(ours, dgl_graph, h, e_h)
        else:
            expected = rgat_reference(ours, dgl_graph, h)
    write_recording(recording_path(case), case.gsf(), graph, etypes, efeat, ours.state_dict(), h, e_h, expected)


def main() -> None:
    """Records every case and a ``manifest.json`` with the versions that produced them."""
    for cases in CASES.values():
        for case in cases:
            (record_homogeneous if case.homogeneous else record_hetero)(case)
    manifest = {
        "produced_by": "python -m tests.handler.nn.record_dgl_references",
        "dgl": dgl.__version__,
        "torch": torch.__version__,
        "cases": [case.name for cases in CASES.values() for case in cases],
    }
    (RECORDINGS_DIR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(p.stat().st_size for p in RECORDINGS_DIR.rglob("*") if p.is_file())
    print(f"recorded {len(manifest['cases'])} cases, {total / 1024:.0f} KiB in {RECORDINGS_DIR}")


if __name__ == "__main__":
    main()
