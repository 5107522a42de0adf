"""``--graph-store URI``: an endpoint that extracts each request's subgraph from Amazon Neptune.

The endpoint answers targets-only requests by querying the store named here (recorded in the
`.mar` by gs-build-mar, and given to the container as ``GS_GRAPH_STORE``). What can be checked
before any AWS call is checked here:

* the URI's form: the deploy tools import nothing of the serving code beyond
  ``handler.contract``, so ``store_kind`` reads
  the few facts needed here (scheme, host, region, no credentials) and the container parses it
  fully at start (``handler.graph_store.store_uri``; a test keeps the two in agreement);
  plain-HTTP loopback URIs and embedded paths are refused (an endpoint reaches neither);
* Neptune Database is reachable only from inside its VPC: the model must be created in it, so
  ``--vpc-subnet-ids`` and ``--vpc-security-group-ids`` are required (subnets of the cluster's VPC,
  and a security group the cluster's security group admits on the cluster port);
* a Neptune store needs the container's network: ``--network-isolation`` ``auto`` turns it off,
  ``true`` is refused (an isolated container cannot reach Neptune or sign with its role);
* a Neptune Database URI whose region (from the host or ``?region=``) is not ``--region``:
  a VPC, and so the endpoint, lives in one region.

The execution role's Neptune read permission (``neptune-db:ReadDataViaQuery`` /
``neptune-graph:ReadDataViaQuery``) cannot be verified without IAM simulation rights; the policy
is in docs/graph_store.md.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

NEPTUNE_DB = "neptune-db"
NEPTUNE_GRAPH = "neptune-graph"
_NEPTUNE_DB_PORT = 8182
_HOST_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.neptune\.amazonaws\.com(?:\.cn)?$")
_GRAPH_ID = re.compile(r"^g-[a-z0-9]{1,40}$")


@dataclass(frozen=True)
class StoreKind:
    """What the deploy checks need to know of a ``--graph-store`` value.

    Attributes:
        kind: ``embedded`` (a path), ``neptune-db`` or ``neptune-graph``.
        plain_http: a ``+http`` loopback test URI.
        port: the Neptune Database port.
        region: the region the URI or the cluster host names, if any.
    """

    kind: str
    plain_http: bool = False
    port: int = _NEPTUNE_DB_PORT
    region: str | None = None


def store_kind(text: str) -> StoreKind:
    """Classifies a ``--graph-store`` value (the container's parser checks the rest).

    Raises:
        ValueError: an unknown scheme, credentials in the URI, no host, or a malformed graph id.
    """
    if "://" not in text:
        return StoreKind("embedded")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    plain_http = scheme.endswith("+http")
    kind = scheme[: -len("+http")] if plain_http else scheme
    if kind not in (NEPTUNE_DB, NEPTUNE_GRAPH):
        raise ValueError(f"unknown graph store scheme {scheme!r}: use neptune-db:// or neptune-graph://")
    if parts.username is not None or parts.password is not None:
        raise ValueError("a graph store URI must not carry credentials (user:password@): Neptune requests "
                         "are signed with the execution role")
    region = (parse_qs(parts.query).get("region") or [None])[0]
    if kind == NEPTUNE_GRAPH:
        graph_id = parts.path.strip("/") if plain_http else parts.netloc
        if not _GRAPH_ID.match(graph_id):
            raise ValueError(f"{graph_id!r} is not a Neptune Analytics graph id")
        return StoreKind(kind, plain_http, region=region)
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError("neptune-db:// needs the cluster endpoint host")
    found = _HOST_REGION.search(host)
    return StoreKind(kind, plain_http, port=parts.port or _NEPTUNE_DB_PORT,
                     region=region or (found.group(1) if found else None))


def add_graph_store_arg(parser: argparse.ArgumentParser) -> None:
    """Adds ``--graph-store``."""
    parser.add_argument("--graph-store", type=str, default=None, metavar="URI",
                        help="answer targets-only requests from this Neptune store: "
                             "neptune-db://<cluster endpoint>[:port] (needs --vpc-subnet-ids and "
                             "--vpc-security-group-ids) or neptune-graph://<graph id>; the execution "
                             "role needs Neptune read access (docs/graph_store.md)")


def graph_store_problems(args: argparse.Namespace, region: str) -> list[str]:
    """What is wrong with ``--graph-store`` and the flags it needs.

    Args:
        args: the parsed flags (``graph_store``, the VPC flags, ``network_isolation``).
        region: the endpoint's region.

    Returns:
        Human-readable problems (empty when none).
    """
    text = getattr(args, "graph_store", None)
    if text is None:
        return []
    try:
        location = store_kind(text)
    except ValueError as err:
        return [f"--graph-store: {err}"]
    if location.kind == "embedded":
        return ["--graph-store: an endpoint cannot read an embedded store at a local path; give a "
                "neptune-db:// or neptune-graph:// URI (an embedded store travels inside the .mar: "
                "gs-build-mar --graph-store PATH --embed-graph-store)"]
    if location.plain_http:
        return ["--graph-store: +http URIs reach a loopback test server only; an endpoint needs "
                "neptune-db:// or neptune-graph://"]
    problems = []
    if args.network_isolation == "true":
        problems.append("--graph-store needs the container's network (it queries Neptune and signs with "
                        "the execution role): use --network-isolation auto or false")
    if location.kind == NEPTUNE_DB:
        if not (args.vpc_subnet_ids and args.vpc_security_group_ids):
            problems.append(
                "--graph-store neptune-db:// needs --vpc-subnet-ids and --vpc-security-group-ids: a "
                "Neptune Database cluster is reachable only from inside its VPC, so the endpoint must "
                "run there (subnets of the cluster's VPC, and a security group that the cluster's "
                f"security group admits on port {location.port})")
        if location.region and location.region != region:
            problems.append(f"--graph-store cluster is in {location.region} but the endpoint in {region}: "
                            "the endpoint must run in the cluster's VPC, hence in its region")
    return problems


def uses_neptune(args: argparse.Namespace) -> bool:
    """Whether ``--graph-store`` names a Neptune store (the container then needs its network)."""
    return getattr(args, "graph_store", None) is not None
