"""Text payloads in-process: tokenize and LM time per text node, whole request vs GraphStorm.

For each valid payload of the raw-text fixtures (``rgcn_nc_text_bert``: ``bert_hf``;
``rgcn_nc_lm``: ``tokenize_hf`` + fine-tuned BERT node encoder), medians over ``runs`` calls
after ``warmup``:

* ``tokenize``: the ``tokenize_hf`` fast-tokenizer call over the payload's titles;
* ``lm``: one LM forward over those tokens (``bert_hf``: the pretrained LM inside the
  transform; LM node encoder: the fine-tuned LM of the model);
* ``total``: ``envelope.dumps(predictor.predict(body))``, vs GraphStorm's ``timings.json``.

Run: ``python -m bench.text [--runs 15]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json

import torch

from bench.fixtures import FIXTURES_DIR as FIXTURES
from bench.inprocess import VALID_CASES, graphstorm_medians, summarize, time_calls
from handler import RealtimePredictor
from handler.contract import envelope
from handler.contract.lm_resolution import LMResolver
from handler.transforms.lm_loading import load_pretrained_lm
from handler.transforms.text_tokens import text_values
from handler.transforms.tokenize_hf import TokenizeHFTransform

VARIANTS = ("rgcn_nc_text_bert", "rgcn_nc_lm")
TEXT_NTYPE, TEXT_FEATURE, LM_NAME, MAX_SEQ = "paper", "title", "gs-tiny-bert", 16


def bench_variant(variant: str, runs: int, warmup: int) -> list[dict]:
    """One row per valid case of ``variant``."""
    lm_dir = FIXTURES / variant / "lm" / LM_NAME
    predictor = RealtimePredictor.from_artifacts(FIXTURES / variant / "artifacts", lm_models={LM_NAME: lm_dir})
    tokenizer = TokenizeHFTransform(TEXT_FEATURE, LMResolver(mapping={LM_NAME: lm_dir}).resolve(LM_NAME), MAX_SEQ)
    if variant == "rgcn_nc_lm":
        lm = predictor.model.node_embed._lm_models._lm_models[TEXT_NTYPE]
        def run_lm(tokens):
            return lm(tokens)
    else:
        pretrained = load_pretrained_lm(lm_dir.resolve())
        def run_lm(tokens):
            return pretrained(**tokens.model_inputs()).pooler_output
    gs = graphstorm_medians(variant)
    rows = []
    for case in VALID_CASES:
        body = (FIXTURES / variant / "payloads" / f"{case}.json").read_bytes()
        payload = json.loads(body)
        titles = text_values([n["features"][TEXT_FEATURE] for n in payload["graph"]["nodes"]
                              if n["node_type"] == TEXT_NTYPE])
        tokens = tokenizer.tokenize(titles)
        with torch.inference_mode():
            lm_ms = summarize(time_calls(lambda t=tokens: run_lm(t), runs, warmup))["median"]
        tok_ms = summarize(time_calls(lambda t=titles: tokenizer.tokenize(t), runs, warmup))["median"]
        total = summarize(time_calls(lambda b=body: envelope.dumps(predictor.predict(b)), runs, warmup))["median"]
        rows.append({"variant": variant, "case": case, "text_nodes": len(titles), "tokenize_ms": tok_ms,
                     "lm_ms": lm_ms, "total_ms": total, "graphstorm_ms": gs.get(case)})
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a Markdown table (per-text-node figures in microseconds)."""
    out = ["| payload | text nodes | tokenize ms | tokenize us/node | LM ms | LM us/node | request ms | "
           "GraphStorm ms | speed-up |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        n, gs = r["text_nodes"], r["graphstorm_ms"]
        speedup, gs_text = (f"{gs / r['total_ms']:.1f}x", f"{gs:.2f}") if gs else ("-", "-")
        out.append(f"| {r['variant']}/{r['case']} | {n} | {r['tokenize_ms']:.2f} | {1000 * r['tokenize_ms'] / n:.1f} | "
                   f"{r['lm_ms']:.2f} | {1000 * r['lm_ms'] / n:.1f} | {r['total_ms']:.2f} | {gs_text} | {speedup} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Runs the text benchmark and prints its table."""
    p = argparse.ArgumentParser(prog="python -m bench.text", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--warmup", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # as a TorchServe worker (docs/performance.md)
    rows = [r for v in VARIANTS for r in bench_variant(v, args.runs, args.warmup)]
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
