"""Flags shared by gs-launch-endpoint and gs-update-endpoint, and their checks before any AWS call."""

from __future__ import annotations

import argparse
import json
import logging
import re
from pathlib import Path

import botocore.session

from handler.contract.lm_resolution import parse_lm_mapping
from handler.contract.settings import (
    EMF_METRICS_ENV,
    GRAPH_STORE_ENV,
    HTTP_STATUS_ENV,
    INFER_TASK_TYPE_ENV,
    MODEL_NAME_ENV,
)
from sagemaker_deploy.aws import ConfigError
from sagemaker_deploy.container_env import TASK_TYPES, container_env_problems
from sagemaker_deploy.graph_store import add_graph_store_arg, graph_store_problems, uses_neptune
from sagemaker_deploy.lm_models import lm_problems, required_lm_names
from sagemaker_deploy.naming import check_name_format, extract_ecr_region, parse_s3_url
from sagemaker_deploy.packaging import (
    PACKAGE_KINDS,
    ModelSource,
    resolve_package_kind,
    serving_stack_installed,
)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/\S+$")


def json_object(text: str) -> dict:
    """argparse type: a JSON object given as a string."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def key_value(text: str) -> tuple[str, str]:
    """argparse type: ``KEY=VALUE``."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def add_artifact_args(parser: argparse.ArgumentParser, required: bool) -> None:
    """The artifact flags (GraphStorm's names, as gs-build-mar's). Defined here, not imported from
    mar_builder, so that the deploy tools import nothing of the serving code (Python >= 3.9)."""
    parser.add_argument("--restore-model-path", type=Path, required=required,
                        help="folder holding the trained model.bin")
    parser.add_argument("--model-yaml-config-file", type=Path, required=required,
                        help="GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml saved by training")
    parser.add_argument("--graph-json-config-file", type=Path, required=required,
                        help="data_transform_new.json written by GConstruct/GSProcessing")
    parser.add_argument("--infer-task-type", type=str, required=required, choices=TASK_TYPES,
                        help=f"real-time inference task, one of {TASK_TYPES}")
    parser.add_argument("--lm-model", action="append", default=[], metavar="NAME=DIR",
                        help="ship the language model NAME (as the artifacts name it: tokenize_hf / "
                             "bert_hf bert_model, lm_model model_name) from DIR (tokenizer, config, "
                             "weights) in the model tarball; repeatable. The container never "
                             "downloads a model")


def add_model_version_args(parser: argparse.ArgumentParser, required: bool) -> None:
    """Adds the flags that define one deployable model version (GraphStorm's names).

    Args:
        parser: the parser to extend.
        required: whether the artifact flags are required (launch) or optional (update, where
            they are needed only when rolling to a new model version).
    """
    parser.add_argument("--region", type=str, default=None,
                        help="AWS region; default: the AWS configuration's (AWS_REGION, profile). "
                             "Must be the region of the ECR image.")
    parser.add_argument("--image-uri", type=str, required=required,
                        help="gs-torchserve SageMaker endpoint image URI in ECR")
    parser.add_argument("--role", type=str, required=required,
                        help="SageMaker execution role ARN for the model")
    parser.add_argument("--instance-type", type=str, default="ml.c6i.xlarge",
                        help="instance type of the endpoint (default ml.c6i.xlarge)")
    parser.add_argument("--instance-count", type=int, default=1,
                        help="number of endpoint instances (default 1)")
    parser.add_argument("--custom-production-variant", type=json_object, default=None,
                        help="JSON object merged over the default ProductionVariant (its keys win)")
    add_artifact_args(parser, required)
    parser.add_argument("--upload-tarfile-s3", type=str, required=required,
                        help="S3 prefix (s3://bucket/prefix) for the model tarball")
    parser.add_argument("--model-name", type=check_name_format, default="GSF-Model4Realtime",
                        help="base name of the SageMaker Model, EndpointConfig and Endpoint; must match "
                             r"^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])$ (default GSF-Model4Realtime)")
    parser.add_argument("--vpc-subnet-ids", type=str, nargs="+", default=None,
                        help="VPC subnet IDs for the model (with --vpc-security-group-ids)")
    parser.add_argument("--vpc-security-group-ids", type=str, nargs="+", default=None,
                        help="VPC security group IDs for the model (with --vpc-subnet-ids)")
    parser.add_argument("--container-env", type=key_value, nargs="+", default=[],
                        metavar="KEY=VALUE",
                        help="extra container environment, e.g. SAGEMAKER_TS_BATCH_SIZE=8; keys starting "
                             "GS_ or SAGEMAKER_ must be ones the container reads (docs/sagemaker.md)")
    parser.add_argument("--http-status", action="store_true",
                        help="answer with the envelope's status_code as the HTTP status (sets "
                             "GS_HTTP_STATUS=true), so that CloudWatch's Invocation4XXErrors/5XXErrors "
                             "count failed requests; default: HTTP 200 with the status in the body, "
                             "as GraphStorm")
    parser.add_argument("--emf-metrics", action="store_true",
                        help="write CloudWatch embedded-metric-format lines per batch (sets "
                             "GS_EMF_METRICS=true): requests by status code, stage latencies, batch size")
    parser.add_argument("--model-package", choices=PACKAGE_KINDS, default="auto",
                        help="model tarball: 'mar' (built and checked here with gs-build-mar; needs "
                             ".[serve]), 'artifacts' (GraphStorm's files; the container serves them in "
                             "place), 'auto' (default): mar where the serving stack is installed")
    parser.add_argument("--network-isolation", choices=("auto", "true", "false"), default="auto",
                        help="CreateModel EnableNetworkIsolation (no outbound network from the "
                             "container); 'auto' (default): on, since the model needs no outside "
                             "access (language models travel in the tarball, --lm-model)")
    parser.add_argument("--s3-bucket-owner", type=str, default=None,
                        help="account ID that must own the --upload-tarfile-s3 bucket (S3 "
                             "ExpectedBucketOwner); default: the caller's account; '' to not check")
    parser.add_argument("--s3-kms-key-id", type=str, default=None,
                        help="KMS key (ID, ARN or alias) to encrypt the model tarball with (SSE-KMS); "
                             "default: the bucket's default encryption")
    add_graph_store_arg(parser)


def add_wait_args(parser: argparse.ArgumentParser) -> None:
    """Adds --async-execution (GraphStorm's spelling), the wait limits and --log-level."""
    parser.add_argument("--async-execution", type=str, default="false",
                        choices=["True", "true", "False", "false"],
                        help="'true': return once the request is accepted; 'false' (default): wait "
                             "until the endpoint is InService or failed")
    parser.add_argument("--wait-timeout", type=int, default=1800,
                        help="seconds to wait for InService (default 1800)")
    parser.add_argument("--poll-interval", type=float, default=30.0,
                        help="seconds between status checks while waiting (default 30)")
    parser.add_argument("--log-level", default="INFO", choices=LOG_LEVELS,
                        help="log level (default INFO)")


def add_autoscaling_args(parser: argparse.ArgumentParser) -> None:
    """Adds the optional target-tracking auto-scaling flags."""
    parser.add_argument("--min-instances", type=int, default=None,
                        help="auto-scaling: minimum instances (default --instance-count)")
    parser.add_argument("--max-instances", type=int, default=None,
                        help="auto-scaling: maximum instances; enables auto-scaling")
    parser.add_argument("--target-invocations-per-instance", type=float, default=None,
                        help="auto-scaling: target SageMakerVariantInvocationsPerInstance per minute")


def configure_logging(level: str) -> None:
    """Sets the root log level (the flag's name)."""
    logging.basicConfig(level=getattr(logging, level), force=True,
                        format="%(asctime)s %(levelname)s %(message)s")
    if level != "DEBUG":
        # boto's INFO lines (credential and endpoint discovery) are noise for this tool's users.
        for name in ("botocore", "boto3", "s3transfer", "urllib3"):
            logging.getLogger(name).setLevel(logging.WARNING)


def is_async(args: argparse.Namespace) -> bool:
    """Whether --async-execution asks not to wait."""
    return args.async_execution.lower() == "true"


def model_source(args: argparse.Namespace) -> ModelSource:
    """The artifacts named by the flags."""
    return ModelSource(args.restore_model_path, args.model_yaml_config_file,
                       args.graph_json_config_file, args.infer_task_type,
                       parse_lm_mapping(getattr(args, "lm_model", None) or []),
                       graph_store=getattr(args, "graph_store", None))


def container_environment(args: argparse.Namespace, package_kind: str) -> dict[str, str]:
    """The container's Environment: --container-env plus what the flags and the package imply.

    Args:
        args: the parsed flags.
        package_kind: ``mar`` or ``artifacts`` (an artifacts tarball tells the container the task
            and model name, which a `.mar` carries itself).

    Returns:
        The environment (explicit --container-env values win).
    """
    env: dict[str, str] = {}
    if args.http_status:
        env[HTTP_STATUS_ENV] = "true"
    if args.emf_metrics:
        env[EMF_METRICS_ENV] = "true"
    if package_kind == "artifacts":
        env.update({INFER_TASK_TYPE_ENV: args.infer_task_type, MODEL_NAME_ENV: args.model_name})
    if getattr(args, "graph_store", None):
        env[GRAPH_STORE_ENV] = args.graph_store  # a URI: never a credential (store_uri refuses them)
    env.update(dict(args.container_env))
    return env


def network_isolation(args: argparse.Namespace) -> bool:
    """CreateModel's EnableNetworkIsolation for the --network-isolation flag.

    ``auto`` is on: the container reads only the model tarball (language models included,
    ``--lm-model``; it never downloads one) and answers SageMaker's calls; off when the model
    queries a Neptune graph store (``--graph-store``; ``true`` is then refused by the checks).
    """
    if args.network_isolation == "auto":
        return not uses_neptune(args)
    return args.network_isolation == "true"


def check_model_version_args(args: argparse.Namespace, region: str) -> None:
    """GraphStorm's sanity checks plus ours, all before any AWS call.

    Raises:
        ConfigError: naming every problem found.
    """
    problems = []
    ecr_region = extract_ecr_region(args.image_uri)
    if ecr_region != region:
        problems.append(
            f"The given Docker image {args.image_uri} is in the region {ecr_region}, but is different "
            f"from the --region argument: {region}. The endpoint should be deployed at the same "
            "region as the image.")
    if bool(args.vpc_subnet_ids) != bool(args.vpc_security_group_ids):
        problems.append("Both --vpc-subnet-ids and --vpc-security-group-ids must be provided together "
                        "when configuring VPC access.")
    if not _ROLE_ARN.match(args.role):
        problems.append(f"--role must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got {args.role!r}")
    if args.instance_count < 1:
        problems.append(f"--instance-count must be >= 1, got {args.instance_count}")
    if not args.instance_type.startswith("ml."):
        problems.append(f"--instance-type must be a SageMaker instance type (ml.*), got {args.instance_type!r}")
    try:
        parse_s3_url(args.upload_tarfile_s3)
    except ConfigError as err:
        problems.append(f"--upload-tarfile-s3: {err}")
    try:
        lm_given = parse_lm_mapping(args.lm_model or [])
    except ValueError as err:
        problems.append(str(err))
    else:
        problems += model_source(args).missing()
        needed = required_lm_names(args.model_yaml_config_file, args.graph_json_config_file)
        kind = resolve_package_kind(args.model_package)
        problems += lm_problems(lm_given, needed, must_give_all=kind == "artifacts")
    problems += _graph_json_problems(args.graph_json_config_file)
    problems += _production_variant_problems(args.custom_production_variant)
    problems += container_env_problems(args.container_env)
    problems += graph_store_problems(args, region)
    if args.s3_bucket_owner and not re.fullmatch(r"\d{12}", args.s3_bucket_owner):
        problems.append(f"--s3-bucket-owner must be a 12-digit AWS account ID, got {args.s3_bucket_owner!r}")
    if args.model_package == "mar" and not serving_stack_installed():
        problems.append("--model-package mar needs the serving stack here (pip install .[serve]); "
                        "use --model-package artifacts")
    if problems:
        raise ConfigError("; ".join(problems))


def check_autoscaling_args(args: argparse.Namespace) -> None:
    """Auto-scaling flags: all or nothing, consistent bounds, and only when waiting.

    Raises:
        ConfigError: naming the problem.
    """
    given = [args.min_instances, args.max_instances, args.target_invocations_per_instance]
    if all(v is None for v in given):
        return
    if args.max_instances is None or args.target_invocations_per_instance is None:
        raise ConfigError("auto-scaling needs --max-instances and --target-invocations-per-instance")
    low = args.min_instances if args.min_instances is not None else args.instance_count
    if not 1 <= low <= args.max_instances:
        raise ConfigError(f"auto-scaling needs 1 <= --min-instances ({low}) <= --max-instances "
                          f"({args.max_instances})")
    if args.target_invocations_per_instance <= 0:
        raise ConfigError("--target-invocations-per-instance must be > 0")
    if is_async(args):
        raise ConfigError("auto-scaling is registered once the endpoint is InService: "
                          "it cannot be combined with --async-execution true")


def _graph_json_problems(path: Path) -> list[str]:
    """The graph JSON must parse."""
    if not path.is_file():
        return []  # reported by ModelSource.missing
    try:
        json.loads(path.read_text())
    except json.JSONDecodeError as err:
        return [f"--graph-json-config-file {path} is not valid JSON: {err}"]
    return []


def _production_variant_problems(variant: dict | None) -> list[str]:
    """Unknown ProductionVariant keys, checked against botocore's SageMaker service model."""
    if not variant:
        return []
    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("ProductionVariant")
    unknown = sorted(set(variant) - set(shape.members))
    if unknown:
        return [f"--custom-production-variant has keys that ProductionVariant does not have: {unknown}"]
    return []
