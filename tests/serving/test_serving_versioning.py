"""Model versioning through the management API, and the `http_status` handler option.

The server runs the versioning recipe (serving_config/versioning.properties): model API on,
token authorisation on. The management API needs the management key, predictions and /ping
the inference key, and no URL is accepted even with the key. Version 1.0 is built with the
default (HTTP 200, status in the body, as GraphStorm), 2.0 with `--http-status`, so every call
also shows which version answered.
"""

from __future__ import annotations

import shutil
import stat

import pytest

from tests.compare import assert_matches_target, load_cases
from tests.serving.torchserve_process import VERSIONING_CONFIG, http_request, serving

pytestmark = pytest.mark.torchserve

MODEL = "rgcn_nc"
CASES = {c.name: c for c in load_cases(MODEL)}
VALID, NOT_FOUND = CASES["v02_small"], CASES["x03_unknown_target_id"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    store = tmp_path_factory.mktemp("store")
    mar_builder(MODEL, store, version="1.0", flags=("--batch-size", "1"))
    v2 = mar_builder(MODEL, tmp_path_factory.mktemp("v2"), version="2.0",
                     flags=("--batch-size", "1", "--http-status"))
    shutil.copy(v2, store / f"{MODEL}_v2.mar")
    with serving(tmp_path_factory.mktemp("ts"), store, {MODEL: f"{MODEL}.mar"},
                 base_config=VERSIONING_CONFIG) as ts:
        yield ts


def _post(ts, path: str, case):
    return ts.inference("POST", path, case.body, {"Content-Type": case.content_type})


def _versions(ts) -> tuple[set[str], str]:
    """(registered versions, default version): GET /models/NAME/all and GET /models/NAME."""
    listed = ts.management("GET", f"/models/{MODEL}/all")
    assert listed.status == 200, listed.body
    default = ts.management("GET", f"/models/{MODEL}")
    assert default.status == 200, default.body
    return {m["modelVersion"] for m in listed.json()}, default.json()[0]["modelVersion"]


def _refused_for_its_token(resp) -> bool:
    """TorchServe 0.12's answer to a missing or wrong key: 400 InvalidKeyException."""
    return resp.status == 400 and b"InvalidKeyException" in resp.body


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_every_api_needs_its_key(server):
    keys = server.keys()
    assert set(keys) == {"management", "inference", "API"}, keys
    key_file = server.workdir / "key_file.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # the owner's only
    management_calls = [("POST", f"/models?url={MODEL}_v2.mar&initial_workers=1&synchronous=true", None),
                        ("DELETE", f"/models/{MODEL}/1.0", None), ("GET", "/models", None)]
    inference_calls = [("GET", "/ping", None), ("POST", f"/predictions/{MODEL}", VALID.body)]
    for port, calls, other_key in ((server.management_port, management_calls, keys["inference"]),
                                   (server.inference_port, inference_calls, keys["management"])):
        for headers in ({}, _bearer("wrong"), _bearer(other_key)):
            for method, path, body in calls:
                resp = http_request(port, method, path, body, {**headers, "Content-Type": "application/json"})
                assert _refused_for_its_token(resp), (method, path, headers, resp.status, resp.body)
    assert _versions(server)[0] == {"1.0"}  # nothing was registered or removed
    resp = http_request(server.inference_port, "GET", "/ping", headers=_bearer(keys["inference"]))
    assert resp.status == 200, resp.body
    assert "ts_inference_requests_total" in server.metrics()  # the metrics address needs no key


def test_the_api_key_renews_the_inference_key(server):
    old = server.keys()
    resp = http_request(server.management_port, "GET", "/token?type=inference", headers=_bearer(old["API"]))
    assert resp.status == 200, resp.body
    new = server.keys()
    assert new["inference"] != old["inference"] and new["management"] == old["management"]
    ping = lambda key: http_request(server.inference_port, "GET", "/ping", headers=_bearer(key))  # noqa: E731
    assert _refused_for_its_token(ping(old["inference"]))
    assert ping(new["inference"]).status == 200


def test_no_url_is_registered_even_with_the_management_key(server, tmp_path):
    outside = tmp_path / f"{MODEL}_v3.mar"
    outside.write_bytes((server.model_store / f"{MODEL}_v2.mar").read_bytes())
    for url in (outside.as_uri(), "http://127.0.0.1:9/evil.mar"):
        resp = server.management("POST", f"/models?url={url}&model_name=evil&initial_workers=1")
        assert resp.status == 404 and b"does not match any allowed URL" in resp.body, (url, resp.body)
    assert _versions(server)[0] == {"1.0"}


def test_register_call_switch_and_unregister_versions(server):
    # Register a second version of the same model name.
    resp = server.register(f"{MODEL}_v2.mar")
    assert resp.status == 200, (resp.body, server.logs())
    assert _versions(server) == ({"1.0", "2.0"}, "1.0")

    # Call a specific version; the default is still 1.0 (HTTP 200 with the status in the body).
    resp = _post(server, f"/predictions/{MODEL}/2.0", NOT_FOUND)
    assert resp.status == 404
    assert_matches_target(NOT_FOUND, resp.json())
    resp = _post(server, f"/predictions/{MODEL}", NOT_FOUND)
    assert resp.status == 200
    assert_matches_target(NOT_FOUND, resp.json())

    # Switch the default, then unregister the old version.
    resp = server.management("PUT", f"/models/{MODEL}/2.0/set-default")
    assert resp.status == 200, resp.body
    assert _versions(server) == ({"1.0", "2.0"}, "2.0")
    resp = server.management("DELETE", f"/models/{MODEL}/1.0")
    assert resp.status == 200, resp.body
    assert _versions(server) == ({"2.0"}, "2.0")

    resp = _post(server, f"/predictions/{MODEL}", NOT_FOUND)
    assert resp.status == 404  # 2.0 answers now
    resp = _post(server, f"/predictions/{MODEL}", VALID)
    assert resp.status == 200
    assert_matches_target(VALID, resp.json(), raw_body=resp.body)


def test_http_status_option_sets_every_error_status(server):
    """With `--http-status`, the HTTP status is the envelope's status_code, body unchanged."""
    if "2.0" not in _versions(server)[0]:
        assert server.register(f"{MODEL}_v2.mar").status == 200
    for case in CASES.values():
        resp = _post(server, f"/predictions/{MODEL}/2.0", case)
        assert resp.status == case.target["status_code"], case.id
        assert resp.headers["content-type"] == "application/json"
        assert_matches_target(case, resp.json(), raw_body=resp.body)
