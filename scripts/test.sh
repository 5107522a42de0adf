#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up .venv, lint, type-check handler/, run pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k rgcn).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy  # handler/, configured in mypy.ini
exec .venv/bin/python -m pytest "$@"
