"""Names and URIs: GraphStorm's naming rules for SageMaker objects, ECR and S3 URI parsing."""

from __future__ import annotations

import argparse
import re
from datetime import datetime, timezone

from sagemaker_deploy.aws import ConfigError

# SageMaker's pattern for Model, EndpointConfig and Endpoint names (63 characters at most).
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])$")
# GraphStorm truncates generated names to 62 characters; we keep that limit.
MAX_NAME_LEN = 62
_ECR_REGION = re.compile(r"\.ecr\.([a-z0-9-]+)\.amazonaws\.com")
_S3_URL = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(.*))?$")


def check_name_format(name: str) -> str:
    """argparse type for ``--model-name``: the name if it matches SageMaker's pattern.

    Args:
        name: the candidate name.

    Returns:
        ``name`` unchanged.

    Raises:
        argparse.ArgumentTypeError: when the name does not match ``NAME_PATTERN``.
    """
    if not NAME_PATTERN.match(name):
        raise argparse.ArgumentTypeError(
            f"Value {name} failed to satisfy regular expression pattern: {NAME_PATTERN.pattern}."
        )
    return name


def timestamp(now: datetime | None = None) -> str:
    """GraphStorm's name suffix: UTC time as ``%Y-%m-%d-%H-%M-%S``."""
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d-%H-%M-%S")


def object_name(model_name: str, kind: str, stamp: str) -> str:
    """A SageMaker object name as GraphStorm forms it, at most 62 characters.

    GraphStorm names objects ``<model-name>-<ts>``, ``<model-name>-EndpointConfig-<ts>`` and
    ``<model-name>-Endpoint-<ts>`` and cuts the result at 62 characters. Cutting the end can drop
    the timestamp or leave a trailing hyphen (which SageMaker rejects), so we shorten the model
    name instead; for names that fit, the result is the same as GraphStorm's.

    Args:
        model_name: the validated ``--model-name``.
        kind: "" for the Model, "EndpointConfig" or "Endpoint".
        stamp: the timestamp suffix.

    Returns:
        The object name.
    """
    suffix = f"-{kind}-{stamp}" if kind else f"-{stamp}"
    base = model_name[: MAX_NAME_LEN - len(suffix)].rstrip("-")
    return base + suffix


def extract_ecr_region(image_uri: str) -> str | None:
    """The region of an ECR image URI (``<account>.dkr.ecr.<region>.amazonaws.com/...``), or None."""
    match = _ECR_REGION.search(image_uri)
    return match.group(1) if match else None


def parse_s3_url(url: str) -> tuple[str, str]:
    """Splits ``s3://bucket/prefix`` into bucket and key prefix (without trailing slash).

    Raises:
        ConfigError: when ``url`` is not an S3 URL with a valid bucket name.
    """
    match = _S3_URL.match(url)
    if not match:
        raise ConfigError(f"not an S3 URL of the form s3://bucket[/prefix]: {url!r}")
    return match.group(1), (match.group(2) or "").strip("/")


def join_s3_key(prefix: str, name: str) -> str:
    """``prefix/name``, or ``name`` for an empty prefix."""
    return f"{prefix}/{name}" if prefix else name
