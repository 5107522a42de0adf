"""Model tarball for SageMaker, packed as model.tar.gz and uploaded.

Two kinds (``--model-package``):

* ``mar``: the `.mar` built by gs-build-mar, which restores the model once and so checks that the
  artifacts fit together; needs the serving stack (``pip install .[serve]``);
* ``artifacts``: GraphStorm's own layout (model.bin, the training YAML and the transform JSON at
  the root), for the deploy tools alone (boto3, pyyaml, any Python >= 3.9); the container serves
  them in place.

``auto`` (default) is ``mar`` where the serving stack is installed, else ``artifacts``.
Language models given with ``--lm-model NAME=DIR`` travel in either kind (``artifacts/lm/<NAME>/``
of the `.mar`, ``lm/<NAME>/`` of an artifacts tarball): the container never downloads one.
SageMaker extracts ``ModelDataUrl`` into ``/opt/ml/model``; the image's entrypoint serves what it
finds there.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# An artifacts tarball uses the names the container looks for first (handler/contract/artifacts.py).
from handler.contract.names import MODEL_FILE, TRAINING_CONFIG_FILE, TRANSFORM_FILE
from sagemaker_deploy.lm_models import add_lm_files
from sagemaker_deploy.naming import join_s3_key, parse_s3_url

PACKAGE_KINDS = ("auto", "mar", "artifacts")


@dataclass(frozen=True)
class ModelSource:
    """The GraphStorm artifacts of one model version (the launch script's flags).

    Attributes:
        lm_models: ``--lm-model`` NAME -> DIR, the language models shipped with the model.
        graph_store: ``--graph-store`` URI recorded in the `.mar` (targets-only requests).
    """

    restore_model_path: Path
    model_yaml_config_file: Path
    graph_json_config_file: Path
    infer_task_type: str
    lm_models: dict = field(default_factory=dict)
    graph_store: str | None = None

    def missing(self) -> list[str]:
        """Human-readable problems with the paths; empty when every file is there."""
        problems = []
        model_bin = self.restore_model_path / MODEL_FILE
        if not self.restore_model_path.is_dir():
            problems.append(f"--restore-model-path {self.restore_model_path} is not a directory")
        elif not model_bin.is_file():
            problems.append(f"--restore-model-path {self.restore_model_path} has no {MODEL_FILE}")
        for flag, path in (("--model-yaml-config-file", self.model_yaml_config_file),
                           ("--graph-json-config-file", self.graph_json_config_file)):
            if not path.is_file():
                problems.append(f"{flag} {path} is not a file")
        return problems


def serving_stack_installed() -> bool:
    """Whether this environment can run gs-build-mar (torch and torch-model-archiver importable)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "model_archiver"))


def resolve_package_kind(kind: str) -> str:
    """``mar`` or ``artifacts`` for a ``--model-package`` value (``auto`` decided here)."""
    if kind == "auto":
        return "mar" if serving_stack_installed() else "artifacts"
    return kind


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
    for name, directory in sorted(source.lm_models.items()):
        cmd += ["--lm-model", f"{name}={directory}"]
    if source.graph_store:
        cmd += ["--graph-store", source.graph_store]
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


def pack_artifacts(source: ModelSource, tar_path: Path) -> Path:
    """Writes a gzip tarball with GraphStorm's artifacts at its root, under the names the
    container looks for (model.bin, the training YAML and the transform JSON), and the
    ``--lm-model`` language models under ``lm/<NAME>/``.

    Args:
        source: the GraphStorm artifacts.
        tar_path: the tarball to write.

    Returns:
        ``tar_path``.
    """
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(source.restore_model_path / MODEL_FILE, arcname=MODEL_FILE)
        tar.add(source.model_yaml_config_file, arcname=TRAINING_CONFIG_FILE)
        tar.add(source.graph_json_config_file, arcname=TRANSFORM_FILE)
        add_lm_files(tar, source.lm_models)
    return tar_path


@dataclass(frozen=True)
class UploadOptions:
    """How the tarball is written to S3.

    Attributes:
        expected_bucket_owner: account ID the bucket must belong to (S3 refuses the request
            otherwise: no model data lands in someone else's bucket); None: not checked.
        kms_key_id: KMS key for SSE-KMS encryption; None: the bucket's default encryption.
    """

    expected_bucket_owner: str | None = None
    kms_key_id: str | None = None

    def extra_args(self) -> dict:
        """The ExtraArgs of ``upload_file`` (and the request fields of other object calls)."""
        args: dict = {}
        if self.expected_bucket_owner:
            args["ExpectedBucketOwner"] = self.expected_bucket_owner
        if self.kms_key_id:
            args.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_id)
        return args


def upload_tarball(s3_client, tar_path: Path, s3_prefix: str, object_stem: str,
                   options: UploadOptions | None = None) -> str:
    """Uploads the tarball to ``<s3_prefix>/<object_stem>.tar.gz``.

    Args:
        s3_client: a boto3 S3 client.
        tar_path: the local tarball.
        s3_prefix: the ``--upload-tarfile-s3`` URL.
        object_stem: the object name without extension (the timestamped SageMaker model name,
            so a new version never overwrites the data of a model still in use).
        options: bucket owner check and encryption.

    Returns:
        The ``s3://`` URL of the object.
    """
    bucket, prefix = parse_s3_url(s3_prefix)
    key = join_s3_key(prefix, f"{object_stem}.tar.gz")
    s3_client.upload_file(str(tar_path), bucket, key, ExtraArgs=(options or UploadOptions()).extra_args())
    return f"s3://{bucket}/{key}"


def build_tarball(source: ModelSource, model_name: str, kind: str, out_dir: Path) -> Path:
    """Packs ``out_dir/model.tar.gz``: a `.mar` (built and checked by gs-build-mar) or the raw
    artifacts. Local only: runs before any AWS call, so artifacts that do not fit cost nothing.

    Args:
        source: the GraphStorm artifacts.
        model_name: the TorchServe model name.
        kind: ``mar`` or ``artifacts`` (see the module docstring).
        out_dir: an existing folder for the tarball (and the `.mar`).

    Returns:
        The tarball's path.
    """
    tar_path = out_dir / "model.tar.gz"
    if kind == "mar":
        return pack_tarball(build_mar(source, model_name, out_dir), tar_path)
    return pack_artifacts(source, tar_path)
