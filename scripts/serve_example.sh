#!/usr/bin/env bash
# Serves the bundled example model (examples/acm_rgcn, a GraphStorm RGCN node classifier) with
# TorchServe on 127.0.0.1, in the background, and prints a working curl call.
#   bash scripts/serve_example.sh          # start (installs .venv on first run)
#   bash scripts/stop_example.sh           # stop
# Ports (override when taken): GS_INFERENCE_PORT=8080 GS_MANAGEMENT_PORT=8081
# GS_METRICS_PORT=8082 GS_GRPC_INFERENCE_PORT=7070 GS_GRPC_MANAGEMENT_PORT=7071.
# Everything the server writes (model store, logs, TMPDIR with its pid file) is under .serve/
# (or $GS_SERVE_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh

model=acm_rgcn
example="$root/examples/$model"
serve="${GS_SERVE_DIR:-$root/.serve}"
inference_port="${GS_INFERENCE_PORT:-8080}"
management_port="${GS_MANAGEMENT_PORT:-8081}"
metrics_port="${GS_METRICS_PORT:-8082}"
grpc_inference_port="${GS_GRPC_INFERENCE_PORT:-7070}"
grpc_management_port="${GS_GRPC_MANAGEMENT_PORT:-7071}"
py="$root/.venv/bin/python"

# The pid file lives in TorchServe's TMPDIR: one private TMPDIR = one instance we own.
export TMPDIR="$serve/tmp" TEMP="$serve/tmp" TMP="$serve/tmp"
export LOG_LOCATION="$serve/logs" METRICS_LOCATION="$serve/logs"
pid_file="$TMPDIR/.model_server.pid"
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != "Z" ]; }
if [ -f "$pid_file" ] && alive "$(cat "$pid_file")"; then
  echo "serve_example: TorchServe is already running (pid $(cat "$pid_file")); stop it with: bash scripts/stop_example.sh" >&2
  exit 1
fi
for port in "$inference_port" "$management_port" "$metrics_port" "$grpc_inference_port" "$grpc_management_port"; do
  if ! "$py" -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1])))" "$port" 2>/dev/null; then
    echo "serve_example: port $port on 127.0.0.1 is in use; choose others with GS_*_PORT (see the top of this script)" >&2
    exit 1
  fi
done
rm -rf "$serve"
mkdir -p "$serve/model_store" "$TMPDIR" "$LOG_LOCATION"

echo "serve_example: building $serve/model_store/$model.mar" >&2
"$py" -m mar_builder.cli \
  --restore-model-path "$example" \
  --model-yaml-config-file "$example/GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml" \
  --graph-json-config-file "$example/data_transform_new.json" \
  --infer-task-type node_classification \
  --model-name "$model" \
  --export-path "$serve/model_store" \
  --batch-size 8 --max-batch-delay 10 --min-workers 1 >/dev/null

# serving_config/config.properties with this run's ports.
sed -E \
  -e "s#^inference_address=.*#inference_address=http://127.0.0.1:$inference_port#" \
  -e "s#^management_address=.*#management_address=http://127.0.0.1:$management_port#" \
  -e "s#^metrics_address=.*#metrics_address=http://127.0.0.1:$metrics_port#" \
  -e "s#^grpc_inference_port=.*#grpc_inference_port=$grpc_inference_port#" \
  -e "s#^grpc_management_port=.*#grpc_management_port=$grpc_management_port#" \
  serving_config/config.properties > "$serve/config.properties"

echo "serve_example: starting TorchServe (logs in $LOG_LOCATION)" >&2
# `torchserve --start` returns at once; its JVM keeps the inherited stdout/stderr, so send them
# to a file (never a pipe) and detach from this terminal.
setsid "$root/.venv/bin/torchserve" --start --ncs \
  --ts-config "$serve/config.properties" \
  --model-store "$serve/model_store" \
  --models "$model=$model.mar" \
  --log-config "$root/serving_config/log4j2.xml" \
  >"$LOG_LOCATION/launcher.log" 2>&1 </dev/null &

# Ready = the model has a READY worker (/ping says Healthy before that).
if ! "$py" - "$management_port" "$model" "$pid_file" <<'PY'
import json, os, sys, time, urllib.request
port, model, pid_file = sys.argv[1], sys.argv[2], sys.argv[3]
start = time.monotonic()
while time.monotonic() - start < 180:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/models/{model}", timeout=2) as r:
            if any(w["status"] == "READY" for m in json.load(r) for w in m["workers"]):
                sys.exit(0)
    except OSError:
        pass
    try:  # the JVM whose pid the launcher wrote must still be alive
        os.kill(int(open(pid_file).read()), 0)
    except (OSError, ValueError):
        if time.monotonic() - start > 20:
            sys.exit(1)
    time.sleep(0.5)
sys.exit(1)
PY
then
  echo "serve_example: TorchServe did not get ready; last log lines:" >&2
  tail -n 30 "$LOG_LOCATION"/*.log >&2 || true
  bash "$root/scripts/stop_example.sh" >/dev/null 2>&1 || true
  exit 1
fi

cat <<MSG
TorchServe is serving '$model' on http://127.0.0.1:$inference_port (pid $(cat "$pid_file")).

Predict (payload: examples/$model/payloads/tiny.json):
  curl -s -X POST http://127.0.0.1:$inference_port/predictions/$model \\
       -H 'Content-Type: application/json' --data-binary @examples/$model/payloads/tiny.json

SageMaker-style route:   curl -s -X POST http://127.0.0.1:$inference_port/invocations -H 'Content-Type: application/json' --data-binary @examples/$model/payloads/tiny.json
Model status:            curl -s http://127.0.0.1:$management_port/models/$model
Prometheus metrics:      curl -s http://127.0.0.1:$metrics_port/metrics
Stop:                    bash scripts/stop_example.sh
MSG
