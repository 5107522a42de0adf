"""Fake AWS credentials for the Neptune tests: botocore signs every request with them (SigV4),
and the tests check that none of them ever appears in an error text or a log line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REGION = "us-east-1"
ACCESS_KEY_ID = "AKIDNEPTUNETESTING01"
SECRET_ACCESS_KEY = "neptune-test-secret-never-in-a-log"
SESSION_TOKEN = "neptune-test-session-token-never-in-a-log"
CREDENTIALS = (ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN)


def aws_environment(home: Path) -> dict[str, str]:
    """Fake credentials and region, isolated from any real AWS configuration."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextmanager
def fake_aws(home: Path) -> Iterator[dict[str, str]]:
    """Sets the fake AWS environment in this process (and yields it for subprocesses)."""
    env = aws_environment(home)
    mp = pytest.MonkeyPatch()
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        mp.delenv(key, raising=False)
    for key, value in env.items():
        mp.setenv(key, value)
    try:
        yield env
    finally:
        mp.undo()


def leaked(text: str) -> list[str]:
    """The fake credentials found in ``text`` (should be none)."""
    return [c for c in CREDENTIALS if c in text]
