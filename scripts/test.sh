#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up .venv, lint, run pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k rgcn).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
export DGLBACKEND=pytorch
.venv/bin/python -m ruff check .
exec .venv/bin/python -m pytest "$@"
