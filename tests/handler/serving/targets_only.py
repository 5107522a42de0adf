"""Request helpers shared by the targets-only (``expand`` stage) tests."""

from __future__ import annotations

import json

import orjson

from tests.compare import result_key


def targets_only(case, **extra) -> bytes:
    """The fixture case's request without its graph: version, task and targets (+ ``extra`` fields)."""
    sent = json.loads(case.body)
    return orjson.dumps({"version": sent["version"], "gml_task": sent["gml_task"],
                         "targets": sent["targets"], **extra})


def results(envelope: dict) -> dict:
    """A 200 envelope's predictions by result key."""
    assert envelope["status_code"] == 200, envelope
    return {result_key(r): r["prediction"] for r in envelope["data"]["results"]}
