#!/usr/bin/env bash
# Runs a command with a C compiler and the Python headers present, then removes what it installed
# (the image keeps no compiler). Used by docker/Dockerfile around the project install, which
# builds the C extension handler/native/_fastpath.c (setup.py; without it the handler runs the
# pure-Python path, slower).
#   with_build_tools.sh PYTHON COMMAND [ARG...]
#     PYTHON   the interpreter the extension is built for (its headers are checked)
set -euo pipefail
usage="usage: with_build_tools.sh PYTHON COMMAND [ARG...]"
python="${1:?$usage}"
shift
[ "$#" -gt 0 ] || { echo "$usage" >&2; exit 2; }

headers="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
wanted=(gcc libc6-dev)
# python:3.11-slim keeps its headers; Debian's own python3.11 has them in python3.11-dev.
[ -f "$headers/Python.h" ] || wanted+=("python$version-dev")
installed=()
for package in "${wanted[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || installed+=("$package")
done
if [ "${#installed[@]}" -gt 0 ]; then
  apt-get update
  apt-get install -y --no-install-recommends "${installed[@]}"
fi
status=0
"$@" || status=$?
if [ "${#installed[@]}" -gt 0 ]; then
  apt-get purge -y --auto-remove "${installed[@]}"
  apt-get clean  # the downloaded .debs (~100 MB), kept by a base without Docker's apt settings
  rm -rf /var/lib/apt/lists/*
fi
exit "$status"
