"""Hostile bodies of about 1 MB cost a worker a bounded amount of memory (issue: one long string
among many short values used to make numpy allocate (longest string) x (values) characters).

Each body runs in a fresh Python process that loads the model, answers a normal request,
then the hostile one: the growth of its peak RSS (``ru_maxrss``) is the cost of that request.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.compare import artifacts_dir

MODEL = "rgcn_nc"
PEAK_GROWTH_LIMIT_MB = 100
BODY_BYTES = 1_000_000


def _paper(i: int, **features) -> dict:
    feats = {"feat": [0.5] * 16, "year": 2001, "citations": 3, "venue": "KDD", **features}
    return {"node_type": "paper", "node_id": f"p{i}", "features": feats}


def _body(nodes: list[dict]) -> bytes:
    return json.dumps({"version": "gs-realtime-v0.1", "gml_task": "node_classification",
                       "graph": {"nodes": nodes, "edges": []},
                       "targets": [{"node_type": "paper", "node_id": "p0"}]}).encode()


def _with_long_value(make_node) -> bytes:
    """Short nodes, then one node whose value fills the body up to ~1 MB."""
    nodes = [_paper(i) for i in range(4000)]
    room = BODY_BYTES - len(_body(nodes)) - 200
    nodes.append(make_node(len(nodes), "9" * room))
    return _body(nodes)


HOSTILE = {
    "long_string_in_vector": lambda: _with_long_value(lambda i, s: _paper(i, feat=[s] + [0.5] * 15)),
    "long_string_scalar": lambda: _with_long_value(lambda i, s: _paper(i, citations=s)),
    "long_category_among_numbers": lambda: _body(
        [_paper(i, venue=i) for i in range(4000)]
        + [_paper(4000, venue="K" * (BODY_BYTES - len(_body([_paper(i, venue=i) for i in range(4000)])) - 200))]),
    "long_node_id": lambda: _with_long_value(lambda i, s: {**_paper(i), "node_id": s}),
    "huge_integers": lambda: _body([_paper(i, citations=10**400) for i in range(1700)]),
}

_SCRIPT = textwrap.dedent("""
    import resource, sys
    from handler import RealtimePredictor
    p = RealtimePredictor.from_artifacts(sys.argv[1])
    normal, hostile = open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
    for _ in range(3):
        assert p.predict(normal)["status_code"] == 200
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    env = p.predict(hostile)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(env["status_code"], (after - before) / 1024, len(env["error"]))
""")


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_1mb_body_costs_a_bounded_peak_rss(kind, tmp_path):
    hostile = HOSTILE[kind]()
    assert 900_000 < len(hostile) < 1_100_000
    normal = tmp_path / "normal.json"
    normal.write_bytes(_body([_paper(i) for i in range(4000)]))
    path = tmp_path / "hostile.json"
    path.write_bytes(hostile)
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(artifacts_dir(MODEL)), str(normal), str(path)],
                         cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    status, growth_mb, error_chars = out.stdout.split()
    assert int(status) < 500, out.stdout  # a client error envelope (or an answer), never a 5xx
    assert float(growth_mb) < PEAK_GROWTH_LIMIT_MB, f"{kind}: peak RSS grew {growth_mb} MB"
    assert int(error_chars) < 2000
