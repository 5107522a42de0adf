# shellcheck shell=bash
# Sourced by build_image.sh and push_image.sh: the image flags both take (GraphStorm's
# spellings) and their checks. The sourcing script defines usage() and die() first.
# shellcheck disable=SC2034  # the variables are the sourcing script's

environment="" device="gpu" image="gs-torchserve" tag="" suffix=""

# Parses one common flag at "$@"; sets `consumed` to the number of arguments it took.
image_flag() {
  case "$1" in
    -e|--environment|-d|--device|-i|--image|--image-name|-s|--suffix|-t|--tag)
      [ "$#" -ge 2 ] || die "$1 needs a value"; consumed=2 ;;
    -x|--verbose|-h|--help) consumed=1 ;;
    *) die "unknown argument: $1" ;;
  esac
  case "$1" in
    -e|--environment) environment="$2" ;;
    -d|--device) device="$2" ;;
    -i|--image|--image-name) image="$2" ;;
    -s|--suffix) suffix="$2" ;;
    -t|--tag) tag="$2" ;;
    -x|--verbose) set -x ;;
    -h|--help) usage; exit 0 ;;
  esac
}

# Checks the common flags and fills the tag: GraphStorm's <environment>-<device><suffix> (e.g.
# `-s -v2` gives sagemaker-endpoint-cpu-v2), unless -t/--tag names the whole tag.
check_image_flags() {
  [ -n "$environment" ] || die "--environment is required (sagemaker-endpoint)"
  [ "$environment" = "sagemaker-endpoint" ] || \
    die "--environment must be sagemaker-endpoint (GraphStorm's local/sagemaker images are training images), got '$environment'"
  case "$device" in cpu|gpu) ;; *) die "--device must be cpu or gpu, got '$device'" ;; esac
  tag="${tag:-$environment-$device$suffix}"
}
