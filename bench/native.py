"""The C happy path (``handler.native``) on and off, interleaved in one process.

For each payload, ``rounds`` rounds; each round answers the payload ``RealtimePredictor.answer``
once with the extension and once without (the switch ``handler.native.fastpath``, in turn, so
that load from other processes falls on both alike) and keeps the stage timings the predictor
records (``parse``: grouping; ``build``: node indices, feature columns and transforms) and the
wall time of the whole call. Prints the fastest of each, the ratio off / on and the load average.
``--only edge_index ...``: the "off" side keeps the extension but without the named functions
(they answer None, so their Python paths run): the gain of those functions alone.

Run: ``python -m bench.native [--rounds 40] [--cases rgcn_nc/v06_large_full ...] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import os
import time
from types import ModuleType, SimpleNamespace
from typing import Any

from bench.fixtures import FIXTURES_DIR
from handler import RealtimePredictor, native
from handler.contract.names import JSON_CONTENT_TYPE
from handler.serving.predictor import RawRequest

DEFAULT_CASES = ("rgcn_nc/v02_small", "rgcn_nc/v04_medium_full", "rgcn_nc/v06_large_full", "hgt_er/v06_large_full")
MEASURES = ("parse", "build", "answer")
FUNCTIONS = ("group_nodes", "group_edges", "number_column", "edge_index", "index_ids")


def _refuse(*args: Any) -> None:
    return None


def without(compiled: ModuleType, names: list[str]) -> SimpleNamespace:
    """The extension with the named functions answering None (their Python paths run)."""
    return SimpleNamespace(**{name: _refuse if name in names else getattr(compiled, name) for name in FUNCTIONS})


def measure(predictor: RealtimePredictor, body: bytes, rounds: int,
            off: Any = None) -> dict[bool, dict[str, float]]:
    """Fastest ms of each measure with the extension (True) and without it (False; ``off``: this
    stand-in for it instead)."""
    compiled = native.fastpath
    best = {on: dict.fromkeys(MEASURES, float("inf")) for on in (True, False)}
    request = [RawRequest(body, JSON_CONTENT_TYPE)]
    try:
        for index in range(rounds + 2):  # the first two rounds warm up
            for on in (True, False) if index % 2 else (False, True):
                native.fastpath = compiled if on else off
                start = time.perf_counter()
                (outcome,) = predictor.answer(request)
                wall = (time.perf_counter() - start) * 1000
                if outcome.status_code != 200:
                    raise AssertionError(f"answered {outcome.status_code}")
                if index < 2:
                    continue
                got = {"parse": outcome.timings_ms["parse"], "build": outcome.timings_ms["build"], "answer": wall}
                best[on] = {m: min(best[on][m], got[m]) for m in MEASURES}
    finally:
        native.fastpath = compiled
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.native", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds per payload (fastest kept)")
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES), help="variant/case payloads")
    parser.add_argument("--only", nargs="+", choices=FUNCTIONS, default=[],
                        help='switch only these functions off on the "off" side')
    args = parser.parse_args(argv)
    if native.fastpath is None:
        raise SystemExit("the C extension is not built (python setup.py build_ext --inplace) or GS_NATIVE=false")
    off = without(native.fastpath, args.only) if args.only else None
    if args.only:
        print(f"off: the extension without {', '.join(args.only)}")
    predictors: dict[str, RealtimePredictor] = {}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| payload | nodes / edges | " + " | ".join(f"{m} off / on ms (x)" for m in MEASURES) + " |")
    print("|---|---|" + "---|" * len(MEASURES))
    for name in args.cases:
        variant, case = name.split("/")
        if variant not in predictors:
            predictors[variant] = RealtimePredictor.from_artifacts(FIXTURES_DIR / variant / "artifacts")
        predictor = predictors[variant]
        body = (FIXTURES_DIR / variant / "payloads" / f"{case}.json").read_bytes()
        parsed = predictor.parse(predictor.decode(body, JSON_CONTENT_TYPE))
        best = measure(predictor, body, args.rounds, off)
        cells = [f"{best[False][m]:.3f} / {best[True][m]:.3f} ({best[False][m] / best[True][m]:.2f})" for m in MEASURES]
        print(f"| {name} | {parsed.num_nodes} / {parsed.num_edges} | " + " | ".join(cells) + " |")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
