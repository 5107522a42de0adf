#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment in .venv: Python 3.11, the pinned
# runtime stack and the test tools. Idempotent: reinstalls only when setup.py or the C extension's
# source changed (the editable install builds handler/native/_fastpath*.so in the source tree).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
py="${GS_PYTHON:-$(command -v python3.11 || true)}"
if [ -z "$py" ]; then
  echo "bootstrap: Python 3.11 is required (python3.11 not found; set GS_PYTHON)" >&2
  exit 1
fi
if ! command -v java >/dev/null 2>&1; then
  echo "bootstrap: TorchServe needs a Java 17 runtime; installing openjdk-17-jre-headless" >&2
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless) >&2
  else
    echo "bootstrap: install a Java 17 runtime and re-run" >&2; exit 1
  fi
fi
stamp="$venv/.gs-installed"
want="$(cat "$root/setup.py" "$root"/handler/native/*.[ch] "$root"/handler/native/vendor/*.[ch] | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
echo "bootstrap: installing into $venv (first run downloads torch; a few minutes)" >&2
"$venv/bin/python" -m pip install -q --upgrade pip >&2
"$venv/bin/python" -m pip install -q -e "$root[serve,test,bench]" >&2
echo "$want" > "$stamp"
