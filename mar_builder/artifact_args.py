"""The model-artifact flags (GraphStorm's names) of gs-build-mar, gs-launch-endpoint and
gs-update-endpoint. Imports nothing heavy: the SageMaker tools run without torch."""

from __future__ import annotations

import argparse
from pathlib import Path

from handler.contract.names import TASKS

# Node tasks, edge classification / regression and link prediction (handler/contract/names.py).
TASK_TYPES = TASKS


def add_artifact_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Adds --restore-model-path, --model-yaml-config-file, --graph-json-config-file and
    --infer-task-type.

    Args:
        parser: the parser to extend.
        required: whether the flags are required.
    """
    parser.add_argument("--restore-model-path", type=Path, required=required,
                        help="folder holding the trained model.bin (gs-build-mar: or the file itself)")
    parser.add_argument("--model-yaml-config-file", type=Path, required=required,
                        help="GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml saved by training")
    parser.add_argument("--graph-json-config-file", type=Path, required=required,
                        help="data_transform_new.json written by GConstruct/GSProcessing")
    parser.add_argument("--infer-task-type", type=str, required=required, choices=TASK_TYPES,
                        help=f"real-time inference task, one of {TASK_TYPES}")
