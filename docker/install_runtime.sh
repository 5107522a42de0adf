#!/usr/bin/env bash
# Installs the pinned runtime stack and this project into a new virtual environment.
# Used by docker/Dockerfile; runnable on any Debian-like host with Python 3.11 for the same result.
#   install_runtime.sh DEVICE VENV [PROJECT_ROOT]
#     DEVICE        cpu: CPU-only torch wheels (small image); gpu: CUDA 12.1 torch and DGL wheels
#     VENV          folder of the virtual environment to create
#     PROJECT_ROOT  default: the folder above this script
set -euo pipefail
device="${1:?usage: install_runtime.sh cpu|gpu VENV [PROJECT_ROOT]}"
venv="${2:?usage: install_runtime.sh cpu|gpu VENV [PROJECT_ROOT]}"
root="${3:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
python="${GS_PYTHON:-python3.11}"
# The CUDA build of DGL 2.1.0 is not on PyPI (PyPI's dgl is CPU-only).
dgl_cuda_wheels="${DGL_CUDA_WHEELS:-https://data.dgl.ai/wheels/torch-2.2/cu121/repo.html}"

"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --no-cache-dir)
"${pip[@]}" --upgrade pip
case "$device" in
  cpu)
    # torch 2.2.1+cpu satisfies setup.py's torch==2.2.1 without the CUDA libraries (~2.5 GB).
    "${pip[@]}" --index-url https://download.pytorch.org/whl/cpu torch==2.2.1
    ;;
  gpu)
    # PyPI's Linux torch 2.2.1 is the CUDA 12.1 build (CUDA runtime from nvidia-* wheels).
    "${pip[@]}" torch==2.2.1
    "${pip[@]}" dgl==2.1.0 --find-links "$dgl_cuda_wheels"
    ;;
  *)
    echo "install_runtime.sh: DEVICE must be cpu or gpu, got '$device'" >&2
    exit 2
    ;;
esac
# The project with setup.py's runtime pins (torch and, for gpu, dgl are already satisfied).
"${pip[@]}" "$root"
