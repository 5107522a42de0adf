"""gs-delete-endpoint: delete an endpoint, its EndpointConfig and Model(s), optionally the S3 tarball.

Order: auto-scaling registration, endpoint, config, models, then (with --delete-model-artifacts)
the model tarballs the models point at.
"""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_deploy.aws import AwsClients, ConfigError, resolve_region
from sagemaker_deploy.deploy import AUTOSCALING_TAG, endpoint_tags, remove_autoscaling
from sagemaker_deploy.naming import check_name_format, parse_s3_url

PROG = "gs-delete-endpoint"


def build_parser() -> argparse.ArgumentParser:
    """The command's flags."""
    parser = argparse.ArgumentParser(PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-name", type=check_name_format, required=True,
                        help="the endpoint to delete")
    parser.add_argument("--region", type=str, default=None,
                        help="AWS region; default: the AWS configuration's")
    parser.add_argument("--delete-model-artifacts", action="store_true",
                        help="also delete the S3 model tarballs of the endpoint's models")
    return parser


def delete(endpoint: str, clients: AwsClients, delete_artifacts: bool) -> None:
    """Deletes the endpoint and what it is made of, printing each step."""
    sm = clients.sagemaker
    desc = sm.describe_endpoint(EndpointName=endpoint)
    config_name = desc["EndpointConfigName"]
    config = sm.describe_endpoint_config(EndpointConfigName=config_name)
    variants = config["ProductionVariants"]
    models = [v["ModelName"] for v in variants]
    data_urls = sorted({url for m in models for url in _model_data_urls(sm.describe_model(ModelName=m))})

    # Application Auto Scaling permissions are needed only where gs-launch-endpoint registered
    # scaling (its tag); otherwise a caller with SageMaker permissions alone can delete.
    scaling_set = endpoint_tags(clients, desc["EndpointArn"]).get(AUTOSCALING_TAG) == "true"
    remove_autoscaling(clients, endpoint, [v["VariantName"] for v in variants], required=scaling_set)
    sm.delete_endpoint(EndpointName=endpoint)
    print(f"Deleted endpoint {endpoint}", flush=True)
    sm.delete_endpoint_config(EndpointConfigName=config_name)
    print(f"Deleted endpoint config {config_name}", flush=True)
    for model in models:
        sm.delete_model(ModelName=model)
        print(f"Deleted model {model}", flush=True)
    if delete_artifacts:
        for url in data_urls:
            bucket, key = parse_s3_url(url)
            clients.s3.delete_object(Bucket=bucket, Key=key)
            print(f"Deleted model artifacts {url}", flush=True)


def _model_data_urls(model_desc: dict) -> list[str]:
    """The ModelDataUrl of each of a model's containers (PrimaryContainer and/or Containers)."""
    containers = [model_desc.get("PrimaryContainer") or {}, *model_desc.get("Containers", [])]
    return [c["ModelDataUrl"] for c in containers if c.get("ModelDataUrl")]


def main(argv: list[str] | None = None, clients: AwsClients | None = None) -> int:
    """Console entry point; 0 on success, 1 when AWS failed, 2 for bad flags."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        region = resolve_region(args.region)
    except ConfigError as err:
        parser.error(str(err))
    try:
        delete(args.endpoint_name, clients or AwsClients(region), args.delete_model_artifacts)
    except (ClientError, BotoCoreError, ConfigError) as err:
        print(f"{PROG}: failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
