#!/usr/bin/env bash
# Answers a targets-only request on the bundled example model (examples/acm_rgcn), without a
# server: loads the example's graph tables (examples/acm_rgcn/tables) into an embedded graph
# store once (.example-store/, or $GS_EXAMPLE_STORE), then gs-predict completes the request
# examples/acm_rgcn/payloads/targets_only.json ({"targets": [...]} and no graph) from the store
# and prints the endpoint's envelope.
#   bash scripts/targets_example.sh [PAYLOAD.json]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
example="$root/examples/acm_rgcn"
store="${GS_EXAMPLE_STORE:-$root/.example-store/acm_rgcn}"
py="$root/.venv/bin/python"
if [ ! -d "$store" ]; then
  mkdir -p "$(dirname "$store")"
  "$py" -m handler.graph_store load --quiet --graph-json-config-file "$example/data_transform_new.json" \
    --input-dir "$example/tables" --store "$store" >/dev/null
fi
"$py" -m mar_builder.predict_cli --model-dir "$example" --graph-store "$store" \
  "${1:-$example/payloads/targets_only.json}"
