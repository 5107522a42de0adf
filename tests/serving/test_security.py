"""Security: loopback-only listeners, no runtime model loading, payloads never run, no stack traces.

The local config binds every listener (HTTP and gRPC) to 127.0.0.1, checked both in the file
and on a running server; the SageMaker config exposes inference only. A .mar carries Python
code, so registering one is running code: with the default local config a running server
refuses every registration (and URL); the versioning config differs only by turning the model
API on together with token authorisation (its token checks run in test_serving_versioning.py,
on that module's server). Hostile strings in payloads (code, paths, URLs) are data: nothing is
executed or opened. A failure inside the server answers a generic 500 while its stack trace goes
to the log with the request_uid.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import time
from pathlib import Path

import psutil
import pytest

from handler import RealtimePredictor
from handler.contract import envelope
from tests.compare import artifacts_dir, load_cases
from tests.serving.load import FIELDS
from tests.serving.torchserve_process import REPO, http_request, serving

MODEL = "rgcn_nc"
LEARNABLE = "rgcn_nc_learnable"  # its x16 case is GraphStorm's 500 (missing learnable embeddings)
CONFIG_DIR = REPO / "serving_config"
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
ADDRESS_KEYS = ("inference_address", "management_address", "metrics_address",
                "grpc_inference_address", "grpc_management_address")


def _properties(name: str) -> dict[str, str]:
    lines = (CONFIG_DIR / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _host(address: str) -> str:
    return address.split("://", 1)[-1].rsplit(":", 1)[0] if "://" in address else address


def test_local_config_binds_every_listener_to_loopback():
    props = _properties("config.properties")
    assert {key: _host(props[key]) for key in ADDRESS_KEYS} == dict.fromkeys(ADDRESS_KEYS, "127.0.0.1")


def test_sagemaker_config_exposes_inference_only():
    props = _properties("sagemaker.properties")
    assert props["inference_address"] == "http://0.0.0.0:8080"  # SageMaker's /ping, /invocations
    assert all(_host(props[key]) == "127.0.0.1" for key in ADDRESS_KEYS[1:])
    assert props["enable_model_api"] == "false"


# allowed_urls is a comma-separated list of Java regexes a model URL must match in full; a
# model named by a plain file name loads from the model store without this check.
NO_URL = "^$"


def test_no_config_lets_a_model_load_from_a_url():
    for name in ("config.properties", "versioning.properties", "sagemaker.properties"):
        assert _properties(name)["allowed_urls"] == NO_URL, name


def test_local_config_has_the_model_api_off():
    assert _properties("config.properties")["enable_model_api"] == "false"


def test_versioning_config_turns_the_model_api_on_only_with_token_authorisation():
    local, versioning = _properties("config.properties"), _properties("versioning.properties")
    assert versioning["enable_model_api"] == "true"
    assert versioning["disable_token_authorization"] == "false"
    changed = {k for k in local.keys() | versioning.keys() if local.get(k) != versioning.get(k)}
    assert changed == {"enable_model_api", "disable_token_authorization"}


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    store = tmp_path_factory.mktemp("store")
    mar_builder(MODEL, store)
    mar_builder(LEARNABLE, store)
    with serving(tmp_path_factory.mktemp("ts"), store, {MODEL: f"{MODEL}.mar", LEARNABLE: f"{LEARNABLE}.mar"}) as ts:
        yield ts


def _group_listeners(pgid: int) -> list[tuple[int, str, int]]:
    """(pid, ip, port) of every listening inet socket of the processes of group ``pgid``."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) != pgid:
                continue
            found += [(proc.pid, c.laddr.ip, c.laddr.port) for c in proc.net_connections("inet")
                      if c.status == psutil.CONN_LISTEN]
        except (OSError, psutil.Error):
            continue
    return found


def _copy_of_a_mar(server, tmp_path: Path) -> Path:
    """A copy of a served archive outside the model store (what an attacker would point to)."""
    copy = tmp_path / "outside" / "evil.mar"
    copy.parent.mkdir()
    copy.write_bytes((server.model_store / f"{MODEL}.mar").read_bytes())
    return copy


@pytest.mark.torchserve
def test_default_config_refuses_to_register_or_unregister_models(server, tmp_path):
    outside = _copy_of_a_mar(server, tmp_path)
    (server.model_store / "other.mar").write_bytes(outside.read_bytes())
    for url in ("other.mar", outside.as_uri(), "http://127.0.0.1:9/evil.mar"):
        resp = http_request(server.management_port, "POST", f"/models?url={url}&model_name=evil&initial_workers=1")
        assert resp.status == 405, (url, resp.status, resp.body)
    resp = http_request(server.management_port, "DELETE", f"/models/{MODEL}")
    assert resp.status == 405, resp.body
    listed = http_request(server.management_port, "GET", "/models").json()["models"]
    assert sorted(m["modelName"] for m in listed) == sorted([MODEL, LEARNABLE])


@pytest.mark.torchserve
def test_running_server_listens_on_loopback_only(server):
    listeners = _group_listeners(server.proc.pid)
    assert {port for _, _, port in listeners} >= {server.inference_port, server.management_port,
                                                  server.metrics_port}, listeners
    assert all(ip in LOOPBACK for _, ip, _ in listeners), listeners


def _hostile_payloads(marker: Path) -> list[bytes]:
    """Valid-looking payloads whose strings would create ``marker`` if run or opened for writing."""
    code = f"__import__('os').system('touch {marker}')"
    strings = [code, str(marker), f"file://{marker}", f"../../../../..{marker}", "${jndi:ldap://127.0.0.1/x}",
               "{{7*7}}", "%s%s%n", "\x00"]
    base = json.loads(load_cases(MODEL)[0].body)
    payloads = []
    for s in strings:
        for edit in ("node_id", "node_type", "feature", "target", "task"):
            p = json.loads(json.dumps(base))
            if edit in ("node_id", "node_type"):
                p["graph"]["nodes"][0][edit] = s
            elif edit == "feature":
                p["graph"]["nodes"][0]["features"]["venue"] = s
            elif edit == "target":
                p["targets"][0]["node_id"] = s
            else:
                p["gml_task"] = s
            payloads.append(json.dumps(p).encode())
    return payloads


@pytest.mark.torchserve
def test_payload_strings_are_never_run_or_used_as_paths(server, tmp_path):
    marker = tmp_path / "pwned"
    for body in _hostile_payloads(marker):
        resp = server.inference("POST", f"/predictions/{MODEL}", body, {"Content-Type": "application/json"})
        env = resp.json()
        assert resp.status == 200 and list(env) == FIELDS, resp.body
        assert env["status_code"] in (200, 400, 403, 404, 411, 421), env
    assert not marker.exists()


def test_handler_code_neither_evaluates_nor_opens_request_data():
    """No eval/exec/pickle/subprocess in the core; files are opened only by the artifact loaders."""
    builtins = {"eval", "exec", "compile", "__import__"}  # as bare names (model.eval() is torch's)
    methods = {"system", "popen", "spawnv", "execv"}
    # contract/artifacts.py: read_training_yaml, read_transform_json (the one readers);
    # graph_store/cli.py, loader.py, neptune_csv.py: the offline tools (gs-build-payload's
    # --targets @FILE, gs-load-graph's learnable-embedding files and --neptune-csv output),
    # never on the request path.
    allowed_open = {"artifacts.py", "cli.py", "loader.py", "neptune_csv.py"}
    for path in sorted((REPO / "handler").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = {a.name.split(".")[0] for a in node.names} | {getattr(node, "module", None) or ""}
                assert not names & {"pickle", "subprocess", "marshal", "shelve"}, (path, names)
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            if name == "loads":
                assert owner in ("json", "orjson"), (path, node.lineno)  # JSON only, never pickle
                continue
            assert not (isinstance(func, ast.Name) and name in builtins), (path, node.lineno, name)
            assert not (isinstance(func, ast.Attribute) and name in methods), (path, node.lineno, name)
            if name == "open" and (isinstance(func, ast.Name) or owner in ("io", "os", "codecs")):
                assert path.name in allowed_open, (path, node.lineno)  # not GraphExpander.open
            if name == "load" and owner == "torch":
                assert any(k.arg == "weights_only" and getattr(k.value, "value", None) is True
                           for k in node.keywords), (path, node.lineno)


def test_a_server_failure_answers_without_stack_trace_and_logs_it_with_the_uid(caplog):
    p = RealtimePredictor.from_artifacts(artifacts_dir(MODEL))
    body = load_cases(MODEL)[0].body
    uid = envelope.request_uid(body)

    def broken(union):  # fault injection: the model raises with internal details
        raise RuntimeError("shape mismatch in secret layer")

    p.run_model = broken
    with caplog.at_level(logging.ERROR, logger="handler.serving.predictor"):
        env = p.predict(body)
    assert env["status_code"] == 500 and env["request_uid"] == uid
    assert env["error"] == "Internal Server Error: Please contact with your endpoint administrators for this error. "
    logged = [r for r in caplog.records if uid in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the trace is in the log, next to the uid


@pytest.mark.torchserve
def test_server_errors_reach_the_log_with_the_uid_not_the_answer(server):
    (case,) = [c for c in load_cases(LEARNABLE) if c.name == "x16_missing_learnable_embedding"]
    resp = server.inference("POST", f"/predictions/{LEARNABLE}", case.body, {"Content-Type": "application/json"})
    env = resp.json()
    assert env["status_code"] == 500 and "Traceback" not in env["error"], env
    log = server.workdir / "logs" / "model_log.log"
    deadline = time.monotonic() + 10  # the frontend writes worker output asynchronously
    while env["request_uid"] not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, server.logs()
        time.sleep(0.2)
