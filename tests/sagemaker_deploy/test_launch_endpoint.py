"""gs-launch-endpoint and gs-delete-endpoint against a real moto server; flag checks before AWS."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import boto3
import pytest

from sagemaker_deploy import delete_endpoint, invoke_endpoint, launch_endpoint
from sagemaker_deploy.aws import AwsClients
from tests.compare import load_cases
from tests.sagemaker_deploy.moto_env import (
    FIXTURES,
    IMAGE_URI,
    REGION,
    ROLE_ARN,
    NoAwsClients,
    model_version_argv,
    queue_invoke_result,
)

REPO = Path(__file__).resolve().parents[2]


def _only_endpoint(sm, prefix: str) -> dict:
    names = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"] if e["EndpointName"].startswith(prefix)]
    assert len(names) == 1, names
    return sm.describe_endpoint(EndpointName=names[0])


def test_launch_invoke_delete_node_regression(bucket: str, moto_url: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    """Launch (with auto-scaling) creates the S3 tarball, Model, EndpointConfig and Endpoint with the
    right fields; invoke prints the envelope; delete removes all of them and the scaling registration."""
    argv = model_version_argv("rgcn_nr", "node_regression", "gs-rgcn-nr", f"s3://{bucket}/realtime")
    argv += ["--instance-count", "2", "--poll-interval", "0.05", "--container-env",
             "SAGEMAKER_TS_BATCH_SIZE=4", "--min-instances", "1", "--max-instances", "3",
             "--target-invocations-per-instance", "200",
             "--custom-production-variant", '{"InitialVariantWeight": 2}']
    assert launch_endpoint.main(argv) == 0
    out = capsys.readouterr().out
    sm, s3 = boto3.client("sagemaker"), boto3.client("s3")

    endpoint = _only_endpoint(sm, "gs-rgcn-nr-Endpoint-")
    name = endpoint["EndpointName"]
    stamp = name.removeprefix("gs-rgcn-nr-Endpoint-")
    assert f"Endpoint named '{name}' has been successfully created" in out
    assert "InService" in out
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == f"gs-rgcn-nr-EndpointConfig-{stamp}"

    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    [variant] = config["ProductionVariants"]
    assert variant["ModelName"] == f"gs-rgcn-nr-{stamp}"
    assert variant["VariantName"] == "AllTraffic"
    assert variant["InstanceType"] == "ml.c5.xlarge"
    assert variant["InitialInstanceCount"] == 2
    assert variant["InitialVariantWeight"] == 2  # the custom variant's keys win

    model = sm.describe_model(ModelName=variant["ModelName"])
    container = model.get("PrimaryContainer") or model["Containers"][0]
    assert model["ExecutionRoleArn"] == ROLE_ARN
    assert container["Image"] == IMAGE_URI
    assert container["Environment"] == {"SAGEMAKER_TS_BATCH_SIZE": "4"}
    key = f"realtime/gs-rgcn-nr-{stamp}.tar.gz"
    assert container["ModelDataUrl"] == f"s3://{bucket}/{key}"

    # model.tar.gz holds the .mar at its root, with the three artifacts inside.
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        assert tar.getnames() == ["gs-rgcn-nr.mar"]
        mar = zipfile.ZipFile(io.BytesIO(tar.extractfile("gs-rgcn-nr.mar").read()))
    manifest = json.loads(mar.read("MAR-INF/MANIFEST.json"))
    assert manifest["model"]["modelName"] == "gs-rgcn-nr"
    artifacts = FIXTURES / "rgcn_nr" / "artifacts"
    names = {Path(n).name: n for n in mar.namelist()}
    assert mar.read(names["model.bin"]) == (artifacts / "model.bin").read_bytes()

    aas = boto3.client("application-autoscaling")
    resource = f"endpoint/{name}/variant/AllTraffic"
    [target] = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    [policy] = aas.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource)["ScalingPolicies"]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 200

    # The live endpoint answers gs-invoke-endpoint (moto returns the queued envelope).
    case = next(c for c in load_cases("rgcn_nr") if c.name == "v01_tiny")
    queue_invoke_result(moto_url, json.dumps(case.target))
    payload = Path(tmp_path) / "payload.json"
    payload.write_bytes(case.body)
    capsys.readouterr()
    assert invoke_endpoint.main(["--endpoint-name", name, "--payload", str(payload)]) == 0
    assert json.loads(capsys.readouterr().out) == case.target

    assert delete_endpoint.main(["--endpoint-name", name, "--delete-model-artifacts"]) == 0
    assert not [e for e in sm.list_endpoints()["Endpoints"] if e["EndpointName"] == name]
    assert not [c for c in sm.list_endpoint_configs()["EndpointConfigs"]
                if c["EndpointConfigName"] == endpoint["EndpointConfigName"]]
    assert not [m for m in sm.list_models()["Models"] if m["ModelName"] == variant["ModelName"]]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=key)
    assert not aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])["ScalableTargets"]


def test_launch_async_returns_at_once(bucket: str, capsys: pytest.CaptureFixture) -> None:
    """--async-execution true creates the endpoint and reports its status without waiting."""
    argv = model_version_argv("rgcn_nc", "node_classification", "gs-rgcn-nc-async", f"s3://{bucket}")
    assert launch_endpoint.main(argv + ["--async-execution", "True"]) == 0
    out = capsys.readouterr().out
    endpoint = _only_endpoint(boto3.client("sagemaker"), "gs-rgcn-nc-async-Endpoint-")
    assert f"Creating endpoint name: '{endpoint['EndpointName']}' in {REGION} region, current status:" in out
    assert "Waiting for endpoint" not in out
    assert delete_endpoint.main(["--endpoint-name", endpoint["EndpointName"]]) == 0


def test_delete_unknown_endpoint_fails(aws_env: dict, capsys: pytest.CaptureFixture) -> None:
    """Deleting an endpoint that does not exist exits 1 with SageMaker's message."""
    assert delete_endpoint.main(["--endpoint-name", "no-such-endpoint"]) == 1
    assert "no-such-endpoint" in capsys.readouterr().err


def _bad(**changes: str | None) -> list[str]:
    """Valid launch flags with some changed (None: flag removed)."""
    argv = model_version_argv("rgcn_nc", "node_classification", "gs-bad", "s3://gs-bad/prefix")
    for flag, value in changes.items():
        flag = "--" + flag.replace("_", "-")
        i = argv.index(flag) if flag in argv else None
        if i is not None:
            del argv[i:i + 2]
        if value is not None:
            argv += [flag] + value.split("\x00")
    return argv


def _write(tmp: Path, name: str, text: str) -> str:
    path = tmp / name
    path.write_text(text)
    return str(path)


BAD_FLAGS = {
    "ecr_region": ({"image_uri": "123456789012.dkr.ecr.us-west-2.amazonaws.com/gs:cpu"},
                   "is in the region us-west-2, but is different from the --region argument: us-east-1"),
    "not_ecr": ({"image_uri": "docker.io/library/gs:cpu"}, "is in the region None"),
    "vpc_half": ({"vpc_subnet_ids": "subnet-1"}, "Both --vpc-subnet-ids and --vpc-security-group-ids"),
    "model_name": ({"model_name": "bad_name"}, "failed to satisfy regular expression pattern"),
    "task": ({"infer_task_type": "node_ranking"}, "invalid choice: 'node_ranking'"),
    "variant_key": ({"custom_production_variant": '{"InstanceTyp": "ml.m5.large"}'},
                    "ProductionVariant does not have: ['InstanceTyp']"),
    "variant_json": ({"custom_production_variant": "[1]"}, "must be a JSON object"),
    "s3": ({"upload_tarfile_s3": "gs-bad/prefix"}, "not an S3 URL"),
    "role": ({"role": "GsRole"}, "--role must be an IAM role ARN"),
    "env_misspelled": ({"container_env": "SAGEMAKER_TS_BACTH_SIZE=8"},
                       "SAGEMAKER_TS_BACTH_SIZE is not a variable the container reads; did you mean "
                       "SAGEMAKER_TS_BATCH_SIZE?"),
    "env_unknown_gs": ({"container_env": "GS_TURBO=1"}, "GS_TURBO is not a variable the container reads"),
    "env_bad_value": ({"container_env": "GS_HTTP_STATUS=yes"}, "GS_HTTP_STATUS must be true or false"),
    "env_bad_int": ({"container_env": "SAGEMAKER_TS_MAX_REQUEST_SIZE=big"},
                    "SAGEMAKER_TS_MAX_REQUEST_SIZE must be an integer"),
    "bucket_owner": ({"s3_bucket_owner": "12345"}, "--s3-bucket-owner must be a 12-digit"),
    "count": ({"instance_count": "0"}, "--instance-count must be >= 1"),
    "instance_type": ({"instance_type": "c5.xlarge"}, "must be a SageMaker instance type"),
    "missing_model": ({"restore_model_path": "/nonexistent/model"}, "is not a directory"),
    "missing_region_flag_value": ({"region": ""}, "no AWS region"),
    "scaling_half": ({"max_instances": "3"}, "auto-scaling needs --max-instances and --target-invocations"),
    "scaling_bounds": ({"min_instances": "4", "max_instances": "3", "target_invocations_per_instance": "10"},
                       "1 <= --min-instances (4) <= --max-instances (3)"),
    "scaling_async": ({"max_instances": "3", "target_invocations_per_instance": "10", "async_execution": "true"},
                      "cannot be combined with --async-execution true"),
}


@pytest.mark.parametrize("case", sorted(BAD_FLAGS))
def test_bad_flags_fail_before_any_aws_call(case: str, capsys: pytest.CaptureFixture,
                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each bad flag exits 2 with a clear message; the AWS clients are never called."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    changes, message = BAD_FLAGS[case]
    with pytest.raises(SystemExit) as exit_info:
        launch_endpoint.main(_bad(**changes), clients=NoAwsClients())
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_text_model_without_its_lm_is_refused(capsys: pytest.CaptureFixture) -> None:
    """A raw-artifacts tarball of a tokenize_hf model needs --lm-model: the container never downloads."""
    argv = model_version_argv("rgcn_nc_lm", "node_classification", "gs-lm", "s3://gs-bad/prefix")
    with pytest.raises(SystemExit) as exit_info:
        launch_endpoint.main(argv + ["--model-package", "artifacts"], clients=NoAwsClients())
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "gs-tiny-bert" in err and "--lm-model NAME=DIR" in err


def test_lm_model_dir_without_config_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = model_version_argv("rgcn_nc_lm", "node_classification", "gs-lm", "s3://gs-bad/prefix")
    with pytest.raises(SystemExit):
        launch_endpoint.main(argv + ["--lm-model", f"gs-tiny-bert={tmp_path}"], clients=NoAwsClients())
    assert "no config.json" in capsys.readouterr().err


@pytest.mark.parametrize("package", ["artifacts", "mar"])
def test_lm_model_ships_in_the_tarball_with_isolation(bucket: str, package: str) -> None:
    """--lm-model copies the tokenizer and LM files into model.tar.gz (lm/<NAME>/ beside raw
    artifacts, artifacts/lm/<NAME>/ in the .mar), so the model is created network-isolated."""
    lm_dir = FIXTURES / "rgcn_nc_lm" / "lm" / "gs-tiny-bert"
    clients = AwsClients(REGION)
    models: list[dict] = []
    clients.sagemaker.meta.events.register("before-parameter-build.sagemaker.CreateModel",
                                           lambda params, **_: models.append(dict(params)))
    argv = model_version_argv("rgcn_nc_lm", "node_classification", f"gs-lm-{package}", f"s3://{bucket}/lm")
    argv += ["--async-execution", "true", "--model-package", package, "--lm-model", f"gs-tiny-bert={lm_dir}"]
    assert launch_endpoint.main(argv, clients=clients) == 0
    assert models[0]["EnableNetworkIsolation"] is True
    url = models[0]["Containers"][0]["ModelDataUrl"]
    data = boto3.client("s3").get_object(Bucket=bucket, Key=url.split("/", 3)[3])["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        if package == "artifacts":
            shipped = {n: tar.extractfile(n).read() for n in tar.getnames() if n.startswith("lm/")}
            prefix = "lm/gs-tiny-bert/"
        else:
            mar = zipfile.ZipFile(io.BytesIO(tar.extractfile(f"gs-lm-{package}.mar").read()))
            shipped = {n: mar.read(n) for n in mar.namelist() if n.startswith("artifacts/lm/")}
            prefix = "artifacts/lm/gs-tiny-bert/"
    want = {prefix + str(p.relative_to(lm_dir)): p.read_bytes() for p in lm_dir.rglob("*") if p.is_file()}
    assert shipped == want
    [endpoint] = _names(boto3.client("sagemaker"), f"gs-lm-{package}-")["endpoints"]
    assert delete_endpoint.main(["--endpoint-name", endpoint, "--delete-model-artifacts"]) == 0


def test_artifacts_that_do_not_fit_fail_before_any_aws_call(capsys: pytest.CaptureFixture) -> None:
    """A task type the YAML does not train is caught by gs-build-mar, before any AWS call."""
    argv = model_version_argv("rgcn_nc", "node_regression", "gs-mismatch", "s3://gs-bad/prefix")
    assert launch_endpoint.main(argv, clients=NoAwsClients()) == 1
    assert "gs-build-mar failed" in capsys.readouterr().err


def test_console_script_bad_flag_exits_2(tmp_path: Path) -> None:
    """The command-line entry point exits 2 with the reason on stderr (no AWS endpoint reachable)."""
    argv = _bad(image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/gs:cpu")
    env = {"PATH": "/usr/bin:/bin", "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_CONFIG_FILE": str(tmp_path / "none")}
    proc = subprocess.run([sys.executable, "-m", "sagemaker_deploy.launch_endpoint", *argv], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "is in the region eu-west-1" in proc.stderr


class _FakeHttp:
    """The HTTP half of a botocore ``before-call`` answer."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.headers: dict = {}


def _answer(client, operation: str, parsed: dict, status: int = 200) -> None:
    """Makes ``client`` answer ``operation`` with ``parsed`` (AWS itself: moto cannot make an
    endpoint fail or refuse a permission); every other call still goes to the moto server."""
    parsed = {"ResponseMetadata": {"HTTPStatusCode": status}, **parsed}
    client.meta.events.register(f"before-call.*.{operation}", lambda **_: (_FakeHttp(status), parsed))


def _denied(client, operation: str) -> None:
    _answer(client, operation, {"Error": {"Code": "AccessDeniedException",
                                          "Message": f"not authorized to perform {operation}"}}, 400)


def _names(sm, prefix: str) -> dict[str, list[str]]:
    return {"models": [m["ModelName"] for m in sm.list_models()["Models"] if m["ModelName"].startswith(prefix)],
            "configs": [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]
                        if c["EndpointConfigName"].startswith(prefix)],
            "endpoints": [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]
                          if e["EndpointName"].startswith(prefix)]}


def test_failed_endpoint_is_cleaned_up(bucket: str, capsys: pytest.CaptureFixture) -> None:
    """The endpoint goes Failed: exit 1 with the reason, and the tarball, Model, EndpointConfig and the
    failed endpoint this run created are all deleted."""
    clients = AwsClients(REGION)
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    _answer(clients.sagemaker, "DescribeEndpoint", {
        "EndpointName": "x", "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/x",
        "EndpointConfigName": "x", "EndpointStatus": "Failed", "FailureReason": reason,
        "CreationTime": "2025-01-01T00:00:00Z", "LastModifiedTime": "2025-01-01T00:00:00Z"})
    models: list[dict] = []
    clients.sagemaker.meta.events.register("before-parameter-build.sagemaker.CreateModel",
                                           lambda params, **_: models.append(dict(params)))
    argv = model_version_argv("rgcn_nc", "node_classification", "gs-fails", f"s3://{bucket}/fails")
    assert launch_endpoint.main(argv + ["--poll-interval", "0.01"], clients=clients) == 1
    assert models[0]["EnableNetworkIsolation"] is True  # auto: the model needs no outside access
    err = capsys.readouterr().err
    assert reason in err
    for what in ("endpoint gs-fails-Endpoint-", "endpoint config gs-fails-EndpointConfig-", "model gs-fails-",
                 f"model tarball s3://{bucket}/fails/gs-fails-"):
        assert f"Cleaned up {what}" in err
    assert _names(boto3.client("sagemaker"), "gs-fails-") == {"models": [], "configs": [], "endpoints": []}
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="fails/")


def test_rerun_does_not_create_a_second_endpoint(bucket: str, capsys: pytest.CaptureFixture) -> None:
    """A second launch for the same --model-name refuses while the first endpoint is live, having
    created nothing; --allow-another-endpoint is the explicit way to a second one."""
    argv = model_version_argv("rgcn_nc", "node_classification", "gs-rerun", f"s3://{bucket}/rerun")
    assert launch_endpoint.main(argv + ["--async-execution", "true"]) == 0
    sm = boto3.client("sagemaker")
    first = _names(sm, "gs-rerun-")
    capsys.readouterr()
    assert launch_endpoint.main(argv) == 1
    err = capsys.readouterr().err
    assert f"an endpoint for --model-name gs-rerun already exists: {first['endpoints'][0]}" in err
    assert _names(sm, "gs-rerun-") == first
    assert len(boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="rerun/")["Contents"]) == 1
    assert delete_endpoint.main(["--endpoint-name", first["endpoints"][0], "--delete-model-artifacts"]) == 0


def test_scaling_failure_keeps_the_serving_endpoint(bucket: str, capsys: pytest.CaptureFixture) -> None:
    """Auto-scaling refused after InService: exit 3, the message says the endpoint serves and bills
    and gives the commands that register the scaling or delete it; the endpoint stays."""
    clients = AwsClients(REGION)
    _denied(clients.autoscaling, "RegisterScalableTarget")
    argv = model_version_argv("rgcn_nc", "node_classification", "gs-noscale", f"s3://{bucket}/noscale")
    argv += ["--poll-interval", "0.01", "--max-instances", "4", "--target-invocations-per-instance", "100"]
    assert launch_endpoint.main(argv, clients=clients) == launch_endpoint.EXIT_SCALING_FAILED
    err = capsys.readouterr().err
    [endpoint] = _names(boto3.client("sagemaker"), "gs-noscale-")["endpoints"]
    assert f"endpoint '{endpoint}' IS IN SERVICE AND BILLING at 1 instance(s)" in err
    assert "aws application-autoscaling register-scalable-target" in err
    assert f"gs-delete-endpoint --endpoint-name {endpoint}" in err
    assert boto3.client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    assert delete_endpoint.main(["--endpoint-name", endpoint, "--delete-model-artifacts"]) == 0


def test_delete_needs_only_sagemaker_permissions(bucket: str, capsys: pytest.CaptureFixture) -> None:
    """No scaling was set: delete succeeds although every Application Auto Scaling call is denied."""
    argv = model_version_argv("rgcn_nc", "node_classification", "gs-smonly", f"s3://{bucket}/smonly")
    assert launch_endpoint.main(argv + ["--poll-interval", "0.01"]) == 0
    [endpoint] = _names(boto3.client("sagemaker"), "gs-smonly-")["endpoints"]
    clients = AwsClients(REGION)
    for operation in ("DescribeScalableTargets", "DeregisterScalableTarget"):
        _denied(clients.autoscaling, operation)
    assert delete_endpoint.main(["--endpoint-name", endpoint, "--delete-model-artifacts"], clients=clients) == 0
    assert "no permission to look further" in capsys.readouterr().out
    assert _names(boto3.client("sagemaker"), "gs-smonly-") == {"models": [], "configs": [], "endpoints": []}


def test_upload_checks_bucket_owner_and_encrypts(bucket: str) -> None:
    """The upload passes ExpectedBucketOwner (the caller's account by default) and SSE-KMS."""
    clients = AwsClients(REGION)
    seen: list[dict] = []
    clients.s3.meta.events.register("before-parameter-build.s3.PutObject",
                                    lambda params, **_: seen.append(dict(params)))
    models: list[dict] = []
    clients.sagemaker.meta.events.register("before-parameter-build.sagemaker.CreateModel",
                                           lambda params, **_: models.append(dict(params)))
    argv = model_version_argv("rgcn_nc", "node_classification", "gs-kms", f"s3://{bucket}/kms")
    argv += ["--async-execution", "true", "--s3-kms-key-id", "alias/gs-models", "--network-isolation", "false"]
    assert launch_endpoint.main(argv, clients=clients) == 0
    assert seen and seen[0]["ExpectedBucketOwner"] == "123456789012"
    assert (seen[0]["ServerSideEncryption"], seen[0]["SSEKMSKeyId"]) == ("aws:kms", "alias/gs-models")
    assert models[0]["EnableNetworkIsolation"] is False
    [endpoint] = _names(boto3.client("sagemaker"), "gs-kms-")["endpoints"]
    assert delete_endpoint.main(["--endpoint-name", endpoint, "--delete-model-artifacts"]) == 0
