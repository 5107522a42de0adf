"""gs-launch-endpoint --graph-store: Neptune needs the cluster's VPC and the container's network."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from sagemaker_deploy import delete_endpoint, launch_endpoint
from sagemaker_deploy.aws import AwsClients
from tests.sagemaker_deploy.moto_env import REGION, NoAwsClients, model_version_argv

CLUSTER = f"gs-graph.cluster-abc123.{REGION}.neptune.amazonaws.com"
VPC = ["--vpc-subnet-ids", "subnet-1", "subnet-2", "--vpc-security-group-ids", "sg-1"]

BAD = {
    "db_without_vpc": ([f"neptune-db://{CLUSTER}"], "a Neptune Database cluster is reachable only from "
                                                   "inside its VPC"),
    "isolated": ([f"neptune-db://{CLUSTER}", *VPC, "--network-isolation", "true"],
                 "--graph-store needs the container's network"),
    "loopback": (["neptune-db+http://127.0.0.1:8182", *VPC], "+http URIs reach a loopback test server only"),
    "embedded": (["stores/acm", *VPC], "an endpoint cannot read an embedded store"),
    "other_region": (["neptune-db://gs.cluster-x.eu-west-1.neptune.amazonaws.com", *VPC],
                     "cluster is in eu-west-1 but the endpoint in us-east-1"),
    "credentials": (["neptune-db://AKID:secret@host", *VPC], "must not carry credentials"),
    "graph_id": (["neptune-graph://graph-1"], "not a Neptune Analytics graph id"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_graph_store_fails_before_any_aws_call(case: str, capsys: pytest.CaptureFixture) -> None:
    extra, message = BAD[case]
    argv = model_version_argv("rgcn_nc", "node_classification", "gs-bad", "s3://gs-bad/prefix")
    with pytest.raises(SystemExit) as exit_info:
        launch_endpoint.main(argv + ["--graph-store", *extra], clients=NoAwsClients())
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "secret" not in err


@pytest.mark.parametrize("uri, vpc", [(f"neptune-db://{CLUSTER}", True), ("neptune-graph://g-abc123", False)])
def test_neptune_model_runs_in_the_vpc_with_network(bucket: str, uri: str, vpc: bool, tmp_path: Path) -> None:
    clients = AwsClients(REGION)
    models: list[dict] = []
    clients.sagemaker.meta.events.register("before-parameter-build.sagemaker.CreateModel",
                                           lambda params, **_: models.append(dict(params)))
    name = "gs-neptune-db" if vpc else "gs-neptune-graph"
    argv = model_version_argv("rgcn_nc", "node_classification", name, f"s3://{bucket}/neptune")
    argv += ["--async-execution", "true", "--model-package", "artifacts", "--graph-store", uri]
    argv += VPC if vpc else []
    assert launch_endpoint.main(argv, clients=clients) == 0
    [model] = models
    assert model["EnableNetworkIsolation"] is False
    assert model["Containers"][0]["Environment"]["GS_GRAPH_STORE"] == uri
    if vpc:
        assert model["VpcConfig"] == {"Subnets": ["subnet-1", "subnet-2"], "SecurityGroupIds": ["sg-1"]}
    else:
        assert "VpcConfig" not in model
    sm = boto3.client("sagemaker")
    [endpoint] = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]
                  if e["EndpointName"].startswith(f"{name}-Endpoint-")]
    assert delete_endpoint.main(["--endpoint-name", endpoint, "--delete-model-artifacts"]) == 0


@pytest.mark.parametrize("uri", [
    f"neptune-db://{CLUSTER}", f"neptune-db://{CLUSTER}:8183?region=us-west-2", "neptune-db://10.0.0.1",
    "neptune-graph://g-abc123", "neptune-graph://g-abc123?region=eu-west-1", "neptune-db+http://127.0.0.1:9",
    "neptune-graph+http://127.0.0.1:9/g-local", "stores/acm", "bolt://x:1", "neptune-db://u:p@h",
    "neptune-graph://nope",
])
def test_deploy_checks_agree_with_the_containers_parser(uri: str) -> None:
    """The deploy tools' light reading of a URI (no serving import) agrees with store_uri's."""
    from handler.graph_store.store_uri import parse_store
    from sagemaker_deploy.graph_store import store_kind

    try:
        full = parse_store(uri)
    except ValueError:
        with pytest.raises(ValueError):
            store_kind(uri)
        return
    light = store_kind(uri)
    assert light.kind == full.kind
    assert light.plain_http == bool(full.endpoint_url and full.endpoint_url.startswith("http://"))
    assert light.region == full.region
    if full.kind == "neptune-db":
        assert full.host is not None and full.host.endswith(f":{light.port}")
