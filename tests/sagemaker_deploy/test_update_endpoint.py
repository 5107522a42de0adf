"""gs-update-endpoint: moto does not implement UpdateEndpoint (HTTP 500), so the SageMaker client is
wrapped in botocore's Stubber, which checks every request against the real SageMaker service model;
S3 (the new version's tarball) is the real moto server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from sagemaker_deploy import update_endpoint
from sagemaker_deploy.aws import AwsClients
from sagemaker_deploy.deploy import PREVIOUS_CONFIG_TAG
from tests.sagemaker_deploy.moto_env import (
    ACCOUNT,
    IMAGE_URI,
    REGION,
    ROLE_ARN,
    NoAwsClients,
    model_version_argv,
)

ENDPOINT = "gs-rgcn-nc-Endpoint-2025-01-01-00-00-00"
ENDPOINT_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT.lower()}"
OLD_CONFIG = "gs-rgcn-nc-EndpointConfig-2025-01-01-00-00-00"
STAMP = "2025-02-02-12-30-00"
NEW_MODEL = f"gs-rgcn-nc-{STAMP}"
NEW_CONFIG = f"gs-rgcn-nc-EndpointConfig-{STAMP}"
WAIT = ["--poll-interval", "0.01"]


def _endpoint(status: str, config: str, **extra: str) -> dict:
    now = dt.datetime(2025, 2, 2, tzinfo=dt.UTC)
    return {"EndpointName": ENDPOINT, "EndpointArn": ENDPOINT_ARN, "EndpointConfigName": config,
            "EndpointStatus": status, "CreationTime": now, "LastModifiedTime": now, **extra}


@pytest.fixture
def stubbed(aws_env: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AwsClients, Stubber]]:
    """AwsClients on moto whose SageMaker client is stubbed; every queued call must be made."""
    monkeypatch.setattr(update_endpoint, "timestamp", lambda: STAMP)
    clients = AwsClients(REGION)
    clients.sagemaker = boto3.client("sagemaker", region_name=REGION)
    with Stubber(clients.sagemaker) as stub:
        yield clients, stub
        stub.assert_no_pending_responses()


def _expect_roll(stub: Stubber, target: str, final: dict, deployment: dict | None = None,
                 middle: tuple[str, ...] = ("Updating",)) -> None:
    """UpdateEndpoint (keeping variant properties), the wait (``middle`` states, then ``final``), and
    the previous-config tag only when ``final`` runs ``target`` (the update succeeded)."""
    request = {"EndpointName": ENDPOINT, "EndpointConfigName": target, "RetainAllVariantProperties": True}
    if deployment is not None:
        request["DeploymentConfig"] = deployment
    stub.add_response("update_endpoint", {"EndpointArn": ENDPOINT_ARN}, request)
    for status in middle:
        stub.add_response("describe_endpoint", _endpoint(status, OLD_CONFIG), {"EndpointName": ENDPOINT})
    stub.add_response("describe_endpoint", final, {"EndpointName": ENDPOINT})
    if final["EndpointConfigName"] == target and final["EndpointStatus"] == "InService":
        stub.add_response("add_tags", {"Tags": []}, {
            "ResourceArn": ENDPOINT_ARN, "Tags": [{"Key": PREVIOUS_CONFIG_TAG, "Value": OLD_CONFIG}]})


def test_roll_to_new_model_version(stubbed, bucket: str, capsys: pytest.CaptureFixture) -> None:
    """New artifacts: tarball uploaded to S3 (moto), new Model and EndpointConfig, endpoint rolled."""
    clients, stub = stubbed
    stub.add_response("describe_endpoint", _endpoint("InService", OLD_CONFIG), {"EndpointName": ENDPOINT})
    data_url = f"s3://{bucket}/v2/{NEW_MODEL}.tar.gz"
    stub.add_response("create_model", {"ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/x"}, {
        "ModelName": NEW_MODEL, "ExecutionRoleArn": ROLE_ARN,
        "Containers": [{"Image": IMAGE_URI, "ModelDataUrl": data_url, "Environment": {}}],
        "EnableNetworkIsolation": True})
    stub.add_response("create_endpoint_config", {"EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:x"}, {
        "EndpointConfigName": NEW_CONFIG,
        "ProductionVariants": [{"InstanceType": "ml.c5.xlarge", "InitialInstanceCount": 1,
                                "InitialVariantWeight": 1, "ModelName": NEW_MODEL,
                                "VariantName": "AllTraffic"}]})
    _expect_roll(stub, NEW_CONFIG, _endpoint("InService", NEW_CONFIG))
    argv = ["--endpoint-name", ENDPOINT, *WAIT,
            *model_version_argv("rgcn_nc", "node_classification", "gs-rgcn-nc", f"s3://{bucket}/v2")]
    assert update_endpoint.main(argv, clients=clients) == 0
    assert f"Endpoint '{ENDPOINT}' now runs {NEW_CONFIG}" in capsys.readouterr().out
    head = boto3.client("s3").head_object(Bucket=bucket, Key=f"v2/{NEW_MODEL}.tar.gz")
    assert head["ContentLength"] > 0


def test_rollback_to_recorded_config(stubbed, capsys: pytest.CaptureFixture) -> None:
    """--rollback rolls to the config recorded by the previous update."""
    clients, stub = stubbed
    current = "gs-rgcn-nc-EndpointConfig-2025-02-02-12-30-00"
    stub.add_response("describe_endpoint", _endpoint("InService", current), {"EndpointName": ENDPOINT})
    stub.add_response("list_tags", {"Tags": [{"Key": PREVIOUS_CONFIG_TAG, "Value": OLD_CONFIG}]},
                      {"ResourceArn": ENDPOINT_ARN})
    stub.add_response("update_endpoint", {"EndpointArn": ENDPOINT_ARN},
                      {"EndpointName": ENDPOINT, "EndpointConfigName": OLD_CONFIG,
                       "RetainAllVariantProperties": True})
    for status in ("Updating", "InService"):
        stub.add_response("describe_endpoint", _endpoint(status, OLD_CONFIG if status == "InService" else current),
                          {"EndpointName": ENDPOINT})
    stub.add_response("add_tags", {"Tags": []}, {
        "ResourceArn": ENDPOINT_ARN, "Tags": [{"Key": PREVIOUS_CONFIG_TAG, "Value": current}]})
    assert update_endpoint.main(["--endpoint-name", ENDPOINT, "--rollback", *WAIT], clients=clients) == 0
    assert f"{current} -> {OLD_CONFIG}" in capsys.readouterr().out


def test_rollback_without_record_fails(stubbed, capsys: pytest.CaptureFixture) -> None:
    """No recorded previous config: exit 1, telling to pass --endpoint-config-name."""
    clients, stub = stubbed
    stub.add_response("describe_endpoint", _endpoint("InService", OLD_CONFIG), {"EndpointName": ENDPOINT})
    stub.add_response("list_tags", {"Tags": []}, {"ResourceArn": ENDPOINT_ARN})
    assert update_endpoint.main(["--endpoint-name", ENDPOINT, "--rollback"], clients=clients) == 1
    assert "--endpoint-config-name" in capsys.readouterr().err


def test_failed_update_reports_reason(stubbed, capsys: pytest.CaptureFixture) -> None:
    """SageMaker keeps the old config when an update fails: exit 1 with its FailureReason."""
    clients, stub = stubbed
    target = "gs-rgcn-nc-EndpointConfig-2025-03-03-00-00-00"
    stub.add_response("describe_endpoint", _endpoint("InService", OLD_CONFIG), {"EndpointName": ENDPOINT})
    _describe_config(stub, target)
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    _expect_roll(stub, target, _endpoint("InService", OLD_CONFIG, FailureReason=reason))
    argv = ["--endpoint-name", ENDPOINT, "--endpoint-config-name", target, *WAIT]
    assert update_endpoint.main(argv, clients=clients) == 1
    err = capsys.readouterr().err
    assert reason in err and "rolled back" in err


def _describe_config(stub: Stubber, name: str) -> None:
    stub.add_response("describe_endpoint_config", {
        "EndpointConfigName": name, "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:x",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "m"}],
        "CreationTime": dt.datetime(2025, 3, 3, tzinfo=dt.UTC)}, {"EndpointConfigName": name})


def _variants(current: int, desired: int) -> dict:
    return {"ProductionVariants": [{"VariantName": "AllTraffic", "CurrentInstanceCount": current,
                                    "DesiredInstanceCount": desired}]}


def test_update_keeps_instance_count_and_scaling(stubbed, capsys: pytest.CaptureFixture) -> None:
    """An auto-scaled endpoint at 3 instances: the update asks SageMaker to retain the variant
    properties (instance count), ends at 3 instances, and the scaling registration (moto) stays."""
    clients, stub = stubbed
    aas = boto3.client("application-autoscaling")
    resource = f"endpoint/{ENDPOINT}/variant/AllTraffic"
    aas.register_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource,
                                 ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                                 MinCapacity=1, MaxCapacity=5)
    target = "gs-rgcn-nc-EndpointConfig-2025-04-04-00-00-00"
    stub.add_response("describe_endpoint", _endpoint("InService", OLD_CONFIG, **_variants(3, 3)),
                      {"EndpointName": ENDPOINT})
    _describe_config(stub, target)
    _expect_roll(stub, target, _endpoint("InService", target, **_variants(3, 3)))
    argv = ["--endpoint-name", ENDPOINT, "--endpoint-config-name", target, *WAIT]
    try:
        assert update_endpoint.main(argv, clients=clients) == 0
        out = capsys.readouterr().out
        assert "keeping capacity AllTraffic: 3 (desired 3)" in out
        assert f"now runs {target}; capacity AllTraffic: 3 (desired 3)" in out
        assert f"Kept auto-scaling {resource}: 1..5" in out
        found = aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource])
        assert [(t["MinCapacity"], t["MaxCapacity"]) for t in found["ScalableTargets"]] == [(1, 5)]
    finally:
        aas.deregister_scalable_target(ServiceNamespace="sagemaker", ResourceId=resource,
                                       ScalableDimension="sagemaker:variant:DesiredInstanceCount")


def test_canary_alarm_rolls_back(stubbed, capsys: pytest.CaptureFixture) -> None:
    """Canary with a rollback alarm: SageMaker gets the blue/green config; when the alarm fires it
    rolls back (RollingBack, then InService on the old config): exit 1, said so, nothing tagged."""
    clients, stub = stubbed
    target = "gs-rgcn-nc-EndpointConfig-2025-05-05-00-00-00"
    stub.add_response("describe_endpoint", _endpoint("InService", OLD_CONFIG), {"EndpointName": ENDPOINT})
    _describe_config(stub, target)
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "CANARY", "WaitIntervalInSeconds": 120,
                                            "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 20}},
            "TerminationWaitInSeconds": 0},
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "gs-5xx"}, {"AlarmName": "gs-latency"}]}}
    reason = "Alarm gs-5xx went into ALARM during the canary; the deployment was rolled back."
    _expect_roll(stub, target, _endpoint("InService", OLD_CONFIG, FailureReason=reason), deployment,
                 middle=("Updating", "RollingBack"))
    argv = ["--endpoint-name", ENDPOINT, "--endpoint-config-name", target, "--traffic-shifting", "canary",
            "--canary-percent", "20", "--wait-interval", "120", "--rollback-alarms", "gs-5xx", "gs-latency",
            *WAIT]
    assert update_endpoint.main(argv, clients=clients) == 1
    captured = capsys.readouterr()
    assert "CANARY traffic shift, rollback on alarms ['gs-5xx', 'gs-latency']" in captured.out
    assert f"SageMaker rolled back and endpoint '{ENDPOINT}' serves {OLD_CONFIG} again: {reason}" in captured.err


def test_update_rollback_failed_stops_waiting(stubbed, capsys: pytest.CaptureFixture) -> None:
    """UpdateRollbackFailed ends the wait at once (not after --wait-timeout): exit 1, nothing tagged."""
    clients, stub = stubbed
    target = "gs-rgcn-nc-EndpointConfig-2025-06-06-00-00-00"
    stub.add_response("describe_endpoint", _endpoint("InService", OLD_CONFIG), {"EndpointName": ENDPOINT})
    _describe_config(stub, target)
    final = _endpoint("UpdateRollbackFailed", OLD_CONFIG, FailureReason="rollback could not finish")
    _expect_roll(stub, target, final)
    argv = ["--endpoint-name", ENDPOINT, "--endpoint-config-name", target, "--wait-timeout", "3600", *WAIT]
    assert update_endpoint.main(argv, clients=clients) == 1
    err = capsys.readouterr().err
    assert "UpdateRollbackFailed: rollback could not finish" in err
    assert "SageMaker could not roll back" in err


@pytest.mark.parametrize("argv, message", [
    ([], "choose exactly one of"),
    (["--rollback", "--endpoint-config-name", "c1"], "choose exactly one of"),
    (["--image-uri", IMAGE_URI], "a new model version also needs --role"),
    (["--rollback", "--canary-percent", "0"], "--canary-percent must be 1..50"),
    (["--rollback", "--rollback-alarms", "a", "--async-execution", "true"], "not with --async-execution"),
])
def test_bad_modes_fail_fast(argv: list[str], message: str, aws_env: dict,
                             capsys: pytest.CaptureFixture) -> None:
    """Mode errors exit 2 before any AWS call."""
    with pytest.raises(SystemExit) as exit_info:
        update_endpoint.main(["--endpoint-name", ENDPOINT, *argv], clients=NoAwsClients())
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
