"""gs-launch-endpoint: deploy GraphStorm model artifacts as a SageMaker real-time endpoint.

Takes every flag of GraphStorm's ``launch_realtime_endpoint.py`` (plus optional auto-scaling) and
applies its sanity checks and naming rules, with boto3 only. Steps: pack model.tar.gz (a `.mar`
built with gs-build-mar where the serving stack is installed, else the raw artifacts) and upload
it, create the Model, EndpointConfig and Endpoint, then wait for InService unless
--async-execution is true.

Failures: what this run created is deleted again (tarball, Model, EndpointConfig, and a Failed
endpoint); what cannot be deleted, or must not be (an endpoint still being created when the wait
timed out), is printed with the commands that remove it. A rerun refuses to create a second
endpoint for the same --model-name while one is live (--allow-another-endpoint overrides). An
endpoint that is InService when only auto-scaling fails is kept and reported as serving and
billing (exit 3), with the commands that register the scaling.

Exit status: 0 InService; 1 failed (nothing of this run left, or what is left printed); 2 bad
flags; 3 InService and billing, but auto-scaling not registered.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_deploy import cli_common
from sagemaker_deploy.aws import AwsClients, ConfigError, resolve_region
from sagemaker_deploy.created import CreatedResources
from sagemaker_deploy.deploy import (
    AUTOSCALING_TAG,
    SCALABLE_DIMENSION,
    VARIANT_NAME,
    EndpointFailed,
    configure_autoscaling,
    create_model_version,
    pack_model_version,
    wait_in_service,
)
from sagemaker_deploy.naming import object_name, timestamp

PROG = "gs-launch-endpoint"
EXIT_SCALING_FAILED = 3
# Endpoints in these states are not live (no instances, no bill): they do not block a rerun.
_NOT_LIVE = ("Failed", "Deleting")


class ScalingFailed(RuntimeError):
    """The endpoint is InService, but registering auto-scaling failed."""


def build_parser() -> argparse.ArgumentParser:
    """The command's flags."""
    parser = argparse.ArgumentParser(PROG, description=__doc__.splitlines()[0])
    cli_common.add_model_version_args(parser, required=True)
    cli_common.add_wait_args(parser)
    cli_common.add_autoscaling_args(parser)
    parser.add_argument("--allow-another-endpoint", action="store_true",
                        help="create a new endpoint even if one for this --model-name is live")
    parser.add_argument("--keep-on-failure", action="store_true",
                        help="on failure, keep what this run created (to inspect it) and print how to "
                             "remove it")
    return parser


def live_endpoints(clients: AwsClients, model_name: str) -> list[tuple[str, str]]:
    """Endpoints named like this model's (``<model-name>-Endpoint-<time>``) that are not Failed."""
    prefix = object_name(model_name, "Endpoint", "")
    found, token = [], None
    while True:
        page = clients.sagemaker.list_endpoints(NameContains=prefix, MaxResults=100,
                                                **({"NextToken": token} if token else {}))
        found += [(e["EndpointName"], e["EndpointStatus"]) for e in page["Endpoints"]
                  if e["EndpointName"].startswith(prefix) and e["EndpointStatus"] not in _NOT_LIVE]
        token = page.get("NextToken")
        if not token:
            return found


def launch(args: argparse.Namespace, clients: AwsClients, created: CreatedResources) -> str:
    """Creates the endpoint and (unless async) waits for it, recording every object it creates.

    Args:
        args: parsed and checked flags.
        clients: the AWS clients.
        created: the record of created objects (for clean-up by the caller).

    Returns:
        The endpoint name.

    Raises:
        EndpointFailed: an existing live endpoint, or the endpoint did not reach InService.
        ScalingFailed: the endpoint is InService, auto-scaling could not be registered.
    """
    with tempfile.TemporaryDirectory(prefix="gs-sm-pack-") as tmp:
        tarball, kind = pack_model_version(args, Path(tmp))
        return _create(args, clients, created, tarball, kind)


def _create(args: argparse.Namespace, clients: AwsClients, created: CreatedResources, tarball: Path,
            kind: str) -> str:
    """The AWS part of ``launch``, once the tarball is packed."""
    if not args.allow_another_endpoint:
        existing = live_endpoints(clients, args.model_name)
        if existing:
            listed = ", ".join(f"{name} ({status})" for name, status in existing)
            raise EndpointFailed(
                f"an endpoint for --model-name {args.model_name} already exists: {listed}. Roll it to "
                "a new version with gs-update-endpoint, delete it with gs-delete-endpoint, or pass "
                "--allow-another-endpoint to create a second one (billed separately)")
    stamp = timestamp()
    version = create_model_version(clients, args, stamp, created, tarball, kind)
    endpoint = object_name(args.model_name, "Endpoint", stamp)
    request = {"EndpointName": endpoint, "EndpointConfigName": version.endpoint_config_name}
    if args.max_instances is not None:
        # "pending" until registered: gs-delete-endpoint then looks for scaling if it may.
        request["Tags"] = [{"Key": AUTOSCALING_TAG, "Value": "pending"}]
    arn = clients.sagemaker.create_endpoint(**request)
    created.endpoints.append(endpoint)
    print(f"Creating endpoint '{endpoint}' ({arn['EndpointArn']}) in {clients.region}", flush=True)
    if cli_common.is_async(args):
        status = clients.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        print(f"Creating endpoint name: '{endpoint}' in {clients.region} region, current status: "
              f"{status}", flush=True)
        return endpoint
    print(f"Waiting for endpoint '{endpoint}' to be in service in {clients.region} region...",
          flush=True)
    wait_in_service(clients, endpoint, args.wait_timeout, args.poll_interval)
    if args.max_instances is not None:
        try:
            configure_autoscaling(clients, endpoint, args)
            clients.sagemaker.add_tags(ResourceArn=arn["EndpointArn"],
                                       Tags=[{"Key": AUTOSCALING_TAG, "Value": "true"}])
        except (ClientError, BotoCoreError) as err:
            raise ScalingFailed(_scaling_failed_message(endpoint, args, clients.region, err)) from err
    print(f"Endpoint named '{endpoint}' has been successfully created, and ready to be invoked!",
          flush=True)
    return endpoint


def _scaling_failed_message(endpoint: str, args: argparse.Namespace, region: str, err: Exception) -> str:
    """What to tell the user when the endpoint serves but scaling was not registered."""
    resource = f"endpoint/{endpoint}/variant/{VARIANT_NAME}"
    low = args.min_instances if args.min_instances is not None else args.instance_count
    policy = json.dumps({"TargetValue": args.target_invocations_per_instance,
                         "PredefinedMetricSpecification": {
                             "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}})
    return (
        f"endpoint '{endpoint}' IS IN SERVICE AND BILLING at {args.instance_count} instance(s), but its "
        f"auto-scaling could not be registered: {err}\n"
        "It answers requests as it is. Register the scaling yourself with:\n"
        f"  aws application-autoscaling register-scalable-target --region {region} "
        f"--service-namespace sagemaker --resource-id {resource} --scalable-dimension "
        f"{SCALABLE_DIMENSION} --min-capacity {low} --max-capacity {args.max_instances}\n"
        f"  aws application-autoscaling put-scaling-policy --region {region} --service-namespace "
        f"sagemaker --resource-id {resource} --scalable-dimension {SCALABLE_DIMENSION} "
        f"--policy-name {endpoint}-invocations --policy-type TargetTrackingScaling "
        f"--target-tracking-scaling-policy-configuration '{policy}'\n"
        f"or stop the bill with: gs-delete-endpoint --endpoint-name {endpoint} --region {region}")


def _on_failure(err: Exception, args: argparse.Namespace, clients: AwsClients,
                created: CreatedResources) -> None:
    """Removes what this run created, except an endpoint that may still come up; says what is left."""
    still_creating = isinstance(err, EndpointFailed) and created.endpoints and not err.status
    if args.keep_on_failure:
        created.report_left("kept: --keep-on-failure")
        return
    if still_creating:
        # The wait timed out: the endpoint may still reach InService. Deleting it could throw away
        # a working deployment; keeping it silently would bill unnoticed. Say so and keep it.
        created.report_left("the endpoint was still being created when the wait ended; it bills once "
                            "InService")
        return
    if created.is_empty():
        return
    left = created.remove(clients)
    left.report_left("could not be deleted")


def main(argv: list[str] | None = None, clients: AwsClients | None = None) -> int:
    """Console entry point.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        clients: AWS clients to use (tests); default: new ones for the resolved region.

    Returns:
        0 on success, 1 when AWS or the endpoint failed, 2 for bad flags, 3 when the endpoint is
        InService but auto-scaling failed.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    cli_common.configure_logging(args.log_level)
    try:
        region = resolve_region(args.region)
        cli_common.check_model_version_args(args, region)
        cli_common.check_autoscaling_args(args)
    except ConfigError as err:
        parser.error(str(err))
    clients = clients or AwsClients(region)
    created = CreatedResources(region)
    try:
        launch(args, clients, created)
    except ScalingFailed as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return EXIT_SCALING_FAILED
    except (EndpointFailed, RuntimeError, ClientError, BotoCoreError) as err:
        print(f"{PROG}: failed: {err}", file=sys.stderr)
        _on_failure(err, args, clients, created)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
