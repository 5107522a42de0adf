"""SageMaker actions shared by the console scripts: model versions, waiting, auto-scaling."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from typing import TextIO

from sagemaker_deploy.aws import AwsClients
from sagemaker_deploy.cli_common import model_source
from sagemaker_deploy.naming import object_name
from sagemaker_deploy.packaging import build_and_upload

VARIANT_NAME = "AllTraffic"
# Tag on the endpoint naming the config it ran before the last update (for --rollback).
PREVIOUS_CONFIG_TAG = "gs-torchserve:previous-endpoint-config"
_SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
_TERMINAL_FAILURES = ("Failed", "OutOfService", "RollingBack")

log = logging.getLogger(__name__)


class EndpointFailed(RuntimeError):
    """The endpoint did not reach InService; the message carries SageMaker's FailureReason."""


@dataclass(frozen=True)
class ModelVersion:
    """The SageMaker objects of one model version."""

    model_name: str
    endpoint_config_name: str
    model_data_url: str


def create_model_version(clients: AwsClients, args: argparse.Namespace, stamp: str) -> ModelVersion:
    """Builds and uploads model.tar.gz, then creates the SageMaker Model and EndpointConfig.

    Args:
        clients: the AWS clients.
        args: parsed launch/update flags (model version, variant and VPC flags).
        stamp: the timestamp suffix of every name.

    Returns:
        The names and the model data URL.
    """
    sm_model = object_name(args.model_name, "", stamp)
    config_name = object_name(args.model_name, "EndpointConfig", stamp)
    print(f"Building the model archive for '{args.model_name}' and uploading it to "
          f"{args.upload_tarfile_s3} ...", flush=True)
    data_url = build_and_upload(model_source(args), args.model_name, clients.s3,
                                args.upload_tarfile_s3, sm_model)
    log.info("Uploaded the model tarball to %s", data_url)

    container = {"Image": args.image_uri, "ModelDataUrl": data_url,
                 "Environment": dict(args.container_env)}
    request = {"ModelName": sm_model, "ExecutionRoleArn": args.role, "Containers": [container]}
    if args.vpc_subnet_ids and args.vpc_security_group_ids:
        request["VpcConfig"] = {"Subnets": args.vpc_subnet_ids,
                                "SecurityGroupIds": args.vpc_security_group_ids}
    arn = clients.sagemaker.create_model(**request)["ModelArn"]
    log.info("Model ARN: %s", arn)

    variant = {"InstanceType": args.instance_type, "InitialInstanceCount": args.instance_count,
               "InitialVariantWeight": 1, "ModelName": sm_model, "VariantName": VARIANT_NAME}
    variant.update(args.custom_production_variant or {})
    arn = clients.sagemaker.create_endpoint_config(EndpointConfigName=config_name,
                                                   ProductionVariants=[variant])["EndpointConfigArn"]
    log.info("EndpointConfig ARN: %s", arn)
    return ModelVersion(sm_model, config_name, data_url)


def wait_in_service(clients: AwsClients, endpoint: str, timeout_s: float, interval_s: float,
                    out: TextIO | None = None) -> None:
    """Polls DescribeEndpoint, printing each status change with the elapsed time.

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
            return
        if status in _TERMINAL_FAILURES:
            reason = desc.get("FailureReason", "no FailureReason given")
            raise EndpointFailed(f"endpoint '{endpoint}' is {status}: {reason}")
        if elapsed >= timeout_s:
            raise EndpointFailed(f"endpoint '{endpoint}' still {status} after {timeout_s:.0f}s")
        time.sleep(interval_s)


def configure_autoscaling(clients: AwsClients, endpoint: str, args: argparse.Namespace) -> None:
    """Registers the variant with Application Auto Scaling and a target-tracking policy."""
    resource = f"endpoint/{endpoint}/variant/{VARIANT_NAME}"
    low = args.min_instances if args.min_instances is not None else args.instance_count
    clients.autoscaling.register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=resource, ScalableDimension=_SCALABLE_DIMENSION,
        MinCapacity=low, MaxCapacity=args.max_instances)
    clients.autoscaling.put_scaling_policy(
        PolicyName=f"{endpoint}-invocations"[:256], ServiceNamespace="sagemaker", ResourceId=resource,
        ScalableDimension=_SCALABLE_DIMENSION, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": args.target_invocations_per_instance,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
        })
    print(f"Auto-scaling {resource}: {low}..{args.max_instances} instances, target "
          f"{args.target_invocations_per_instance} invocations per instance per minute", flush=True)


def remove_autoscaling(clients: AwsClients, endpoint: str, variants: list[str]) -> None:
    """Deregisters the endpoint's variants from Application Auto Scaling, where registered."""
    resources = [f"endpoint/{endpoint}/variant/{v}" for v in variants]
    found = clients.autoscaling.describe_scalable_targets(
        ServiceNamespace="sagemaker", ResourceIds=resources)["ScalableTargets"]
    for target in found:
        clients.autoscaling.deregister_scalable_target(
            ServiceNamespace="sagemaker", ResourceId=target["ResourceId"],
            ScalableDimension=target["ScalableDimension"])
        print(f"Deregistered auto-scaling of {target['ResourceId']}", flush=True)
