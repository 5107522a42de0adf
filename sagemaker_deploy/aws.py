"""AWS session and clients that honour the standard AWS configuration.

boto3 (>= 1.34) already reads profiles, ``AWS_REGION`` / ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL`` and the service-specific ``AWS_ENDPOINT_URL_<SERVICE>`` variables, so this
module never passes ``endpoint_url`` itself: that would override the user's configuration.
"""

from __future__ import annotations

from functools import cached_property

import boto3


class ConfigError(ValueError):
    """A flag or configuration problem found before any AWS call."""


def resolve_region(region: str | None) -> str:
    """The region to use: the flag if given, else the one the AWS configuration names.

    Args:
        region: the ``--region`` flag, or None.

    Returns:
        The region name.

    Raises:
        ConfigError: when neither the flag nor the AWS configuration (``AWS_REGION``,
            ``AWS_DEFAULT_REGION``, the profile) names a region.
    """
    if region:
        return region
    found = boto3.Session().region_name
    if not found:
        raise ConfigError("no AWS region: pass --region or set AWS_REGION (or a profile region)")
    return found


class AwsClients:
    """Lazily created boto3 clients sharing one session.

    Each client is a cached attribute, so a test can replace one (e.g. with a botocore
    ``Stubber``-wrapped client) by plain assignment before the code under test uses it.
    """

    def __init__(self, region: str) -> None:
        """Args:
            region: the AWS region of every client.
        """
        self.region = region
        self.session = boto3.Session(region_name=region)

    @cached_property
    def sagemaker(self):
        """The SageMaker control-plane client."""
        return self.session.client("sagemaker")

    @cached_property
    def runtime(self):
        """The SageMaker runtime client (InvokeEndpoint)."""
        return self.session.client("sagemaker-runtime")

    @cached_property
    def s3(self):
        """The S3 client."""
        return self.session.client("s3")

    @cached_property
    def sts(self):
        """The STS client (the caller's account, for S3's ExpectedBucketOwner)."""
        return self.session.client("sts")

    @cached_property
    def autoscaling(self):
        """The Application Auto Scaling client."""
        return self.session.client("application-autoscaling")
