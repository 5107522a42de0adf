"""The Arrow response against the JSON envelope: serialisation (and client decode) time.

For each fixture, the answer to its largest valid payload (by body size) is serialised both
ways, interleaved, fastest of ``--runs``: ``Envelope.to_bytes`` as JSON (orjson) and as our Arrow
response (``envelope_to_arrow``), and decoded both ways (``orjson.loads``;
``arrow_response_to_envelope``). Prints one row per fixture.

    .venv/bin/python -m bench.arrow_response [--runs 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable

import orjson

from bench.fixtures import VARIANTS, artifacts_dir, lm_models, load_cases
from handler.contract.arrow_response import arrow_response_to_envelope
from handler.contract.envelope import Envelope
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE
from handler.serving.predictor import RawRequest, RealtimePredictor


def _fastest_us(funcs: list[Callable[[], object]], runs: int) -> list[float]:
    """Fastest of ``runs`` calls of each function, in microseconds, the functions interleaved."""
    best = [float("inf")] * len(funcs)
    for _ in range(runs):
        for i, func in enumerate(funcs):
            start = time.perf_counter()
            func()
            best[i] = min(best[i], time.perf_counter() - start)
    return [b * 1e6 for b in best]


def _largest_answer(variant: str) -> tuple[str, int, Envelope]:
    """The fixture's largest valid payload (name, node count) and its success envelope."""
    cases = [c for c in load_cases(variant) if c.kind != "invalid" and c.target["status_code"] == 200]
    case = max(cases, key=lambda c: len(c.body))
    predictor = RealtimePredictor.from_artifacts(artifacts_dir(variant), lm_models=lm_models(variant))
    outcome = predictor.answer([RawRequest(case.body, case.content_type)])[0]
    assert outcome.status_code == 200, outcome.envelope
    return case.name, outcome.num_nodes or 0, outcome.envelope


def main(argv: list[str] | None = None) -> None:
    """Prints the table (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="bench.arrow_response", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="calls per side (fastest counts)")
    args = parser.parse_args(argv)
    header = (f"{'fixture/payload':>32} {'nodes':>5} {'rows':>4} {'width':>5} {'json B':>6} {'arrow B':>7} "
              f"{'json us':>7} {'arrow us':>8} {'x':>5} {'loads us':>8} {'from arrow us':>13}")
    print(header)
    for variant in VARIANTS:
        name, nodes, env = _largest_answer(variant)
        arrow_env = dataclasses.replace(env, media_type=ARROW_STREAM_CONTENT_TYPE)
        json_body, arrow_body = env.to_bytes(), arrow_env.to_bytes()
        ser_json, ser_arrow, load_json, load_arrow = _fastest_us(
            [env.to_bytes, arrow_env.to_bytes, lambda b=json_body: orjson.loads(b),
             lambda b=arrow_body: arrow_response_to_envelope(b)], args.runs)
        width = len(env.results[0]["prediction"])
        print(f"{variant + '/' + name:>32} {nodes:>5} {len(env.results):>4} {width:>5} {len(json_body):>6} "
              f"{len(arrow_body):>7} {ser_json:>7.1f} {ser_arrow:>8.1f} {ser_arrow / ser_json:>5.0f} "
              f"{load_json:>8.1f} {load_arrow:>13.1f}")


if __name__ == "__main__":
    main()
