"""bench/plots.py: the benchmark's PNGs, drawn from synthetic results in bench/run.py's format."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from bench import plots

# Medians shaped like docs/performance.md's run: (nodes, ours ms, floor ms, GraphStorm ms).
INPROCESS = {
    "rgcn_nc": [(11, 2.4, 0.76, 9.4), (73, 3.3, 0.82, 10.7), (191, 4.1, 1.3, 13.3), (305, 4.2, 1.2, 15.6),
                (699, 9.2, 2.3, 21.7), (2920, 30.4, 14.1, 62.5)],
    "hgt_nc": [(11, 2.1, 1.2, 13.3), (73, 2.9, 1.0, 15.0), (2920, 38.1, 18.9, 71.8)],
    "sage_homo_nc": [(10, 0.8, 0.33, 3.7), (38, 1.0, 0.38, 4.1), (2108, 22.2, 6.9, None)],
}
SERVING = {  # (batch, workers) -> req/s at concurrency 1, 4, 16
    (1, 1): (148, 184, 249), (1, 2): (212, 586, 584), (8, 1): (80, 214, 323), (8, 2): (89, 235, 730),
}


def summary(median: float) -> dict:
    return {"min": median * 0.8, "median": median, "p99": median * 1.4, "mean": median, "runs": 60}


def synthetic_run(started: str, *, inprocess: bool = True, serving: bool = True, quick: bool = False) -> dict:
    """A run in bench/run.py's format (only the fields a reader of results relies on)."""
    run = {"environment": {"python": "3.11.7", "torch": "2.2.1", "cpu": "AMD EPYC", "nproc": 2,
                           "torch_num_threads": 1, "wrk": True, "git_commit": "abc1234"},
           "quick": quick, "started": started}
    if inprocess:
        cases = []
        for variant, rows in INPROCESS.items():
            for i, (nodes, ours, floor, gs) in enumerate(rows):
                cases.append({"variant": variant, "case": f"v0{i + 1}", "num_nodes": nodes, "num_edges": nodes,
                              "body_bytes": 500 * nodes, "total": summary(ours), "stages": {},
                              "floor": {"json_parse": floor / 2, "forward": floor / 2, "sum": floor},
                              "graphstorm_median_ms": gs, "checks": {}})
        run["inprocess"] = {"runs": 60, "warmup": 5, "machine_load": {}, "cases": cases}
    if serving:
        points = []
        for (batch, workers), rates in SERVING.items():
            for handler, scale in (("gs", 1), ("noop", 8)):
                for conc, rps in zip((1, 4, 16), rates, strict=True):
                    points.append({"handler": handler, "batch_size": batch, "workers": workers,
                                   "delay_ms": 5 if batch > 1 else 0, "tool": "wrk", "concurrency": conc,
                                   "requests": rps * 5, "seconds": 5.0, "rps": rps * scale,
                                   "p50_ms": 1000 * conc / (rps * scale), "p99_ms": 2000 * conc / (rps * scale),
                                   "errors": 0})
        run["serving"] = {"variant": "rgcn_nc", "case": "v02_small", "body_bytes": 37800, "cold_start_s": 3.9,
                          "memory": {}, "points": points}
    return run


def write(tmp_path: Path, name: str, run: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(run))
    return path


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; fails on anything but a PNG."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", head
    return struct.unpack(">II", head[16:24])


def panels(fig) -> dict:
    """Title -> axes of the figure's data panels (legend and footer rows have no title)."""
    return {ax.get_title(): ax for ax in fig.axes if ax.get_visible() and ax.get_title()}


def all_texts(fig) -> list[str]:
    return [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in ax.texts]


def test_both_pictures_are_drawn_from_one_full_run(tmp_path):
    run = write(tmp_path, "latest.json", synthetic_run("2026-11-27T10:00:00Z"))
    assert plots.main([str(run), "--out", str(tmp_path / "png")]) == 0
    for name in (plots.LATENCY_PNG, plots.THROUGHPUT_PNG):
        width, height = png_size(tmp_path / "png" / name)
        assert 800 <= width <= 1400 and 350 <= height <= 1400, (name, width, height)


def test_latency_figure_has_a_panel_per_model_with_graphstorm_where_recorded():
    fig = plots.latency_figure({**synthetic_run("t", serving=False), "_path": "run.json"})
    drawn = panels(fig)
    assert list(drawn) == list(INPROCESS)
    for ax, rows in zip(drawn.values(), INPROCESS.values(), strict=True):
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert list(lines["gs-torchserve median"].get_ydata()) == [ours for _, ours, _, _ in rows]
        recorded = [gs for *_, gs in rows if gs]
        assert list(lines["GraphStorm 0.5.1 median (recorded)"].get_ydata()) == recorded
        speedups = [t.get_text() for t in ax.texts]
        assert speedups == [f"{gs / ours:.1f}x" for _, ours, _, gs in rows if gs]
        assert ax.get_xscale() == ax.get_yscale() == "log"


def test_throughput_figure_has_a_line_per_setting():
    fig = plots.throughput_figure({**synthetic_run("t", inprocess=False), "_path": "run.json"})
    rps, p50 = panels(fig).values()
    labelled = {line.get_label(): list(line.get_ydata()) for line in rps.get_lines()
                if not line.get_label().startswith("_")}
    assert labelled["batch 8, 5 ms delay, 2 workers"] == list(SERVING[(8, 2)])
    assert labelled["batch 1, 1 worker"] == list(SERVING[(1, 1)])
    assert "no-op handler (server ceiling)" in labelled
    assert len(rps.get_lines()) == 2 * len(SERVING) and len(p50.get_lines()) == len(SERVING)


def test_each_picture_comes_from_the_newest_run_that_has_its_part(tmp_path):
    old = synthetic_run("2026-11-20T10:00:00Z")
    new_inprocess_only = synthetic_run("2026-11-27T10:00:00Z", serving=False)
    runs = plots.load_runs([write(tmp_path, "b.json", new_inprocess_only), write(tmp_path, "a.json", old)])
    assert plots.newest_with(runs, "inprocess")["_path"].endswith("b.json")
    assert plots.newest_with(runs, "serving")["_path"].endswith("a.json")
    written = plots.write_plots([tmp_path / "b.json"], tmp_path / "png")
    assert [p.name for p in written] == [plots.LATENCY_PNG]  # no serving part: no throughput picture


def test_a_quick_run_says_so_on_the_picture():
    fig = plots.throughput_figure({**synthetic_run("t", inprocess=False, quick=True), "_path": "q.json"})
    assert any(t.startswith("QUICK RUN") for t in all_texts(fig))


@pytest.mark.parametrize("run", [{"started": "t"}, {"started": "t", "inprocess": {"cases": []}}])
def test_nothing_to_draw_exits_1(tmp_path, run):
    assert plots.main([str(write(tmp_path, "empty.json", run)), "--out", str(tmp_path / "png")]) == 1
    assert not (tmp_path / "png" / plots.LATENCY_PNG).exists()
