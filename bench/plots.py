"""The benchmark's results as pictures for docs/performance.md: ``python -m bench.plots [RUN.json ...]``.

Reads runs written by ``bench/run.py`` (default: ``bench/results/latest.json``) and draws, from
the newest run (by its ``started`` time) that has the part:

* ``latency_by_payload.png`` (the ``inprocess`` part): median in-process latency per payload,
  with its min..p99 range and the floor (JSON parse + one forward), against GraphStorm 0.5.1's
  recorded median, by the payload graph's node count; one panel per model, each payload's
  speedup over GraphStorm written next to it.
* ``throughput_by_concurrency.png`` (the ``serving`` part): TorchServe requests per second and
  median latency by client concurrency, one line per archive setting (batch size, workers) of
  the GraphStorm handler; the no-op handler (the server's own ceiling) in grey.

Each picture names the run it was drawn from, the machine, and warns when it is a quick run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display
from matplotlib.figure import Figure  # noqa: E402  (after the backend choice)
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

RESULTS = Path(__file__).with_name("results")
LATENCY_PNG = "latency_by_payload.png"
THROUGHPUT_PNG = "throughput_by_concurrency.png"
# Colour-blind-safe pair (Okabe-Ito): ours / GraphStorm, and one colour per batch size.
OURS, GRAPHSTORM, FLOOR = "#0072B2", "#D55E00", "#555555"
BATCH_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00")
WORKER_STYLES = ("-", "--", ":", "-.")
DPI = 110


def load_runs(paths: Sequence[Path]) -> list[dict]:
    """The benchmark runs in ``paths`` (JSON written by bench/run.py), each with ``_path`` added.

    Args:
        paths: result files.

    Returns:
        One dict per file, in the given order.
    """
    runs = []
    for path in paths:
        run = json.loads(Path(path).read_text())
        run["_path"] = str(path)
        runs.append(run)
    return runs


# The rows a part of a run holds (a part without rows has nothing to draw).
PART_ROWS = {"inprocess": "cases", "serving": "points"}


def newest_with(runs: Sequence[dict], part: str) -> dict | None:
    """The run with the latest ``started`` time whose ``part`` has rows to draw.

    Args:
        runs: from `load_runs`.
        part: "inprocess" or "serving".

    Returns:
        That run, or None when no run has the part.
    """
    having = [r for r in runs if (r.get(part) or {}).get(PART_ROWS[part])]
    return max(having, key=lambda r: r.get("started", "")) if having else None


def _footer(run: dict, detail: str) -> str:
    """Which run, on what machine; a loud warning for quick runs."""
    env = run.get("environment", {})
    text = (f"{Path(run['_path']).name}, started {run.get('started', '?')}; {env.get('cpu', '?')}, "
            f"{env.get('nproc', '?')} cores, torch {env.get('torch', '?')} "
            f"({env.get('torch_num_threads', '?')} thread); {detail}")
    if run.get("quick"):
        text = "QUICK RUN (smoke test, not for figures). " + text
    return text


def _ticks_at(axis, values: Sequence[float]) -> None:
    """Plain-number ticks exactly at ``values`` (e.g. the measured node counts)."""
    axis.set_ticks(sorted(set(values)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _plain_log(axis) -> None:
    """Ticks at 1, 2, 5 x 10^k labelled as plain numbers (no 10^x labels) on a log axis."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _frame(fig: Figure, rows: int, cols: int, legend_height: float,
           share_y: bool) -> tuple[list, object, object]:
    """Panels of a ``rows`` x ``cols`` grid between a legend row on top and a footer row.

    Own rows for the legend and the footer keep them off the data and off the title whatever
    the number of panels.

    Args:
        fig: the figure to fill.
        rows / cols: panel grid.
        legend_height: legend row height, relative to a panel row's 1.
        share_y: whether all panels share the first one's y axis.

    Returns:
        (panel grid as a list of rows, legend axes, footer axes); legend and footer are blank.
    """
    grid = fig.add_gridspec(rows + 2, cols, height_ratios=[legend_height, *[1.0] * rows, 0.06])
    first = fig.add_subplot(grid[1, 0])
    panels = [[first if (r, c) == (0, 0) else
               fig.add_subplot(grid[1 + r, c], sharey=first if share_y else None)
               for c in range(cols)] for r in range(rows)]
    legend_ax, footer_ax = fig.add_subplot(grid[0, :]), fig.add_subplot(grid[-1, :])
    legend_ax.axis("off")
    footer_ax.axis("off")
    return panels, legend_ax, footer_ax


def latency_figure(run: dict) -> Figure:
    """In-process latency by payload size against GraphStorm, one panel per model.

    Args:
        run: a run with an ``inprocess`` part (``cases``: variant, case, num_nodes, total,
            floor, graphstorm_median_ms).

    Returns:
        The figure.
    """
    cases = run["inprocess"]["cases"]
    variants = list(dict.fromkeys(c["variant"] for c in cases))
    cols = 1 if len(variants) == 1 else 2
    rows = math.ceil(len(variants) / cols)
    # At least 9 in wide: the title and the footer line need it even for a single panel.
    fig = Figure(figsize=(max(5.2 * cols, 9.0), 3.6 * rows + 1.2), dpi=DPI, layout="constrained")
    panels, legend_ax, footer_ax = _frame(fig, rows, cols, legend_height=0.12 * rows, share_y=True)
    flat = [ax for row in panels for ax in row]
    all_ms = [v for c in cases for v in (c["total"]["min"], c["total"]["p99"], c["floor"]["sum"],
                                         c.get("graphstorm_median_ms") or c["total"]["median"])]
    for ax, variant in zip(flat, variants, strict=False):
        mine = sorted((c for c in cases if c["variant"] == variant), key=lambda c: c["num_nodes"])
        nodes = [c["num_nodes"] for c in mine]
        ax.fill_between(nodes, [c["total"]["min"] for c in mine], [c["total"]["p99"] for c in mine],
                        color=OURS, alpha=0.15, linewidth=0, label="gs-torchserve min..p99")
        ax.plot(nodes, [c["total"]["median"] for c in mine], "o-", color=OURS, label="gs-torchserve median")
        ax.plot(nodes, [c["floor"]["sum"] for c in mine], "x:", markersize=4, color=FLOOR,
                label="floor (JSON parse + forward)")
        recorded = [c for c in mine if c.get("graphstorm_median_ms")]
        if recorded:
            ax.plot([c["num_nodes"] for c in recorded], [c["graphstorm_median_ms"] for c in recorded],
                    "s--", color=GRAPHSTORM, label="GraphStorm 0.5.1 median (recorded)")
            for c in recorded:
                ax.annotate(f"{c['graphstorm_median_ms'] / c['total']['median']:.1f}x",
                            (c["num_nodes"], c["graphstorm_median_ms"]), textcoords="offset points",
                            xytext=(0, 6), ha="center", fontsize=7, color=GRAPHSTORM)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _ticks_at(ax.xaxis, nodes)
        _plain_log(ax.yaxis)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.set_title(variant, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_xlabel("payload graph nodes")
    for row in panels:
        row[0].set_ylabel("latency per request (ms)")
    for ax in flat[len(variants):]:
        ax.set_visible(False)
    flat[0].set_ylim(min(all_ms) / 1.5, max(all_ms) * 2.0)  # room above for the speedup labels
    handles, labels = flat[0].get_legend_handles_labels()
    legend_ax.legend(handles, labels, loc="center", ncols=2, fontsize=8, frameon=False)
    fig.suptitle("In-process predict latency by payload size (labels: speedup over GraphStorm)",
                 fontsize=11)
    footer_ax.text(0.5, 0.5, _footer(run, f"{run['inprocess'].get('runs', '?')} timed runs per payload"),
                   ha="center", va="center", fontsize=6.5, color="#444444")
    return fig


def throughput_figure(run: dict) -> Figure:
    """TorchServe req/s and median latency by concurrency, per (batch size, workers) setting.

    Args:
        run: a run with a ``serving`` part (``points``: handler, batch_size, workers, delay_ms,
            concurrency, rps, p50_ms, errors, tool).

    Returns:
        The figure.
    """
    serving = run["serving"]
    points = serving["points"]
    batches = sorted({p["batch_size"] for p in points})
    workers = sorted({p["workers"] for p in points})
    fig = Figure(figsize=(10.4, 5.0), dpi=DPI, layout="constrained")
    (row,), legend_ax, footer_ax = _frame(fig, 1, 2, legend_height=0.16, share_y=False)
    ax_rps, ax_p50 = row
    for handler in ("noop", "gs"):
        for batch in batches:
            for worker in workers:
                line = sorted((p for p in points if (p["handler"], p["batch_size"], p["workers"])
                               == (handler, batch, worker)), key=lambda p: p["concurrency"])
                if not line:
                    continue
                conc = [p["concurrency"] for p in line]
                style = WORKER_STYLES[workers.index(worker) % len(WORKER_STYLES)]
                delay = f", {line[0]['delay_ms']} ms delay" if batch > 1 else ""
                if handler == "gs":
                    colour, width, marker = BATCH_COLOURS[batches.index(batch) % len(BATCH_COLOURS)], 1.8, "o"
                    label = f"batch {batch}{delay}, {worker} worker{'s' if worker > 1 else ''}"
                else:
                    colour, width, marker = "#AAAAAA", 1.0, "."
                    label = "no-op handler (server ceiling)" if (batch, worker) == (batches[0], workers[0]) else None
                ax_rps.plot(conc, [p["rps"] for p in line], marker=marker, linestyle=style,
                            color=colour, linewidth=width, label=label)
                if handler == "gs":
                    ax_p50.plot(conc, [p["p50_ms"] for p in line], marker=marker, linestyle=style,
                                color=colour, linewidth=width, label=label)
    concurrencies = [p["concurrency"] for p in points]
    for ax, ylabel, title in ((ax_rps, "requests per second", "Throughput"),
                              (ax_p50, "median latency (ms)", "Median latency (GraphStorm handler)")):
        ax.set_xscale("log", base=2)
        _ticks_at(ax.xaxis, concurrencies)
        ax.set_yscale("log")
        _plain_log(ax.yaxis)
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = ax_rps.get_legend_handles_labels()
    legend_ax.legend(handles, labels, loc="center", ncols=3, fontsize=8, frameon=False)
    errors = sum(p.get("errors", 0) for p in points)
    tools = sorted({p.get("tool", "?") for p in points})
    fig.suptitle(f"TorchServe end to end: {serving.get('variant', '?')}/{serving.get('case', '?')} "
                 f"({serving.get('body_bytes', 0) / 1000:.1f} KB per request)", fontsize=11)
    footer_ax.text(0.5, 0.5, _footer(run, f"load generator {', '.join(tools)}; {errors} failed requests"),
                   ha="center", va="center", fontsize=6.5, color="#444444")
    return fig


def write_plots(paths: Sequence[Path], out_dir: Path) -> list[Path]:
    """Draws every picture the runs in ``paths`` allow into ``out_dir``.

    Args:
        paths: result files of bench/run.py.
        out_dir: folder for the PNGs (created if missing).

    Returns:
        The PNGs written (none for a part no run has).
    """
    runs = load_runs(paths)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for part, name, draw in (("inprocess", LATENCY_PNG, latency_figure),
                             ("serving", THROUGHPUT_PNG, throughput_figure)):
        run = newest_with(runs, part)
        if run is None:
            continue
        path = out_dir / name
        draw(run).savefig(path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line; returns the exit status (1 when no run had anything to draw)."""
    p = argparse.ArgumentParser(prog="bench.plots", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="*", type=Path, default=[RESULTS / "latest.json"],
                   help="result files of bench/run.py (default: bench/results/latest.json)")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for the PNGs (default: bench/results)")
    args = p.parse_args(argv)
    written = write_plots(args.runs, args.out)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    if not written:
        print("bench.plots: no in-process or serving results in " + ", ".join(map(str, args.runs)),
              file=sys.stderr)
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
