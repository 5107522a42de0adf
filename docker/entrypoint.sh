#!/usr/bin/env bash
# Entrypoint of the gs-torchserve SageMaker endpoint image.
#   serve      SageMaker's start command: TorchServe with the model in $SM_MODEL_DIR
#              (see docker/serve.py for the environment it reads)
#   anything else is run as a command (e.g. `bash` to look around the image).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${GS_PYTHON:-python3}"
# The container never downloads a language model: LMs travel in the model (a .mar's
# artifacts/lm/, or lm/<NAME>/ beside raw artifacts; gs-launch-endpoint --lm-model).
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if [ "${1:-serve}" = "serve" ]; then
  [ "$#" -gt 0 ] && shift
  # exec: serve.py becomes the process SageMaker signals, and it stops TorchServe itself.
  exec "$python" "$here/serve.py" "$@"
fi
exec "$@"
