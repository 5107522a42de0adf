"""gs-launch-endpoint: deploy GraphStorm model artifacts as a SageMaker real-time endpoint.

Takes every flag of GraphStorm's ``launch_realtime_endpoint.py`` (plus optional auto-scaling) and
applies its sanity checks and naming rules, with boto3 only. Steps: build the `.mar` with
gs-build-mar (which checks that the artifacts fit together), pack model.tar.gz and upload it, create
the Model, EndpointConfig and Endpoint, then wait for InService unless --async-execution is true.
"""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_deploy import cli_common
from sagemaker_deploy.aws import AwsClients, ConfigError, resolve_region
from sagemaker_deploy.deploy import (
    EndpointFailed,
    configure_autoscaling,
    create_model_version,
    wait_in_service,
)
from sagemaker_deploy.naming import object_name, timestamp

PROG = "gs-launch-endpoint"


def build_parser() -> argparse.ArgumentParser:
    """The command's flags."""
    parser = argparse.ArgumentParser(PROG, description=__doc__.splitlines()[0])
    cli_common.add_model_version_args(parser, required=True)
    cli_common.add_wait_args(parser)
    cli_common.add_autoscaling_args(parser)
    return parser


def launch(args: argparse.Namespace, clients: AwsClients) -> str:
    """Creates the endpoint and (unless async) waits for it.

    Args:
        args: parsed and checked flags.
        clients: the AWS clients.

    Returns:
        The endpoint name.
    """
    stamp = timestamp()
    version = create_model_version(clients, args, stamp)
    endpoint = object_name(args.model_name, "Endpoint", stamp)
    arn = clients.sagemaker.create_endpoint(EndpointName=endpoint,
                                            EndpointConfigName=version.endpoint_config_name)
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
        configure_autoscaling(clients, endpoint, args)
    print(f"Endpoint named '{endpoint}' has been successfully created, and ready to be invoked!",
          flush=True)
    return endpoint


def main(argv: list[str] | None = None, clients: AwsClients | None = None) -> int:
    """Console entry point.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        clients: AWS clients to use (tests); default: new ones for the resolved region.

    Returns:
        0 on success, 1 when AWS or the endpoint failed, 2 for bad flags.
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
    try:
        launch(args, clients or AwsClients(region))
    except (EndpointFailed, RuntimeError, ClientError, BotoCoreError) as err:
        print(f"{PROG}: failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
