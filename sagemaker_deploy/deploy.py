"""SageMaker actions shared by the console scripts: model versions, waiting, auto-scaling."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from botocore.exceptions import ClientError

from sagemaker_deploy.aws import AwsClients
from sagemaker_deploy.cli_common import container_environment, model_source, network_isolation
from sagemaker_deploy.created import CreatedResources
from sagemaker_deploy.naming import object_name
from sagemaker_deploy.packaging import UploadOptions, build_tarball, resolve_package_kind, upload_tarball

VARIANT_NAME = "AllTraffic"
# Tag on the endpoint naming the config it ran before the last update (for --rollback).
PREVIOUS_CONFIG_TAG = "gs-torchserve:previous-endpoint-config"
# Tag on the endpoint saying that gs-launch-endpoint registered auto-scaling for it, so that
# gs-delete-endpoint needs Application Auto Scaling permissions only where scaling was set.
AUTOSCALING_TAG = "gs-torchserve:autoscaling"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# States the wait ends in with a failure. RollingBack is not one: an update's automatic rollback
# goes on to InService (on the old config) or UpdateRollbackFailed.
_TERMINAL_FAILURES = ("Failed", "UpdateRollbackFailed", "OutOfService")
_ACCESS_DENIED = ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation")

log = logging.getLogger(__name__)


class EndpointFailed(RuntimeError):
    """The endpoint did not reach InService; the message carries SageMaker's FailureReason.

    Attributes:
        status: the last EndpointStatus seen ("" when the wait timed out before any failure).
    """

    def __init__(self, message: str, status: str = "") -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ModelVersion:
    """The SageMaker objects of one model version."""

    model_name: str
    endpoint_config_name: str
    model_data_url: str


def pack_model_version(args: argparse.Namespace, out_dir: Path) -> tuple[Path, str]:
    """Packs the flags' model as model.tar.gz in ``out_dir`` (local; before any AWS call).

    Returns:
        The tarball and its kind (``mar`` or ``artifacts``).
    """
    kind = resolve_package_kind(args.model_package)
    print(f"Packing the model ({'.mar' if kind == 'mar' else 'GraphStorm artifacts'}) for "
          f"'{args.model_name}' ...", flush=True)
    if kind == "artifacts":
        print("The serving stack is not installed here: the container serves the artifacts as they are "
              "(install .[serve] to build and check a .mar here instead).", flush=True)
    return build_tarball(model_source(args), args.model_name, kind, out_dir), kind


def upload_options(clients: AwsClients, args: argparse.Namespace) -> UploadOptions:
    """The S3 options of the flags: the bucket owner (default: the caller's account) and KMS key."""
    owner = args.s3_bucket_owner
    if owner is None:
        owner = clients.sts.get_caller_identity()["Account"]
    return UploadOptions(expected_bucket_owner=owner or None, kms_key_id=args.s3_kms_key_id)


def create_model_version(clients: AwsClients, args: argparse.Namespace, stamp: str,
                         created: CreatedResources, tarball: Path, kind: str) -> ModelVersion:
    """Uploads model.tar.gz, then creates the SageMaker Model and EndpointConfig.

    Args:
        clients: the AWS clients.
        args: parsed launch/update flags (model version, variant and VPC flags).
        stamp: the timestamp suffix of every name.
        created: where each created object is recorded as soon as it exists.
        tarball: the packed model.tar.gz (``packaging.build_tarball``).
        kind: what it holds, ``mar`` or ``artifacts``.

    Returns:
        The names and the model data URL.
    """
    sm_model = object_name(args.model_name, "", stamp)
    config_name = object_name(args.model_name, "EndpointConfig", stamp)
    options = upload_options(clients, args)
    created.expected_bucket_owner = options.expected_bucket_owner
    print(f"Uploading the model to {args.upload_tarfile_s3} ...", flush=True)
    data_url = upload_tarball(clients.s3, tarball, args.upload_tarfile_s3, sm_model, options)
    created.tarball_url = data_url
    log.info("Uploaded the model tarball to %s", data_url)

    environment = container_environment(args, kind)
    container = {"Image": args.image_uri, "ModelDataUrl": data_url, "Environment": environment}
    request = {"ModelName": sm_model, "ExecutionRoleArn": args.role, "Containers": [container],
               "EnableNetworkIsolation": network_isolation(args)}
    if args.vpc_subnet_ids and args.vpc_security_group_ids:
        request["VpcConfig"] = {"Subnets": args.vpc_subnet_ids,
                                "SecurityGroupIds": args.vpc_security_group_ids}
    arn = clients.sagemaker.create_model(**request)["ModelArn"]
    created.models.append(sm_model)
    log.info("Model ARN: %s (network isolation %s)", arn, request["EnableNetworkIsolation"])

    variant = {"InstanceType": args.instance_type, "InitialInstanceCount": args.instance_count,
               "InitialVariantWeight": 1, "ModelName": sm_model, "VariantName": VARIANT_NAME}
    variant.update(args.custom_production_variant or {})
    arn = clients.sagemaker.create_endpoint_config(EndpointConfigName=config_name,
                                                   ProductionVariants=[variant])["EndpointConfigArn"]
    created.endpoint_configs.append(config_name)
    log.info("EndpointConfig ARN: %s", arn)
    return ModelVersion(sm_model, config_name, data_url)


def wait_in_service(clients: AwsClients, endpoint: str, timeout_s: float, interval_s: float,
                    out: TextIO | None = None) -> dict:
    """Polls DescribeEndpoint, printing each status change with the elapsed time.

    Returns:
        The last DescribeEndpoint answer (status InService).

    Raises:
        EndpointFailed: on a failed status (with FailureReason) or when ``timeout_s`` passes.
    """
    out = out or sys.stdout
    start = time.monotonic()
    last = None
    while True:
        desc = clients.sagemaker.describe_endpoint(EndpointName=endpoint)
        status = desc["EndpointStatus"]
        elapsed = time.monotonic() - start
        if status != last:
            print(f"[{elapsed:6.0f}s] endpoint '{endpoint}': {status}", file=out, flush=True)
            last = status
        if status == "InService":
            return desc
        if status in _TERMINAL_FAILURES:
            reason = desc.get("FailureReason", "no FailureReason given")
            raise EndpointFailed(f"endpoint '{endpoint}' is {status}: {reason}", status)
        if elapsed >= timeout_s:
            raise EndpointFailed(f"endpoint '{endpoint}' still {status} after {timeout_s:.0f}s")
        time.sleep(interval_s)


def configure_autoscaling(clients: AwsClients, endpoint: str, args: argparse.Namespace) -> None:
    """Registers the variant with Application Auto Scaling and a target-tracking policy."""
    resource = f"endpoint/{endpoint}/variant/{VARIANT_NAME}"
    low = args.min_instances if args.min_instances is not None else args.instance_count
    clients.autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=SCALABLE_DIMENSION,
        MinCapacity=low, MaxCapacity=args.max_instances)
    clients.autoscaling.put_scaling_policy(
        PolicyName=f"{endpoint}-invocations"[:256], ServiceNamespace="sagemaker", ResourceId=resource,
        ScalableDimension=SCALABLE_DIMENSION, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": args.target_invocations_per_instance,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        })
    print(f"Auto-scaling {resource}: {low}..{args.max_instances} instances, target "
          f"{args.target_invocations_per_instance} invocations per instance per minute", flush=True)


def endpoint_tags(clients: AwsClients, endpoint_arn: str) -> dict[str, str]:
    """The endpoint's tags as a dict."""
    return {t["Key"]: t["Value"] for t in clients.sagemaker.list_tags(ResourceArn=endpoint_arn)["Tags"]}


def scalable_targets(clients: AwsClients, endpoint: str, variants: list[str],
                     required: bool) -> list[dict] | None:
    """The endpoint's variants registered with Application Auto Scaling.

    Args:
        clients: the AWS clients.
        endpoint: the endpoint name.
        variants: its variant names.
        required: whether a missing permission is an error (scaling is known to be set).

    Returns:
        The ScalableTargets, or None when not ``required`` and the caller may not read them.
    """
    resources = [f"endpoint/{endpoint}/variant/{v}" for v in variants]
    try:
        return clients.autoscaling.describe_scalable_targets(
            ServiceNamespace="sagemaker", ResourceIds=resources)["ScalableTargets"]
    except ClientError as err:
        if required or err.response.get("Error", {}).get("Code") not in _ACCESS_DENIED:
            raise
        return None


def remove_autoscaling(clients: AwsClients, endpoint: str, variants: list[str], required: bool) -> None:
    """Deregisters the endpoint's variants from Application Auto Scaling, where registered.

    Args:
        clients: the AWS clients.
        endpoint: the endpoint name.
        variants: its variant names.
        required: whether auto-scaling is known to be set (the endpoint's tag): then a missing
            permission is an error; otherwise it means there is nothing this caller could have set.
    """
    found = scalable_targets(clients, endpoint, variants, required)
    if found is None:
        print("No auto-scaling recorded for this endpoint, and no permission to look further "
              "(application-autoscaling:DescribeScalableTargets): skipped", flush=True)
        return
    for target in found:
        clients.autoscaling.deregister_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=target["ResourceId"],
            ScalableDimension=target["ScalableDimension"])
        print(f"Deregistered auto-scaling of {target['ResourceId']}", flush=True)
