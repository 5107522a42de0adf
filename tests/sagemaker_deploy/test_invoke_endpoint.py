"""gs-invoke-endpoint against a real moto server, with responses queued through moto's
``/moto-api/static/sagemaker/endpoint-results`` API (moto does not run the model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handler.contract.names import ARROW_STREAM_CONTENT_TYPE
from sagemaker_deploy import invoke_endpoint
from tests.compare import load_cases
from tests.sagemaker_deploy.moto_env import queue_invoke_result

ENDPOINT = "gs-rgcn-nr-Endpoint-2025-01-01-00-00-00"


def _case(name: str):
    return next(c for c in load_cases("rgcn_nr") if c.name == name)


def _payload(tmp_path: Path, case) -> str:
    path = tmp_path / f"{case.name}.json"
    path.write_bytes(case.body)
    return str(path)


def test_success_envelope_exits_0(aws_env: dict, moto_url: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture) -> None:
    """A 200 envelope is printed and saved with --output; exit 0."""
    case = _case("v01_tiny")
    body = json.dumps(case.target)
    queue_invoke_result(moto_url, body)
    out_file = tmp_path / "response.json"
    argv = ["--endpoint-name", ENDPOINT, "--payload", _payload(tmp_path, case), "--output", str(out_file)]
    assert invoke_endpoint.main(argv) == 0
    assert json.loads(capsys.readouterr().out) == case.target
    assert out_file.read_text() == body


def test_error_envelope_exits_1(aws_env: dict, moto_url: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture) -> None:
    """An envelope whose status_code is not 200 is printed, and the command exits 1."""
    case = next(c for c in load_cases("rgcn_nr") if c.target["status_code"] != 200)
    queue_invoke_result(moto_url, json.dumps(case.target))
    assert invoke_endpoint.main(["--endpoint-name", ENDPOINT, "--payload", _payload(tmp_path, case)]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == case.target
    assert f"status_code {case.target['status_code']}" in captured.err


def test_non_envelope_body_exits_1(aws_env: dict, moto_url: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    """A body that is not a JSON envelope (e.g. a proxy error page) exits 1."""
    queue_invoke_result(moto_url, "<html>bad gateway</html>", "text/html")
    payload = tmp_path / "other.json"
    payload.write_text('{"version": "gs-realtime-v0.1", "note": "distinct body"}')
    assert invoke_endpoint.main(["--endpoint-name", ENDPOINT, "--payload", str(payload)]) == 1
    assert "not a gs-realtime envelope" in capsys.readouterr().err


def test_missing_payload_file_fails_fast(aws_env: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A payload path that is not a file exits 2 before any call."""
    with pytest.raises(SystemExit) as exit_info:
        invoke_endpoint.main(["--endpoint-name", ENDPOINT, "--payload", str(tmp_path / "nope.json")])
    assert exit_info.value.code == 2
    assert "is not a file" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["v01_tiny", "x01_missing_targets"])
def test_an_arrow_response_reads_as_its_json_envelope(name: str) -> None:
    """``--accept application/vnd.apache.arrow.stream``: the Arrow body (as the endpoint writes
    it) is read back to exactly the JSON envelope (moto's queued results are text, so the
    binary body is checked here, the call itself above)."""
    from handler.contract.arrow_response import envelope_to_arrow
    from handler.contract.envelope import Envelope

    target = _case(name).target
    env = Envelope(target["status_code"], target["request_uid"], target["message"], target["error"],
                   target["data"].get("results", ()))
    body = envelope_to_arrow(env)
    assert invoke_endpoint.read_envelope(body, ARROW_STREAM_CONTENT_TYPE) == target
    with pytest.raises(invoke_endpoint.NotAnEnvelopeError, match="cannot be read"):
        invoke_endpoint.read_envelope(body[:20], ARROW_STREAM_CONTENT_TYPE)
    with pytest.raises(invoke_endpoint.NotAnEnvelopeError, match="not a gs-realtime envelope"):
        invoke_endpoint.read_envelope(body, "application/json")
