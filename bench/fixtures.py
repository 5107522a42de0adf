"""Fixture access and the `target_compare` rules of `payloads/manifest.json`, shared by the tests and bench.

A response is compared with `target/<case>.json` by the case's rule:

* ``success``: status_code, request_uid, error (""), the (node_type, node_id) list in
  ``targets`` order and each prediction's length exact; values within ``prediction_atol``;
  no NaN/Infinity tokens in the body; message not compared.
* ``edge_success`` (edge fixtures): as ``success``, results identified by (edge_type,
  src_node_id, dest_node_id).
* ``status_and_uid``: status_code, request_uid and data ({}) exact; error non-empty and
  containing every ``error_must_mention`` string.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path

from handler.contract.arrow_payload import ArrowConversionError, payload_to_arrow
from handler.contract.envelope import request_uid
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE, JSON_CONTENT_TYPE

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
VARIANTS = sorted(p.name for p in FIXTURES_DIR.iterdir() if (p / "payloads" / "manifest.json").exists())


@dataclass(frozen=True)
class FixtureCase:
    """One request of a fixture: its exact body, content type, target body and compare rule."""

    variant: str
    name: str
    kind: str
    body: bytes
    content_type: str
    target: dict
    rule: dict

    @property
    def id(self) -> str:
        return f"{self.variant}/{self.name}"


def artifacts_dir(variant: str) -> Path:
    """The directory holding a fixture's model.bin, YAML and transform JSON."""
    return FIXTURES_DIR / variant / "artifacts"


def load_cases(variant: str) -> list[FixtureCase]:
    """Every case of a fixture's manifest, in manifest order (not the manifest's
    ``withheld_cases``: their target/ is not the contract)."""
    root = FIXTURES_DIR / variant
    manifest = json.loads((root / "payloads" / "manifest.json").read_text())
    withheld = set(manifest.get("withheld_cases", {}).get("names", ()))
    cases = []
    for entry in manifest["cases"]:
        if entry["name"] in withheld:
            continue
        cases.append(
            FixtureCase(
                variant=variant,
                name=entry["name"],
                kind=entry["kind"],
                body=(root / "payloads" / entry["file"]).read_bytes(),
                content_type=entry.get("content_type", "application/json"),
                target=json.loads((root / "target" / entry["file"]).read_text()),
                rule=entry["target_compare"],
            )
        )
    return cases


def lm_models(variant: str) -> dict[str, Path]:
    """The fixture's language models, NAME -> DIR (``<fixture>/lm/NAME``; empty without text)."""
    root = FIXTURES_DIR / variant / "lm"
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir()} if root.is_dir() else {}


def arrow_case(case: FixtureCase, version: int = 2) -> FixtureCase | None:
    """The case sent as our Arrow content type: the body made from its JSON payload by
    ``payload_to_arrow`` (format ``version``), the target's ``request_uid`` that of the Arrow
    body (the id of the exact bytes). None when the payload is not JSON or has no exact Arrow
    form."""
    if case.content_type != JSON_CONTENT_TYPE:
        return None
    try:
        body = payload_to_arrow(json.loads(case.body), version=version)
    except (ValueError, ArrowConversionError):
        return None
    target = dict(case.target, request_uid=request_uid(body) if case.target["request_uid"] else "")
    return dataclasses.replace(case, body=body, content_type=ARROW_STREAM_CONTENT_TYPE, target=target)


def all_cases() -> list[FixtureCase]:
    """Every case of every fixture."""
    return [case for variant in VARIANTS for case in load_cases(variant)]


def assert_matches_target(case: FixtureCase, response: dict, raw_body: bytes | None = None) -> None:
    """Asserts that ``response`` (the envelope, parsed) satisfies the case's target rule.

    Args:
        case: the fixture case.
        response: the response envelope as a dict.
        raw_body: the serialized response, to check for NaN/Infinity tokens when given.
    """
    target, rule = case.target, case.rule
    assert response["status_code"] == target["status_code"], (case.id, response)
    assert response["request_uid"] == target["request_uid"], (case.id, response)
    mode = rule["mode"]
    if mode == "status_and_uid":
        assert response["data"] == {}, (case.id, response)
        assert response["error"], (case.id, response)
        for word in rule.get("error_must_mention", []):
            assert word in response["error"], (case.id, word, response["error"])
        return
    assert mode in ("success", "edge_success"), mode
    assert response["error"] == "", (case.id, response)
    got = response["data"]["results"]
    want = target["data"]["results"]
    assert [result_key(r) for r in got] == [result_key(r) for r in want], case.id
    atol = rule.get("prediction_atol", 1e-5)
    for g, w in zip(got, want, strict=True):
        assert len(g["prediction"]) == len(w["prediction"]), case.id
        for gv, wv in zip(g["prediction"], w["prediction"], strict=True):
            assert math.isfinite(gv), (case.id, g)
            assert abs(gv - wv) <= atol, (case.id, result_key(g), gv, wv)
    if raw_body is not None:
        for token in (b"NaN", b"Infinity"):
            assert token not in raw_body, case.id


def result_key(result: dict) -> tuple:
    """What a result answers: (node_type, node_id), or (edge_type, src_node_id, dest_node_id)."""
    if "edge_type" in result:
        return (tuple(result["edge_type"]), result["src_node_id"], result["dest_node_id"])
    return (result["node_type"], result["node_id"])
