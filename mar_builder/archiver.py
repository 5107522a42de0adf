"""Runs torch-model-archiver in a child process with a private TMPDIR.

torch-model-archiver stages in `$TMPDIR/<model-name>` and deletes that folder before and after,
so two builds of the same model name sharing /tmp would destroy each other's staging.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


class ArchiverError(RuntimeError):
    """torch-model-archiver failed; the message carries its output."""


def run_archiver(
    *,
    model_name: str,
    version: str,
    handler_file: Path,
    extra_files_dir: Path,
    config_file: Path,
    export_path: Path,
) -> Path:
    """Writes ``export_path/model_name.mar`` (overwriting an older one).

    Args:
        model_name: archive and TorchServe model name.
        version: model version recorded in the manifest.
        handler_file: entry file; copied to the archive root.
        extra_files_dir: folder whose contents are copied to the archive root.
        config_file: model-config.yaml.
        export_path: output folder (created if missing).

    Returns:
        The path of the written .mar.
    """
    # The archiver runs in a private cwd: a relative path must be made absolute against ours.
    export_path = Path(export_path).absolute()
    export_path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gs-mar-tmp-") as private_tmp:
        env = dict(os.environ, TMPDIR=private_tmp, TEMP=private_tmp, TMP=private_tmp)
        cmd = [
            sys.executable, "-m", "model_archiver.model_packaging",
            "--model-name", model_name,
            "--version", version,
            "--handler", str(handler_file),
            "--extra-files", str(extra_files_dir),
            "--config-file", str(config_file),
            "--export-path", str(export_path),
            "--force",
        ]
        proc = subprocess.run(cmd, env=env, cwd=private_tmp, capture_output=True, text=True)
    mar = export_path / f"{model_name}.mar"
    if proc.returncode != 0 or not mar.is_file():
        raise ArchiverError(
            f"torch-model-archiver failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return mar
