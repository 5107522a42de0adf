"""gs-invoke-endpoint: send a payload file to an endpoint and print the response envelope.

Exits 0 when the envelope's ``status_code`` is 200, 1 otherwise (also when the body is not an
envelope or the call fails), 2 for bad flags. An Arrow response (``--accept
application/vnd.apache.arrow.stream``, docs/schema/gs-realtime-arrow.md) is printed as the JSON
envelope it stands for; reading it needs pyarrow and orjson (``pip install .[arrow]``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handler.contract.names import ARROW_STREAM_CONTENT_TYPE
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


def invoke(clients: AwsClients, args: argparse.Namespace) -> tuple[bytes, str]:
    """Sends the payload bytes unchanged; returns the response body and its content type."""
    response = clients.runtime.invoke_endpoint(
        EndpointName=args.endpoint_name, Body=args.payload.read_bytes(),
        ContentType=args.content_type, Accept=args.accept)
    return response["Body"].read(), response.get("ContentType", "")


class NotAnEnvelopeError(ValueError):
    """A response body that is not a gs-realtime envelope (JSON or Arrow)."""


def read_envelope(body: bytes, content_type: str) -> dict[str, Any]:
    """The envelope a response body holds, as its JSON form decodes.

    Raises:
        NotAnEnvelopeError: the body is neither a JSON envelope nor an Arrow response, or it is
            an Arrow response and pyarrow/orjson are not installed (the message says so).
    """
    if content_type.split(";", 1)[0].strip().lower() == ARROW_STREAM_CONTENT_TYPE:
        try:  # optional: the deploy tools themselves need boto3 and pyyaml only
            from handler.contract.arrow_payload import ArrowConversionError
            from handler.contract.arrow_response import arrow_response_to_envelope
        except ImportError as exc:
            raise NotAnEnvelopeError(f"the response is an Arrow stream; reading it needs pyarrow and orjson "
                                     f"(pip install .[arrow]): {exc}") from None
        try:
            return arrow_response_to_envelope(body)
        except (ArrowConversionError, ImportError) as exc:
            raise NotAnEnvelopeError(f"the Arrow response cannot be read: {exc}") from None
    try:
        envelope = json.loads(body)
        envelope["status_code"]  # noqa: B018 - a JSON object without it is not an envelope
    except (ValueError, TypeError, KeyError):
        raise NotAnEnvelopeError("the response is not a gs-realtime envelope") from None
    return envelope


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
        body, content_type = invoke(clients or AwsClients(region), args)
    except (ClientError, BotoCoreError) as err:
        print(f"{PROG}: failed: {err}", file=sys.stderr)
        return 1
    if args.output is not None:
        args.output.write_bytes(body)
    try:
        envelope = read_envelope(body, content_type)
    except NotAnEnvelopeError as err:
        if content_type.split(";", 1)[0].strip().lower() != ARROW_STREAM_CONTENT_TYPE:
            print(body.decode("utf-8", "replace"))
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    status = envelope["status_code"]
    print(json.dumps(envelope, indent=2))
    if status != 200:
        print(f"{PROG}: status_code {status}: {envelope.get('error', '')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
