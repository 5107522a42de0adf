#!/usr/bin/env bash
# Installs the serving stack (setup.py's `serve` extra) and this project into a virtual environment.
# Used by docker/Dockerfile; runnable on any Debian-like host with Python 3.11 for the same result.
#   install_runtime.sh DEVICE VENV [PROJECT_ROOT] [STEP]
#     DEVICE        cpu: torch from $TORCH_INDEX_URL (default PyTorch's CPU wheel index: small
#                   image; empty: PyPI); gpu: PyPI's (CUDA) torch
#     VENV          folder of the virtual environment (created if missing)
#     PROJECT_ROOT  default: the folder above this script
#     STEP          deps: torch and the `serve` extra's pins (needs only PROJECT_ROOT/setup.py, so
#                   the Dockerfile caches this layer until setup.py changes); project: this project
#                   without dependencies; all (default): both
# The torch requirement is read from setup.py, so its pin decides the image's version.
set -euo pipefail
usage="usage: install_runtime.sh cpu|gpu VENV [PROJECT_ROOT] [deps|project|all]"
device="${1:?$usage}"
venv="${2:?$usage}"
root="${3:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
step="${4:-all}"
python="${GS_PYTHON:-python3.11}"
torch_index="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"

case "$device" in cpu|gpu) ;; *) echo "install_runtime.sh: DEVICE must be cpu or gpu, got '$device'" >&2; exit 2 ;; esac
case "$step" in deps|project|all) ;; *) echo "install_runtime.sh: STEP must be deps, project or all, got '$step'" >&2; exit 2 ;; esac

# setup.py's requirement string for a package (e.g. torch==2.13.0), empty when it has none.
requirement() { grep -oE "\"$1([<>=!~][^\"]*)?\"" "$root/setup.py" | head -1 | tr -d '"' || true; }

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --no-cache-dir)

if [ "$step" != "project" ]; then
  "${pip[@]}" --upgrade pip
  torch_req="$(requirement torch)"
  if [ "$device" = cpu ] && [ -n "$torch_index" ]; then
    # e.g. torch 2.13.0+cpu satisfies torch==2.13.0 without the CUDA libraries (~2.5 GB).
    "${pip[@]}" --index-url "$torch_index" "${torch_req:-torch}"
  else
    # PyPI's Linux torch is the CUDA build (CUDA runtime from nvidia-* wheels).
    "${pip[@]}" "${torch_req:-torch}"
  fi
  # The `serve` extra's pins (torch is already satisfied). With only setup.py
  # in PROJECT_ROOT this installs the dependencies and an empty package that `project` replaces.
  "${pip[@]}" "${root}[serve]"
fi
if [ "$step" != "deps" ]; then
  "${pip[@]}" --no-deps --force-reinstall "$root"
fi
