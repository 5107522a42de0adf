#!/usr/bin/env bash
# Builds the gs-torchserve SageMaker endpoint image with GraphStorm's build-script flags.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: build_image.sh --environment sagemaker-endpoint [options]
  -e, --environment   image execution environment; this project builds only 'sagemaker-endpoint'
  -d, --device        cpu or gpu (default: gpu, as GraphStorm; cpu is cheaper for real-time inference)
  -p, --path          project root (default: the folder above this script)
  -i, --image, --image-name
                      image name (default: gs-torchserve)
  -s, --suffix        appended to the tag <environment>-<device> (GraphStorm's meaning):
                      -s -v2 gives sagemaker-endpoint-cpu-v2
  -t, --tag           the whole image tag instead (default: <environment>-<device><suffix>)
  -x, --verbose       print each command (set -x)
  -h, --help          this help
USAGE
}

die() { echo "build_image.sh: $*" >&2; echo "Run with --help for usage." >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=docker/image_flags.sh
source "$(dirname "${BASH_SOURCE[0]}")/image_flags.sh"
while [ "$#" -gt 0 ]; do
  case "$1" in
    -p|--path) [ "$#" -ge 2 ] || die "$1 needs a value"; root="$2"; shift 2 ;;
    *) image_flag "$@"; shift "$consumed" ;;
  esac
done
check_image_flags
[ -f "$root/docker/Dockerfile" ] || die "no docker/Dockerfile under --path $root"

echo "Building $image:$tag (device $device) from $root"
docker build -f "$root/docker/Dockerfile" --build-arg "DEVICE=$device" -t "$image:$tag" "$root"
echo "Built $image:$tag"
