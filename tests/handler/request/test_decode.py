"""Tests of handler.request.decode: bytes to JSON, and the request id of each answer."""

from __future__ import annotations

import hashlib

import pytest

from handler.contract.errors import RealtimeError, RequestTooLargeError, UnreadableBodyError
from handler.contract.limits import RequestLimits
from handler.request.decode import decode, error_uid

LIMITS = RequestLimits()
BODY = b'{"gml_task": "node_classification", "targets": [{"node_type": "paper", "node_id": "p1"}]}'


def _uid(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[-16:]


def _reject(body: bytes, content_type: str | None = "application/json",
            limits: RequestLimits = LIMITS) -> tuple[RealtimeError, str]:
    with pytest.raises(RealtimeError) as info:
        decode(body, content_type, limits)
    return info.value, error_uid(body, info.value)


def test_decoded_request_carries_the_sha256_uid():
    decoded = decode(BODY, "application/json", LIMITS)
    assert decoded.uid.text == _uid(BODY)
    assert decoded.document["targets"][0]["node_id"] == "p1"


@pytest.mark.parametrize("content_type", ["text/csv", "application/jsonlines", "", None])
def test_unsupported_content_type_is_400_without_uid(content_type):
    err, uid = _reject(BODY, content_type)
    assert (err.status_code, uid) == (400, "")
    assert isinstance(err, UnreadableBodyError)
    assert "Unsupported content type" in err.error_text


def test_json_content_type_with_charset_is_accepted():
    assert decode(BODY, "Application/JSON; charset=utf-8", LIMITS).document


@pytest.mark.parametrize("body", [b'{"gml_task": "node_classification", "targets": [', b"", b"\xff\xfe{"])
def test_malformed_json_is_400_without_uid(body):
    err, uid = _reject(body)
    assert (err.status_code, uid) == (400, "")
    assert err.error_text.startswith("General JSON format error")


@pytest.mark.parametrize("token", [b"1e999", b"NaN", b"-Infinity", b"1" + b"0" * 400])
def test_numbers_orjson_refuses_are_read_like_python_json(token):
    body = BODY.replace(b'"targets"', b'"x": ' + token + b', "targets"')
    value = decode(body, "application/json", LIMITS).document["x"]
    assert isinstance(value, float) and value != 0  # inf / nan, for the feature checks to name


def test_body_over_the_byte_limit_is_413_with_uid():
    err, uid = _reject(BODY, limits=RequestLimits(max_request_bytes=10))
    assert isinstance(err, RequestTooLargeError)
    assert (err.status_code, uid) == (413, _uid(BODY))
    assert "max_request_bytes" in err.error_text


def test_nesting_beyond_the_parsers_is_400():
    body = b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    err, uid = _reject(body)
    assert (err.status_code, uid) == (400, "")
