"""Model tarball for SageMaker: the `.mar` built by gs-build-mar, packed as model.tar.gz and uploaded.

SageMaker extracts ``ModelDataUrl`` into ``/opt/ml/model``; the image's entrypoint serves the one
``*.mar`` it finds there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sagemaker_deploy.naming import join_s3_key, parse_s3_url

MODEL_FILE_NAME = "model.bin"


@dataclass(frozen=True)
class ModelSource:
    """The GraphStorm artifacts of one model version (the launch script's flags)."""

    restore_model_path: Path
    model_yaml_config_file: Path
    graph_json_config_file: Path
    infer_task_type: str

    def missing(self) -> list[str]:
        """Human-readable problems with the paths; empty when every file is there."""
        problems = []
        model_bin = self.restore_model_path / MODEL_FILE_NAME
        if not self.restore_model_path.is_dir():
            problems.append(f"--restore-model-path {self.restore_model_path} is not a directory")
        elif not model_bin.is_file():
            problems.append(f"--restore-model-path {self.restore_model_path} has no {MODEL_FILE_NAME}")
        for flag, path in (("--model-yaml-config-file", self.model_yaml_config_file),
                           ("--graph-json-config-file", self.graph_json_config_file)):
            if not path.is_file():
                problems.append(f"{flag} {path} is not a file")
        return problems


def gs_build_mar_command() -> list[str]:
    """The gs-build-mar console script of this Python environment (or the one on PATH)."""
    bin_dir = os.path.dirname(sys.executable)
    found = shutil.which("gs-build-mar", path=os.pathsep.join([bin_dir, os.environ.get("PATH", "")]))
    if found is None:
        raise FileNotFoundError("gs-build-mar not found: install this project (pip install .)")
    return [found]


def build_mar(source: ModelSource, model_name: str, export_dir: Path) -> Path:
    """Builds ``export_dir/<model_name>.mar`` with gs-build-mar (which also checks the artifacts).

    Args:
        source: the GraphStorm artifacts.
        model_name: the TorchServe model name.
        export_dir: an existing directory for the archive.

    Returns:
        The path of the `.mar`.

    Raises:
        RuntimeError: when gs-build-mar fails; the message carries its output.
    """
    cmd = gs_build_mar_command() + [
        "--restore-model-path", str(source.restore_model_path),
        "--model-yaml-config-file", str(source.model_yaml_config_file),
        "--graph-json-config-file", str(source.graph_json_config_file),
        "--infer-task-type", source.infer_task_type,
        "--model-name", model_name,
        "--export-path", str(export_dir),
    ]
    # torch-model-archiver stages in $TMPDIR/<model-name> and deletes it: give it its own TMPDIR.
    with tempfile.TemporaryDirectory(prefix="gs-mar-tmp-") as tmp:
        env = {**os.environ, "TMPDIR": tmp}
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"gs-build-mar failed (exit {proc.returncode}):\n{proc.stderr or proc.stdout}")
    mar = export_dir / f"{model_name}.mar"
    if not mar.is_file():
        raise RuntimeError(f"gs-build-mar did not write {mar}")
    return mar


def pack_tarball(mar: Path, tar_path: Path) -> Path:
    """Writes a gzip tarball with the `.mar` at its root (SageMaker's model.tar.gz).

    Args:
        mar: the model archive.
        tar_path: the tarball to write.

    Returns:
        ``tar_path``.
    """
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(mar, arcname=mar.name)
    return tar_path


def upload_tarball(s3_client, tar_path: Path, s3_prefix: str, object_stem: str) -> str:
    """Uploads the tarball to ``<s3_prefix>/<object_stem>.tar.gz``.

    Args:
        s3_client: a boto3 S3 client.
        tar_path: the local tarball.
        s3_prefix: the ``--upload-tarfile-s3`` URL.
        object_stem: the object name without extension (the timestamped SageMaker model name,
            so a new version never overwrites the data of a model still in use).

    Returns:
        The ``s3://`` URL of the object.
    """
    bucket, prefix = parse_s3_url(s3_prefix)
    key = join_s3_key(prefix, f"{object_stem}.tar.gz")
    s3_client.upload_file(str(tar_path), bucket, key)
    return f"s3://{bucket}/{key}"


def build_and_upload(source: ModelSource, model_name: str, s3_client, s3_prefix: str,
                     object_stem: str) -> str:
    """Builds the `.mar`, packs model.tar.gz in a temporary folder and uploads it.

    Returns:
        The ``s3://`` URL of the uploaded tarball.
    """
    with tempfile.TemporaryDirectory(prefix="gs-sm-pack-") as tmp:
        mar = build_mar(source, model_name, Path(tmp))
        tar_path = pack_tarball(mar, Path(tmp) / "model.tar.gz")
        return upload_tarball(s3_client, tar_path, s3_prefix, object_stem)
