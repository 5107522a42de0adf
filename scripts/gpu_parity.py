"""Fixture parity on a GPU: every case of every fixture answered on ``cuda:0`` against target/.

The test suite runs on CPU (CI has no GPU); run this where a GPU is available, from the repository
root: ``PYTHONPATH=. python3 scripts/gpu_parity.py``. Each fixture is answered one request at a
time and as one batch; a line per fixture, then a JSON summary; exit status 1 on any mismatch.
Last run (2026-11-27, NVIDIA H100, torch 2.11.0+cu130, transformers 5.17): 443/443 cases, batch
443/443 (it found the CPU index of an edgeless payload graph, handler/nn/relation_plan.py).
"""

from __future__ import annotations

import json
import sys

import torch

from bench.fixtures import VARIANTS, artifacts_dir, assert_matches_target, lm_models, load_cases
from handler import RealtimePredictor


def _matches(case, envelope: dict) -> bool:
    try:
        assert_matches_target(case, envelope)
    except AssertionError as err:
        print("MISMATCH", case.id, str(err)[:300])
        return False
    return True


def main() -> int:
    print("torch", torch.__version__, torch.cuda.get_device_name(0))
    summary, failed = {}, False
    for variant in VARIANTS:
        predictor = RealtimePredictor.from_artifacts(artifacts_dir(variant), device="cuda:0",
                                                     lm_models=lm_models(variant))
        cases = load_cases(variant)
        alone = sum(_matches(c, predictor.predict(c.body, c.content_type)) for c in cases)
        batch = predictor.predict_batch([c.body for c in cases], [c.content_type for c in cases])
        together = sum(_matches(c, env) for c, env in zip(cases, batch, strict=True))
        summary[variant] = f"{alone}/{len(cases)} cases ok, batch {together}/{len(cases)}"
        failed |= alone < len(cases) or together < len(cases)
        print(variant, summary[variant], flush=True)
    print(json.dumps(summary, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
