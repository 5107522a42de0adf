"""gs-predict prints the endpoint's envelopes (one JSON line per payload) and tells by its exit
status whether all were 200: over a node fixture's raw artifacts and an edge fixture's .mar."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mar_builder import cli as build_cli
from mar_builder import predict_cli
from tests.compare import FIXTURES_DIR, FixtureCase, arrow_case, artifacts_dir, assert_matches_target, load_cases

JSON = "application/json"


def _payload_file(case: FixtureCase) -> Path:
    manifest = json.loads((FIXTURES_DIR / case.variant / "payloads" / "manifest.json").read_text())
    entry = next(e for e in manifest["cases"] if e["name"] == case.name)
    return FIXTURES_DIR / case.variant / "payloads" / entry["file"]


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    """gs-predict in its own process, as a user's CI runs it (the console script's module, so
    that an environment installed before the entry point existed runs it too)."""
    return subprocess.run([sys.executable, "-m", "mar_builder.predict_cli", *map(str, args)],
                          capture_output=True, timeout=300, cwd=Path(__file__).resolve().parents[2],
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})


def _check_lines(cases: list[FixtureCase], stdout: bytes) -> None:
    lines = stdout.splitlines()
    assert len(lines) == len(cases)
    for case, line in zip(cases, lines, strict=True):
        assert_matches_target(case, json.loads(line), line)


def test_model_dir_every_json_case_matches_target() -> None:
    """Every application/json case of rgcn_nc; some are errors, so the exit status is 1."""
    cases = [c for c in load_cases("rgcn_nc") if c.content_type == JSON]
    assert any(c.target["status_code"] != 200 for c in cases)
    proc = _run("--model-dir", artifacts_dir("rgcn_nc"), *[_payload_file(c) for c in cases])
    assert proc.returncode == 1, proc.stderr
    _check_lines(cases, proc.stdout)


def test_mar_of_edge_model_valid_cases_exit_0(tmp_path: Path) -> None:
    """A .mar of the edge-classification fixture: its 200 cases match target/, exit status 0."""
    art = artifacts_dir("rgcn_ec")
    assert build_cli.main([
        "--restore-model-path", str(art),
        "--model-yaml-config-file", str(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml"),
        "--graph-json-config-file", str(art / "data_transform_new.json"),
        "--infer-task-type", "edge_classification", "--model-name", "ec", "--export-path", str(tmp_path),
    ]) == 0
    cases = [c for c in load_cases("rgcn_ec") if c.content_type == JSON and c.target["status_code"] == 200]
    assert cases
    proc = _run("--mar", tmp_path / "ec.mar", *[_payload_file(c) for c in cases])
    assert proc.returncode == 0, proc.stderr
    _check_lines(cases, proc.stdout)


def test_other_content_type_is_answered_as_the_endpoint(capsysbinary: pytest.CaptureFixture) -> None:
    """--content-type passes the request's type on (text/csv -> the endpoint's error envelope)."""
    case = next(c for c in load_cases("rgcn_nc") if c.content_type != JSON)
    status = predict_cli.main(["--model-dir", str(artifacts_dir("rgcn_nc")), "--content-type",
                               case.content_type, str(_payload_file(case))])
    out = capsysbinary.readouterr().out
    assert status == 1
    assert_matches_target(case, json.loads(out), out)


def test_unreadable_payload_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = predict_cli.main(["--model-dir", str(artifacts_dir("rgcn_nc")), str(tmp_path / "missing.json")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert "gs-predict: error:" in captured.err and "missing.json" in captured.err


def test_model_that_cannot_load_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    payload = _payload_file(load_cases("rgcn_nc")[0])
    status = predict_cli.main(["--model-dir", str(tmp_path), str(payload)])
    assert status == 2
    assert "gs-predict: error:" in capsys.readouterr().err


def test_as_arrow_valid_cases_match_target() -> None:
    """--as-arrow: the valid JSON payloads sent as Arrow bodies match target/ (the id is the
    Arrow body's, so only the status and results are compared here)."""
    cases = [c for c in load_cases("rgcn_nc") if c.content_type == JSON and c.kind != "invalid"][:3]
    proc = _run("--model-dir", artifacts_dir("rgcn_nc"), "--as-arrow", *[_payload_file(c) for c in cases])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(cases)
    for case, line in zip(cases, lines, strict=True):
        got = json.loads(line)
        assert got["request_uid"] and got["request_uid"] != case.target["request_uid"]
        assert_matches_target(case, dict(got, request_uid=case.target["request_uid"]), line)


def test_as_arrow_refuses_a_payload_without_an_arrow_form(tmp_path: Path) -> None:
    bad = tmp_path / "mixed.json"
    bad.write_text(json.dumps({"gml_task": "node_classification", "targets": [{"node_type": "paper", "node_id": "a"}],
                               "graph": {"nodes": [{"node_type": "paper", "node_id": "a", "features": {"x": 1}},
                                                   {"node_type": "paper", "node_id": "b", "features": {"x": "s"}}],
                                         "edges": []}}))
    proc = _run("--model-dir", artifacts_dir("rgcn_nc"), "--as-arrow", bad)
    assert proc.returncode == 2
    assert b"ArrowConversionError" in proc.stderr


def test_accept_arrow_prints_the_same_lines_as_json(capsysbinary: pytest.CaptureFixture) -> None:
    """--accept-arrow: each Arrow answer converted back is byte for byte the JSON answer's line
    (valid and error cases; with --as-arrow too)."""
    cases = [c for c in load_cases("rgcn_nc") if arrow_case(c) is not None]  # JSON, with an Arrow form
    picked = [c for c in cases if c.kind != "invalid"][:3] + [c for c in cases if c.kind == "invalid"][:3]
    args = ["--model-dir", str(artifacts_dir("rgcn_nc")), *[str(_payload_file(c)) for c in picked]]
    outputs = []
    for flags in ([], ["--accept-arrow"], ["--as-arrow"], ["--as-arrow", "--accept-arrow"]):
        status = predict_cli.main([*flags, *args])
        outputs.append((status, capsysbinary.readouterr().out))
    assert outputs[0][0] == 1 and outputs[0] == outputs[1]
    assert outputs[2][0] == 1 and outputs[2] == outputs[3]
    _check_lines(picked, outputs[1][1])
