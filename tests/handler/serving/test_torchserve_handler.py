"""GraphStormHandler outside a server: TorchServe's own Context, the real model (rgcn_nc).

The full path through a running TorchServe is tested in tests/serving/; here the cases a
server seldom produces: bodies TorchServe already decoded, missing bodies, header spelling,
the `http_status` option, and answers outside the request path in the format Accept asks for.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

import pytest
import ts
from ts.context import Context, RequestProcessor
from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl

from handler.contract import envelope
from handler.contract.arrow_response import arrow_response_to_envelope
from handler.contract.errors import InternalError
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE
from handler.serving.torchserve_handler import ARTIFACTS_DIR, GraphStormHandler
from tests.compare import artifacts_dir, assert_matches_target, load_cases

CASES = {c.name: c for c in load_cases("rgcn_nc")}


def _context(model_dir, http_status: bool | None) -> Context:
    metrics = MetricsCacheYamlImpl(os.path.join(os.path.dirname(ts.__file__), "configs", "metrics.yaml"))
    metrics.initialize_cache()
    metrics.model_name = "rgcn_nc"
    yaml_config = {} if http_status is None else {"handler": {"http_status": http_status}}
    return Context("rgcn_nc", str(model_dir), {}, 8, None, ts.__version__, metrics=metrics,
                   model_yaml_config=yaml_config)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    shutil.copytree(artifacts_dir("rgcn_nc"), root / ARTIFACTS_DIR)
    return root


def _handle(model_dir, data: list[dict], headers: list[dict], http_status: bool | None = None,
            break_stage: str | None = None):
    ctx = _context(model_dir, http_status)
    handler = GraphStormHandler()
    handler.initialize(ctx)
    if break_stage:  # fault injection: the predictor stage raises with internal details
        def broken(*args, **kwargs):
            raise RuntimeError("secret internal detail")
        setattr(handler.predictor, break_stage, broken)
    ctx.request_processor = [RequestProcessor(h) for h in headers]
    ctx.request_ids = {i: f"req{i}" for i in range(len(data))}
    ctx.metrics.set_request_ids(ctx.request_ids)
    out = handler.handle(data, ctx)
    assert len(out) == len(data)
    return out, ctx


def test_body_forms_and_header_spellings(model_dir):
    tiny, csv = CASES["v01_tiny"], CASES["x15_unsupported_content_type"]
    data = [
        {"body": bytearray(tiny.body)},               # decoding off: raw bytes
        {"data": tiny.body},                          # the other key TorchServe may use
        {"body": tiny.body.decode()},                 # text/* decoded to str
        {"body": bytearray(csv.body)},
    ]
    headers = [{"Content-Type": "application/json"}, {"content-type": "application/json"},
               {"body": {"content-type": "application/json"}}, {"Content-Type": csv.content_type}]
    out, ctx = _handle(model_dir, data, headers)
    for case, body in zip([tiny, tiny, tiny, csv], out, strict=True):
        assert_matches_target(case, json.loads(body), raw_body=body)
    for idx in range(len(data)):
        assert ctx.get_response_content_type(idx) == "application/json"
        assert ctx.get_response_status(idx)[0] == 200  # default: status only in the body
    assert os.environ["TS_DECODE_INPUT_REQUEST"] == "false"


def test_decoded_or_missing_body_never_fails_the_batch(model_dir):
    tiny = CASES["v01_tiny"]
    data = [{"body": json.loads(tiny.body)}, {}, {"body": bytearray(tiny.body)}]
    out, _ = _handle(model_dir, data, [{}, {}, {}])
    decoded, missing, ok = (json.loads(b) for b in out)
    assert decoded["status_code"] == 500 and decoded["request_uid"] == ""  # exact bytes are lost
    assert missing["status_code"] == 400  # an empty body is not JSON
    assert_matches_target(tiny, ok)


def test_accept_picks_each_answers_format_whatever_its_spelling(model_dir):
    tiny, unknown = CASES["v01_tiny"], CASES["x03_unknown_target_id"]
    data = [{"body": bytearray(c.body)} for c in (tiny, tiny, tiny, unknown, tiny)]
    data.append({"body": json.loads(tiny.body)})  # decoded by the server: the adapter's 500
    headers = [{"Accept": ARROW_STREAM_CONTENT_TYPE}, {"accept": JSON_CONTENT_TYPE},
               {"ACCEPT": f"{ARROW_STREAM_CONTENT_TYPE}, */*;q=0.1"}, {"Accept": ARROW_STREAM_CONTENT_TYPE}, {},
               {"accept": ARROW_STREAM_CONTENT_TYPE}]
    out, ctx = _handle(model_dir, data, headers)
    arrow = [True, False, True, True, False, True]
    for idx, (case, body) in enumerate(zip([tiny, tiny, tiny, unknown, tiny], out, strict=False)):
        answer = arrow_response_to_envelope(body) if arrow[idx] else json.loads(body)
        assert_matches_target(case, answer)
    assert [ctx.get_response_content_type(i) for i in range(len(data))] == [
        ARROW_STREAM_CONTENT_TYPE if a else JSON_CONTENT_TYPE for a in arrow]
    decoded = arrow_response_to_envelope(out[-1])
    assert (decoded["status_code"], decoded["request_uid"]) == (500, "")


def test_a_failed_batch_answers_in_each_requests_format(model_dir):
    tiny = CASES["v01_tiny"]
    out, ctx = _handle(model_dir, [{"body": bytearray(tiny.body)}] * 2,
                       [{"Accept": ARROW_STREAM_CONTENT_TYPE}, {}], break_stage="answer")
    uid = envelope.request_uid(tiny.body)
    expected = envelope.Envelope.from_error(uid, InternalError("")).as_dict()
    assert arrow_response_to_envelope(out[0]) == json.loads(out[1]) == expected
    assert [ctx.get_response_content_type(i) for i in range(2)] == [ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE]


def test_http_status_option(model_dir):
    cases = [CASES[n] for n in ("v02_small", "x03_unknown_target_id", "x06_wrong_gml_task", "x08_malformed_json")]
    out, ctx = _handle(model_dir, [{"body": bytearray(c.body)} for c in cases],
                       [{"Content-Type": c.content_type} for c in cases], http_status=True)
    for idx, (case, body) in enumerate(zip(cases, out, strict=True)):
        assert_matches_target(case, json.loads(body), raw_body=body)
        assert ctx.get_response_status(idx)[0] == case.target["status_code"]


@pytest.mark.parametrize("stage", ["parse", "build", "run_model", "answer"])
def test_unexpected_failures_are_a_generic_500_logged_with_the_request_uid(model_dir, stage, caplog):
    tiny = CASES["v01_tiny"]
    log = logging.getLogger("handler")  # routed to stderr, not propagated
    log.addHandler(caplog.handler)
    try:
        out, _ = _handle(model_dir, [{"body": bytearray(tiny.body)}], [{}], break_stage=stage)
    finally:
        log.removeHandler(caplog.handler)
    answer = json.loads(out[0])
    uid = envelope.request_uid(tiny.body)
    assert answer == envelope.Envelope.from_error(uid, InternalError("")).as_dict()
    assert "secret" not in out[0].decode() and "RuntimeError" not in out[0].decode()
    assert uid in caplog.text and "secret internal detail" in caplog.text and "Traceback" in caplog.text


def test_container_env_turns_on_http_status_and_emf_lines(model_dir, monkeypatch, capsys):
    """GS_HTTP_STATUS overrides the archive's option; GS_EMF_METRICS prints one EMF line a batch."""
    monkeypatch.setenv("GS_HTTP_STATUS", "true")
    monkeypatch.setenv("GS_EMF_METRICS", "true")
    cases = [CASES["v01_tiny"], CASES["x03_unknown_target_id"]]
    capsys.readouterr()
    out, ctx = _handle(model_dir, [{"body": bytearray(c.body)} for c in cases], [{}, {}], http_status=False)
    assert [ctx.get_response_status(i)[0] for i in range(2)] == [200, 404]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert len(lines) == 1
    record = lines[0]
    assert record["ModelName"] == "rgcn_nc" and record["BatchSize"] == 2
    assert (record["Requests2XX"], record["Requests4XX"], record["Requests5XX"]) == (1, 1, 0)
    assert len(record["ForwardMs"]) == 1 and len(record["ParseMs"]) == 2


def test_a_misspelled_env_flag_fails_loading_not_requests(model_dir, monkeypatch):
    monkeypatch.setenv("GS_HTTP_STATUS", "yes please")
    with pytest.raises(ValueError, match="GS_HTTP_STATUS"):
        GraphStormHandler().initialize(_context(model_dir, None))
