"""What a deploy command created, so that a failure removes it again or says what is left.

Each command records every object right after AWS created it. On failure, ``remove`` deletes them
newest first (endpoint, config, model, tarball); whatever cannot be deleted, or was kept on
purpose, is printed with the exact command that removes it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_deploy.naming import parse_s3_url


@dataclass
class CreatedResources:
    """The AWS objects one command created, oldest first.

    Attributes:
        region: their region (for the printed commands).
        tarball_url: the uploaded model tarball (``s3://...``), if any.
        models: SageMaker Model names.
        endpoint_configs: EndpointConfig names.
        endpoints: Endpoint names.
        expected_bucket_owner: the bucket owner check used for the upload (reused to delete).
    """

    region: str
    tarball_url: str | None = None
    models: list[str] = field(default_factory=list)
    endpoint_configs: list[str] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    expected_bucket_owner: str | None = None

    def is_empty(self) -> bool:
        """Whether nothing was created."""
        return not (self.tarball_url or self.models or self.endpoint_configs or self.endpoints)

    def removal_commands(self) -> list[str]:
        """AWS CLI commands that remove what is recorded, newest first."""
        region = f"--region {self.region}"
        cmds = [f"aws sagemaker delete-endpoint --endpoint-name {e} {region}" for e in reversed(self.endpoints)]
        cmds += [f"aws sagemaker delete-endpoint-config --endpoint-config-name {c} {region}"
                 for c in reversed(self.endpoint_configs)]
        cmds += [f"aws sagemaker delete-model --model-name {m} {region}" for m in reversed(self.models)]
        if self.tarball_url:
            cmds.append(f"aws s3 rm {self.tarball_url}")
        return cmds

    def remove(self, clients, out: TextIO | None = None) -> CreatedResources:
        """Deletes what is recorded, newest first, printing each step.

        Args:
            clients: the AWS clients (``AwsClients``).
            out: where to print (default stderr).

        Returns:
            What could not be deleted (empty when all went).
        """
        out = out or sys.stderr
        left = CreatedResources(self.region, expected_bucket_owner=self.expected_bucket_owner)
        sm = clients.sagemaker
        steps = [(name, "endpoint", left.endpoints, lambda n: sm.delete_endpoint(EndpointName=n))
                 for name in reversed(self.endpoints)]
        steps += [(name, "endpoint config", left.endpoint_configs,
                   lambda n: sm.delete_endpoint_config(EndpointConfigName=n))
                  for name in reversed(self.endpoint_configs)]
        steps += [(name, "model", left.models, lambda n: sm.delete_model(ModelName=n))
                  for name in reversed(self.models)]
        for name, what, kept, delete in steps:
            try:
                delete(name)
                print(f"Cleaned up {what} {name}", file=out, flush=True)
            except (ClientError, BotoCoreError) as err:
                print(f"Could not delete {what} {name}: {err}", file=out, flush=True)
                kept.append(name)
        if self.tarball_url:
            bucket, key = parse_s3_url(self.tarball_url)
            extra = {"ExpectedBucketOwner": self.expected_bucket_owner} if self.expected_bucket_owner else {}
            try:
                clients.s3.delete_object(Bucket=bucket, Key=key, **extra)
                print(f"Cleaned up model tarball {self.tarball_url}", file=out, flush=True)
            except (ClientError, BotoCoreError) as err:
                print(f"Could not delete model tarball {self.tarball_url}: {err}", file=out, flush=True)
                left.tarball_url = self.tarball_url
        return left

    def report_left(self, why: str, out: TextIO | None = None) -> None:
        """Prints what is left and the commands that remove it (nothing when empty)."""
        if self.is_empty():
            return
        out = out or sys.stderr
        print(f"Left in AWS ({why}); remove with:", file=out, flush=True)
        for cmd in self.removal_commands():
            print(f"  {cmd}", file=out, flush=True)
