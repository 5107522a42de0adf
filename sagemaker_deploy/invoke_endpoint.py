"""gs-invoke-endpoint: send a payload file to an endpoint and print the response envelope.

Exits 0 when the envelope's ``status_code`` is 200, 1 otherwise (also when the body is not a JSON
envelope or the call fails), 2 for bad flags.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from sagemaker_deploy.aws import AwsClients, ConfigError, resolve_region
from sagemaker_deploy.naming import check_name_format

PROG = "gs-invoke-endpoint"


def build_parser() -> argparse.ArgumentParser:
    """The command's flags."""
    parser = argparse.ArgumentParser(PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-name", type=check_name_format, required=True,
                        help="the endpoint to invoke")
    parser.add_argument("--payload", type=Path, required=True,
                        help="file holding the request body (a gs-realtime-v0.1 JSON payload)")
    parser.add_argument("--region", type=str, default=None,
                        help="AWS region; default: the AWS configuration's")
    parser.add_argument("--content-type", default="application/json",
                        help="request Content-Type (default application/json)")
    parser.add_argument("--accept", default="application/json",
                        help="response Accept (default application/json)")
    parser.add_argument("--output", type=Path, default=None,
                        help="also write the raw response body to this file")
    return parser


def invoke(clients: AwsClients, args: argparse.Namespace) -> bytes:
    """Sends the payload bytes unchanged and returns the response body."""
    response = clients.runtime.invoke_endpoint(
        EndpointName=args.endpoint_name, Body=args.payload.read_bytes(),
        ContentType=args.content_type, Accept=args.accept)
    return response["Body"].read()


def main(argv: list[str] | None = None, clients: AwsClients | None = None) -> int:
    """Console entry point."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        region = resolve_region(args.region)
        if not args.payload.is_file():
            raise ConfigError(f"--payload {args.payload} is not a file")
    except ConfigError as err:
        parser.error(str(err))
    try:
        body = invoke(clients or AwsClients(region), args)
    except (ClientError, BotoCoreError) as err:
        print(f"{PROG}: failed: {err}", file=sys.stderr)
        return 1
    if args.output is not None:
        args.output.write_bytes(body)
    try:
        envelope = json.loads(body)
        status = envelope["status_code"]
    except (ValueError, TypeError, KeyError):
        print(body.decode("utf-8", "replace"))
        print(f"{PROG}: the response is not a gs-realtime envelope", file=sys.stderr)
        return 1
    print(json.dumps(envelope, indent=2))
    if status != 200:
        print(f"{PROG}: status_code {status}: {envelope.get('error', '')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
