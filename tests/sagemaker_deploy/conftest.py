"""A real moto server on loopback for the sagemaker_deploy tests, and the environment pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.sagemaker_deploy.moto_env import BUCKET, aws_environment, free_port


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """Starts moto's server on a free loopback port for the session; always stopped."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def aws_env(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Sets the moto environment in this process for a module (and returns it for subprocesses)."""
    env = aws_environment(moto_url, tmp_path_factory.mktemp("aws-home"))
    mp = pytest.MonkeyPatch()
    mp.delenv("AWS_PROFILE", raising=False)
    for key, value in env.items():
        mp.setenv(key, value)
    try:
        yield env
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def bucket(aws_env: dict[str, str]) -> str:
    """The S3 bucket the model tarballs go to (created in moto)."""
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET
