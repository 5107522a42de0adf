"""gs-update-endpoint: roll a live endpoint to a new model version, or back to an earlier one.

Three ways to pick the EndpointConfig the endpoint moves to (exactly one):

* the model-version flags of gs-launch-endpoint: build, upload and create a new Model and
  EndpointConfig, then roll to them;
* ``--endpoint-config-name NAME``: an existing EndpointConfig (e.g. an earlier version);
* ``--rollback``: the config the endpoint ran before its last gs-update-endpoint (recorded in the
  endpoint tag ``gs-torchserve:previous-endpoint-config``).

SageMaker replaces instances without downtime; a failed update leaves the endpoint on its old
config, which this command reports as a failure with SageMaker's reason.
"""

from __future__ import annotations

import argparse
import sys

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_deploy import cli_common
from sagemaker_deploy.aws import AwsClients, ConfigError, resolve_region
from sagemaker_deploy.deploy import (
    PREVIOUS_CONFIG_TAG,
    EndpointFailed,
    create_model_version,
    wait_in_service,
)
from sagemaker_deploy.naming import check_name_format, timestamp

PROG = "gs-update-endpoint"
_NEW_VERSION_FLAGS = ("image_uri", "role", "restore_model_path", "model_yaml_config_file",
                      "graph_json_config_file", "upload_tarfile_s3", "infer_task_type")


def build_parser() -> argparse.ArgumentParser:
    """The command's flags."""
    parser = argparse.ArgumentParser(PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-name", type=check_name_format, required=True,
                        help="the endpoint to update")
    parser.add_argument("--endpoint-config-name", type=check_name_format, default=None,
                        help="roll to this existing EndpointConfig")
    parser.add_argument("--rollback", action="store_true",
                        help="roll back to the config the endpoint ran before its last update")
    cli_common.add_model_version_args(parser, required=False)
    cli_common.add_wait_args(parser)
    return parser


def check_args(args: argparse.Namespace, region: str) -> str:
    """Picks the mode and checks its flags before any AWS call.

    Returns:
        "new", "config" or "rollback".

    Raises:
        ConfigError: when no mode or more than one is chosen, or a new version's flags are bad.
    """
    given = [f for f in _NEW_VERSION_FLAGS if getattr(args, f) is not None]
    modes = [m for m, on in (("new", bool(given)), ("config", args.endpoint_config_name is not None),
                             ("rollback", args.rollback)) if on]
    if len(modes) != 1:
        raise ConfigError("choose exactly one of: the model-version flags (--image-uri, --role, "
                          "--restore-model-path, ...), --endpoint-config-name, --rollback")
    if modes[0] == "new":
        missing = [f"--{f.replace('_', '-')}" for f in _NEW_VERSION_FLAGS if getattr(args, f) is None]
        if missing:
            raise ConfigError(f"a new model version also needs {', '.join(missing)}")
        cli_common.check_model_version_args(args, region)
    return modes[0]


def target_config(args: argparse.Namespace, mode: str, clients: AwsClients, endpoint_arn: str) -> str:
    """The EndpointConfig to roll to, creating a new model version in "new" mode."""
    if mode == "config":
        clients.sagemaker.describe_endpoint_config(EndpointConfigName=args.endpoint_config_name)
        return args.endpoint_config_name
    if mode == "rollback":
        tags = clients.sagemaker.list_tags(ResourceArn=endpoint_arn)["Tags"]
        previous = {t["Key"]: t["Value"] for t in tags}.get(PREVIOUS_CONFIG_TAG)
        if previous is None:
            raise EndpointFailed(f"endpoint '{args.endpoint_name}' has no recorded previous config "
                                 "(tag " + PREVIOUS_CONFIG_TAG + "); pass --endpoint-config-name")
        return previous
    return create_model_version(clients, args, timestamp()).endpoint_config_name


def update(args: argparse.Namespace, mode: str, clients: AwsClients) -> str:
    """Rolls the endpoint and (unless async) waits; returns the config it now runs."""
    endpoint = args.endpoint_name
    desc = clients.sagemaker.describe_endpoint(EndpointName=endpoint)
    if desc["EndpointStatus"] != "InService":
        raise EndpointFailed(f"endpoint '{endpoint}' is {desc['EndpointStatus']}; only an InService "
                             "endpoint can be updated")
    current = desc["EndpointConfigName"]
    target = target_config(args, mode, clients, desc["EndpointArn"])
    if target == current:
        raise EndpointFailed(f"endpoint '{endpoint}' already runs {target}")
    clients.sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=target)
    clients.sagemaker.add_tags(ResourceArn=desc["EndpointArn"],
                               Tags=[{"Key": PREVIOUS_CONFIG_TAG, "Value": current}])
    print(f"Updating endpoint '{endpoint}': {current} -> {target}", flush=True)
    if cli_common.is_async(args):
        return target
    wait_in_service(clients, endpoint, args.wait_timeout, args.poll_interval)
    after = clients.sagemaker.describe_endpoint(EndpointName=endpoint)
    if after["EndpointConfigName"] != target:
        reason = after.get("FailureReason", "no FailureReason given")
        raise EndpointFailed(f"update failed; endpoint '{endpoint}' stays on "
                             f"{after['EndpointConfigName']}: {reason}")
    print(f"Endpoint '{endpoint}' now runs {target}", flush=True)
    return target


def main(argv: list[str] | None = None, clients: AwsClients | None = None) -> int:
    """Console entry point; 0 on success, 1 when AWS or the update failed, 2 for bad flags."""
    parser = build_parser()
    args = parser.parse_args(argv)
    cli_common.configure_logging(args.log_level)
    try:
        region = resolve_region(args.region)
        mode = check_args(args, region)
    except ConfigError as err:
        parser.error(str(err))
    try:
        update(args, mode, clients or AwsClients(region))
    except (EndpointFailed, RuntimeError, ClientError, BotoCoreError) as err:
        print(f"{PROG}: failed: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
