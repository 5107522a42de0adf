"""Helpers of the sagemaker_deploy tests: moto constants, the AWS environment, launch flags."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

REGION = "us-east-1"
ACCOUNT = "123456789012"
IMAGE_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/gs-torchserve:sagemaker-endpoint-cpu"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/GsSageMakerExecution"
BUCKET = "gs-realtime-models"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aws_environment(moto_url: str, home: Path) -> dict[str, str]:
    """Dummy credentials and AWS_ENDPOINT_URL, isolated from any real AWS configuration."""
    return {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def model_version_argv(variant: str, task: str, model_name: str, s3_prefix: str) -> list[str]:
    """The model-version flags of gs-launch-endpoint / gs-update-endpoint for a fixture."""
    artifacts = FIXTURES / variant / "artifacts"
    return [
        "--image-uri", IMAGE_URI, "--role", ROLE_ARN, "--region", REGION,
        "--instance-type", "ml.c5.xlarge",
        "--restore-model-path", str(artifacts),
        "--model-yaml-config-file", str(artifacts / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"),
        "--graph-json-config-file", str(artifacts / "data_transform_new.json"),
        "--upload-tarfile-s3", s3_prefix, "--infer-task-type", task, "--model-name", model_name,
    ]


class Forbidden:
    """Stands in for a boto3 client: any API call fails the test (proves no AWS call was made)."""

    def __getattr__(self, name: str):
        raise AssertionError(f"unexpected AWS call: {name}")


class NoAwsClients:
    """AwsClients whose every client is Forbidden."""

    region = REGION
    sagemaker = runtime = s3 = autoscaling = Forbidden()


def queue_invoke_result(moto_url: str, body: str, content_type: str = "application/json") -> None:
    """Queues the body moto's sagemaker-runtime returns for the next distinct invocation."""
    data = json.dumps({"region": REGION, "results": [{"Body": body, "ContentType": content_type}]}).encode()
    request = urllib.request.Request(f"{moto_url}/moto-api/static/sagemaker/endpoint-results", data=data,
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
