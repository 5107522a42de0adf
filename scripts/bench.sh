#!/usr/bin/env bash
# The performance benchmark (docs/performance.md): in-process latency per fixture payload vs
# GraphStorm 0.5.1, then TorchServe end to end. Prints tables, writes bench/results/*.json and
# draws them (bench/plots.py): bench/results/latency_by_payload.png, throughput_by_concurrency.png;
# then the text payloads (bench/text.py): bench/results/text.md.
#   bash scripts/bench.sh            # full run, ~6-8 min on 2 cores
#   bash scripts/bench.sh --quick    # smoke run, ~2 min
#   bash scripts/bench.sh --graph-store [bench.graph_store options]   # graph-store load and
#       extraction (fixture graph + generated 1M-node/10M-edge power-law graph), only that
# Other options: .venv/bin/python -m bench.run --help
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
if [ "${1:-}" = "--graph-store" ]; then
  shift
  exec .venv/bin/python -m bench.graph_store "$@"
fi
# wrk drives the HTTP load (the Python fallback client costs more CPU on a small machine).
if ! command -v wrk >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >&2 \
    || echo "bench: wrk not installed; using the Python load generator" >&2
fi
.venv/bin/python -m bench.run "$@"
text_runs=15
for arg in "$@"; do
  case "$arg" in
    -h|--help) exit 0 ;;  # help only: there is no new run to draw
    --quick) text_runs=5 ;;
  esac
done
# Text payloads (tokenize / LM time per text node vs GraphStorm): bench/results/text.md.
.venv/bin/python -m bench.text --runs "$text_runs" | tee bench/results/text.md
# The pictures of this run (a part it skipped keeps its older picture).
.venv/bin/python -m bench.plots bench/results/latest.json
