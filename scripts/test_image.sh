#!/usr/bin/env bash
# Opt-in test of the real SageMaker endpoint image (not part of CI: it needs root, a Docker engine,
# Debian's and PyPI's package servers, and 15-25 minutes for a first build).
#
#   bash scripts/test_image.sh            # engine, base, build, then tests/docker/test_image.py
#
# Steps:
#  1. a Docker engine: starts `dockerd` (vfs storage, no iptables/bridge: builds and runs use the
#     host network) when `docker info` fails; installs docker.io/debootstrap with apt when missing;
#  2. a base image equivalent to python:3.11-slim-bookworm made from Debian packages with
#     debootstrap (Docker Hub is not reachable here), carrying the CA bundle that $PIP_CERT names
#     (HTTPS here goes through a proxy with its own CA) with PIP_CERT set to it;
#  3. `docker build` of docker/Dockerfile (DEVICE=cpu) on that base; torch from PyPI, because
#     PyTorch's CPU wheel index is not reachable here (GS_TORCH_INDEX_URL overrides; real builds
#     keep the Dockerfile's default, the CPU wheels);
#  4. pytest -m image tests/docker/test_image.py: `docker run --network host IMAGE serve` with the
#     rgcn_nc fixture's raw artifacts and with a .mar (and GS_EMF_METRICS=true) at /opt/ml/model;
#     /ping; every fixture case through /invocations against target/; non-root; clean exit on
#     `docker stop`; EMF lines on stdout; image size; cold start (docker run to the first /ping
#     200) with its phases (serve.py started, TorchServe starting, frontend up).
# The last line reads `image: <ok>/<total> cases ok, <size> MB, cold start <s> s`.
#
# Environment: GS_IMAGE (tag, default gs-torchserve:image-test), GS_IMAGE_BASE (base tag, default
# gs-test-base:bookworm-py311; made once, reused), GS_IMAGE_WORK (scratch, default
# /var/tmp/gs-image-test), GS_TORCH_INDEX_URL (default empty: PyPI), GS_SKIP_BUILD=1 (test an
# existing GS_IMAGE).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
image="${GS_IMAGE:-gs-torchserve:image-test}"
base="${GS_IMAGE_BASE:-gs-test-base:bookworm-py311}"
work="${GS_IMAGE_WORK:-/var/tmp/gs-image-test}"
python="${GS_TEST_PYTHON:-$root/.venv/bin/python}"
mkdir -p "$work"
say() { echo "test_image: $*" >&2; }

ensure_engine() {
  if docker info >/dev/null 2>&1; then return; fi
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    say "installing docker.io and debootstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >&2
  fi
  if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (log: $work/dockerd.log)"
    nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >"$work/dockerd.log" 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && return; sleep 1; done
    say "dockerd did not start; see $work/dockerd.log"; exit 1
  fi
}

make_base() {
  if docker image inspect "$base" >/dev/null 2>&1; then return; fi
  command -v debootstrap >/dev/null 2>&1 || \
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2)
  local dir="$work/rootfs"
  rm -rf "$dir"
  say "making the base $base with debootstrap (a few minutes)"
  debootstrap --variant=minbase --include=python3.11,python3.11-venv,python3-pip,ca-certificates \
    bookworm "$dir" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # The proxy's CA: a file of its own, so that the image's update-ca-certificates runs keep it.
  local ca_changes=()
  if [ -n "${PIP_CERT:-}" ] && [ -f "$PIP_CERT" ]; then
    cp "$PIP_CERT" "$dir/usr/local/share/gs-build-ca.pem"
    ca_changes=(--change "ENV PIP_CERT=/usr/local/share/gs-build-ca.pem"
                --change "ENV SSL_CERT_FILE=/usr/local/share/gs-build-ca.pem")
  fi
  rm -rf "$dir/var/cache/apt/archives/"*.deb "$dir/var/lib/apt/lists/"*
  tar -C "$dir" -c . | docker import "${ca_changes[@]}" --change 'CMD ["python3.11"]' - "$base" >/dev/null
  rm -rf "$dir"
}

build_image() {
  say "building $image on $base (log: $work/build.log; 15-25 min the first time)"
  local start=$SECONDS
  docker build --network host -f "$root/docker/Dockerfile" --build-arg "PYTHON_IMAGE=$base" \
    --build-arg DEVICE=cpu --build-arg "TORCH_INDEX_URL=${GS_TORCH_INDEX_URL:-}" \
    -t "$image" "$root" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; exit 1; }
  say "built $image in $((SECONDS - start)) s"
  # Earlier builds' layers: with the vfs driver each is a full 6 GB copy.
  docker image prune -f >/dev/null || true
}

ensure_engine
if [ "${GS_SKIP_BUILD:-0}" != 1 ]; then
  make_base
  build_image
fi
summary="$work/summary.txt"
rm -f "$summary"
cd "$root"
GS_IMAGE="$image" GS_IMAGE_SUMMARY="$summary" \
  "$python" -m pytest -p no:cacheprovider -q -m image tests/docker/test_image.py >&2 || status=$?
[ -f "$summary" ] || { echo "image: test did not finish (no summary)"; exit 1; }
cat "$summary"
exit "${status:-0}"
