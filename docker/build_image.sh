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
  -s, --suffix, -t, --tag
                      image tag (default: <environment>-<device>, e.g. sagemaker-endpoint-cpu)
  -x, --verbose       print each command (set -x)
  -h, --help          this help
USAGE
}

die() { echo "build_image.sh: $*" >&2; echo "Run with --help for usage." >&2; exit 2; }

environment="" device="gpu" image="gs-torchserve" tag=""
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
while [ "$#" -gt 0 ]; do
  case "$1" in
    -e|--environment) [ "$#" -ge 2 ] || die "$1 needs a value"; environment="$2"; shift 2 ;;
    -d|--device) [ "$#" -ge 2 ] || die "$1 needs a value"; device="$2"; shift 2 ;;
    -p|--path) [ "$#" -ge 2 ] || die "$1 needs a value"; root="$2"; shift 2 ;;
    -i|--image|--image-name) [ "$#" -ge 2 ] || die "$1 needs a value"; image="$2"; shift 2 ;;
    -s|--suffix|-t|--tag) [ "$#" -ge 2 ] || die "$1 needs a value"; tag="$2"; shift 2 ;;
    -x|--verbose) set -x; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

[ -n "$environment" ] || die "--environment is required (sagemaker-endpoint)"
[ "$environment" = "sagemaker-endpoint" ] || \
  die "--environment must be sagemaker-endpoint (GraphStorm's local/sagemaker images are training images), got '$environment'"
case "$device" in cpu|gpu) ;; *) die "--device must be cpu or gpu, got '$device'" ;; esac
[ -f "$root/docker/Dockerfile" ] || die "no docker/Dockerfile under --path $root"
tag="${tag:-$environment-$device}"

echo "Building $image:$tag (device $device) from $root"
docker build -f "$root/docker/Dockerfile" --build-arg "DEVICE=$device" -t "$image:$tag" "$root"
echo "Built $image:$tag"
