#!/usr/bin/env bash
# Pushes the gs-torchserve SageMaker endpoint image to Amazon ECR (GraphStorm's push-script flags).
# Creates the ECR repository when it does not exist. Needs the AWS CLI and docker.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: push_image.sh --environment sagemaker-endpoint [options]
  -e, --environment   image execution environment; only 'sagemaker-endpoint'
  -d, --device        cpu or gpu (default: gpu, as GraphStorm)
  -r, --region        AWS region (default: the AWS CLI's configured region, else us-east-1)
  -a, --account       AWS account ID (default: the caller's, from aws sts get-caller-identity)
  -i, --image, --image-name
                      image and ECR repository name (default: gs-torchserve)
  -s, --suffix        appended to the tag <environment>-<device> (GraphStorm's meaning)
  -t, --tag           the whole image tag instead (default: <environment>-<device><suffix>)
  -x, --verbose       print each command (set -x)
  -h, --help          this help
USAGE
}

die() { echo "push_image.sh: $*" >&2; echo "Run with --help for usage." >&2; exit 2; }

# shellcheck source=docker/image_flags.sh
source "$(dirname "${BASH_SOURCE[0]}")/image_flags.sh"
region="" account=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    -r|--region) [ "$#" -ge 2 ] || die "$1 needs a value"; region="$2"; shift 2 ;;
    -a|--account) [ "$#" -ge 2 ] || die "$1 needs a value"; account="$2"; shift 2 ;;
    *) image_flag "$@"; shift "$consumed" ;;
  esac
done
check_image_flags
if [ -n "$account" ] && ! [[ "$account" =~ ^[0-9]{12}$ ]]; then
  die "--account must be a 12-digit AWS account ID, got '$account'"
fi
region="${region:-$(aws configure get region || true)}"
region="${region:-us-east-1}"
account="${account:-$(aws sts get-caller-identity --query Account --output text)}"

registry="$account.dkr.ecr.$region.amazonaws.com"
remote="$registry/$image:$tag"
echo "Pushing $image:$tag to $remote"
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
if ! aws ecr describe-repositories --region "$region" --repository-names "$image" >/dev/null 2>&1; then
  echo "Creating ECR repository $image in $region"
  aws ecr create-repository --region "$region" --repository-name "$image" >/dev/null
fi
docker tag "$image:$tag" "$remote"
docker push "$remote"
echo "Pushed $remote"
