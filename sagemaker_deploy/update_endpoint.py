"""gs-update-endpoint: roll a live endpoint to a new model version, or back to an earlier one.

Three ways to pick the EndpointConfig the endpoint moves to (exactly one):

* the model-version flags of gs-launch-endpoint: build, upload and create a new Model and
  EndpointConfig, then roll to them;
* ``--endpoint-config-name NAME``: an existing EndpointConfig (e.g. an earlier version);
* ``--rollback``: the config the endpoint ran before its last successful gs-update-endpoint
  (recorded in the endpoint tag ``gs-torchserve:previous-endpoint-config``).

Capacity: UpdateEndpoint runs with RetainAllVariantProperties, so the endpoint keeps its current
instance count (which auto-scaling may have changed) and weights, and its auto-scaling
registration (same variant name) stays in force; ``--reset-instance-count`` takes the new config's
InitialInstanceCount instead.

Traffic: ``--traffic-shifting canary|linear|all-at-once`` makes a blue/green deployment that shifts
traffic in steps (``--canary-percent``/``--linear-step-percent``, ``--wait-interval`` seconds each)
and, with ``--rollback-alarms``, rolls back by itself when any of those CloudWatch alarms fires.
The command waits for the end and says what happened: the new config serves, or SageMaker rolled
back (with its reason, exit 1), or the rollback itself failed (UpdateRollbackFailed, exit 1, at
once). Nothing is tagged or recorded unless the update succeeded.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_deploy import cli_common
from sagemaker_deploy.aws import AwsClients, ConfigError, resolve_region
from sagemaker_deploy.created import CreatedResources
from sagemaker_deploy.deploy import (
    PREVIOUS_CONFIG_TAG,
    EndpointFailed,
    create_model_version,
    endpoint_tags,
    pack_model_version,
    scalable_targets,
    wait_in_service,
)
from sagemaker_deploy.naming import check_name_format, timestamp

PROG = "gs-update-endpoint"
_NEW_VERSION_FLAGS = ("image_uri", "role", "restore_model_path", "model_yaml_config_file",
                      "graph_json_config_file", "upload_tarfile_s3", "infer_task_type")
SHIFTING = ("none", "all-at-once", "canary", "linear")


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
    group = parser.add_argument_group("deployment (blue/green traffic shifting, automatic rollback)")
    group.add_argument("--reset-instance-count", action="store_true",
                       help="use the new config's InitialInstanceCount instead of keeping the current "
                            "instance count and weights (RetainAllVariantProperties)")
    group.add_argument("--traffic-shifting", choices=SHIFTING, default="none",
                       help="blue/green traffic shifting: 'canary' (a share first, then the rest), "
                            "'linear' (equal steps), 'all-at-once'; default 'none': SageMaker's default "
                            "update (all at once, no alarms) unless --rollback-alarms is given")
    group.add_argument("--canary-percent", type=int, default=10,
                       help="canary: percent of capacity that gets traffic first (default 10)")
    group.add_argument("--linear-step-percent", type=int, default=25,
                       help="linear: percent of capacity shifted per step (default 25)")
    group.add_argument("--wait-interval", type=int, default=300,
                       help="seconds to watch the alarms after each traffic step (default 300)")
    group.add_argument("--rollback-alarms", nargs="+", default=[], metavar="ALARM",
                       help="CloudWatch alarm names; SageMaker rolls back by itself if any fires during "
                            "the deployment (see docs/sagemaker.md for alarms to create)")
    group.add_argument("--termination-wait", type=int, default=0,
                       help="seconds the old fleet is kept after full traffic shift (default 0)")
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
    if not 1 <= args.canary_percent <= 50:
        raise ConfigError(f"--canary-percent must be 1..50, got {args.canary_percent}")
    if not 1 <= args.linear_step_percent <= 50:
        raise ConfigError(f"--linear-step-percent must be 1..50, got {args.linear_step_percent}")
    if not 0 <= args.wait_interval <= 3600:
        raise ConfigError(f"--wait-interval must be 0..3600 seconds, got {args.wait_interval}")
    if not 0 <= args.termination_wait <= 3600:
        raise ConfigError(f"--termination-wait must be 0..3600 seconds, got {args.termination_wait}")
    if args.rollback_alarms and cli_common.is_async(args):
        raise ConfigError("--rollback-alarms: the outcome is known only by waiting; not with "
                          "--async-execution true")
    if modes[0] == "new":
        missing = [f"--{f.replace('_', '-')}" for f in _NEW_VERSION_FLAGS if getattr(args, f) is None]
        if missing:
            raise ConfigError(f"a new model version also needs {', '.join(missing)}")
        cli_common.check_model_version_args(args, region)
    return modes[0]


def deployment_config(args: argparse.Namespace) -> dict | None:
    """UpdateEndpoint's DeploymentConfig for the flags, or None for SageMaker's default update."""
    shifting = args.traffic_shifting
    if shifting == "none" and not args.rollback_alarms:
        return None
    routing: dict = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": args.wait_interval}
    if shifting == "canary":
        routing.update(Type="CANARY", CanarySize={"Type": "CAPACITY_PERCENT", "Value": args.canary_percent})
    elif shifting == "linear":
        routing.update(Type="LINEAR", LinearStepSize={"Type": "CAPACITY_PERCENT",
                                                       "Value": args.linear_step_percent})
    config: dict = {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing,
                                              "TerminationWaitInSeconds": args.termination_wait}}
    if args.rollback_alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in args.rollback_alarms]}
    return config


def target_config(args: argparse.Namespace, mode: str, clients: AwsClients, endpoint_arn: str,
                  created: CreatedResources) -> str:
    """The EndpointConfig to roll to, creating a new model version in "new" mode."""
    if mode == "config":
        clients.sagemaker.describe_endpoint_config(EndpointConfigName=args.endpoint_config_name)
        return args.endpoint_config_name
    if mode == "rollback":
        previous = endpoint_tags(clients, endpoint_arn).get(PREVIOUS_CONFIG_TAG)
        if previous is None:
            raise EndpointFailed(f"endpoint '{args.endpoint_name}' has no recorded previous config "
                                 "(tag " + PREVIOUS_CONFIG_TAG + "); pass --endpoint-config-name")
        return previous
    with tempfile.TemporaryDirectory(prefix="gs-sm-pack-") as tmp:
        tarball, kind = pack_model_version(args, Path(tmp))
        return create_model_version(clients, args, timestamp(), created, tarball, kind).endpoint_config_name


def _capacity(desc: dict) -> str:
    """The variants' instance counts of a DescribeEndpoint answer, e.g. "AllTraffic: 3 (desired 3)"."""
    parts = [f"{v['VariantName']}: {v.get('CurrentInstanceCount', '?')} (desired "
             f"{v.get('DesiredInstanceCount', '?')})" for v in desc.get("ProductionVariants", [])]
    return ", ".join(parts) or "unknown"


def _scaling_note(clients: AwsClients, endpoint: str, desc: dict) -> str | None:
    """The auto-scaling range in force, if readable and set."""
    variants = [v["VariantName"] for v in desc.get("ProductionVariants", [])] or ["AllTraffic"]
    try:
        found = scalable_targets(clients, endpoint, variants, required=False)
    except (ClientError, BotoCoreError):
        return None
    if not found:
        return None
    return "; ".join(f"auto-scaling {t['ResourceId']}: {t['MinCapacity']}..{t['MaxCapacity']}" for t in found)


def update(args: argparse.Namespace, mode: str, clients: AwsClients, created: CreatedResources) -> str:
    """Rolls the endpoint and (unless async) waits; returns the config it now runs."""
    endpoint = args.endpoint_name
    desc = clients.sagemaker.describe_endpoint(EndpointName=endpoint)
    if desc["EndpointStatus"] != "InService":
        raise EndpointFailed(f"endpoint '{endpoint}' is {desc['EndpointStatus']}; only an InService "
                             "endpoint can be updated")
    current = desc["EndpointConfigName"]
    target = target_config(args, mode, clients, desc["EndpointArn"], created)
    if target == current:
        raise EndpointFailed(f"endpoint '{endpoint}' already runs {target}")
    request: dict = {"EndpointName": endpoint, "EndpointConfigName": target}
    if not args.reset_instance_count:
        request["RetainAllVariantProperties"] = True
    deployment = deployment_config(args)
    if deployment is not None:
        request["DeploymentConfig"] = deployment
    clients.sagemaker.update_endpoint(**request)
    how = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] if deployment else "default"
    alarms = f", rollback on alarms {args.rollback_alarms}" if args.rollback_alarms else ""
    keep = "new config's instance count" if args.reset_instance_count else f"keeping capacity {_capacity(desc)}"
    print(f"Updating endpoint '{endpoint}': {current} -> {target} ({how} traffic shift{alarms}; {keep})",
          flush=True)
    if cli_common.is_async(args):
        print(f"Not waiting (--async-execution): the previous config {current} is not recorded for "
              f"--rollback; roll back with --endpoint-config-name {current}", flush=True)
        return target
    try:
        after = wait_in_service(clients, endpoint, args.wait_timeout, args.poll_interval)
    except EndpointFailed as err:
        if err.status == "UpdateRollbackFailed":
            raise EndpointFailed(f"{err}. SageMaker could not roll back: the endpoint needs attention "
                                 f"(roll it with --endpoint-config-name {current}, or delete it)",
                                 err.status) from err
        raise
    if after["EndpointConfigName"] != target:
        reason = after.get("FailureReason", "no FailureReason given")
        raise EndpointFailed(f"update did not complete; SageMaker rolled back and endpoint '{endpoint}' "
                             f"serves {after['EndpointConfigName']} again: {reason}")
    # Recorded only now: a --rollback must go to a config that really served before this one.
    clients.sagemaker.add_tags(ResourceArn=desc["EndpointArn"],
                               Tags=[{"Key": PREVIOUS_CONFIG_TAG, "Value": current}])
    print(f"Endpoint '{endpoint}' now runs {target}; capacity {_capacity(after)}", flush=True)
    note = _scaling_note(clients, endpoint, after)
    if note:
        print(f"Kept {note}", flush=True)
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
    clients = clients or AwsClients(region)
    created = CreatedResources(region)
    try:
        update(args, mode, clients, created)
    except (EndpointFailed, RuntimeError, ClientError, BotoCoreError) as err:
        print(f"{PROG}: failed: {err}", file=sys.stderr)
        # The new version's objects stay: a rolled-back update leaves the endpoint on its old
        # config, and these are what a retry or an investigation needs; say how to remove them.
        created.report_left("the new model version, not in use")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
