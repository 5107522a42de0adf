#!/usr/bin/env bash
# Stops the TorchServe started by scripts/serve_example.sh (and its model workers).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
serve="${GS_SERVE_DIR:-$root/.serve}"
export TMPDIR="$serve/tmp" TEMP="$serve/tmp" TMP="$serve/tmp"
pid_file="$TMPDIR/.model_server.pid"
# Running = the process exists and is not a zombie waiting to be reaped.
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != "Z" ]; }
if [ ! -f "$pid_file" ] || ! alive "$(cat "$pid_file")"; then
  echo "stop_example: TorchServe (from scripts/serve_example.sh) is not running"
  exit 0
fi
pid="$(cat "$pid_file")"
cd "$serve"  # `torchserve --stop` deletes ./key_file.json: keep that inside .serve/
# --foreground: wait (up to 60 s) until the server has shut its workers down and exited.
"$root/.venv/bin/torchserve" --stop --foreground
for _ in $(seq 1 50); do
  alive "$pid" || { echo "stop_example: TorchServe stopped"; exit 0; }
  sleep 0.2
done
echo "stop_example: TorchServe (pid $pid) did not stop; killing it" >&2
kill -9 "$pid" 2>/dev/null || true
