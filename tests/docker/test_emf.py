"""handler/serving/emf.py: each record is one line that CloudWatch accepts as embedded metric format, checked
against AWS's EMF specification; and the container's log4j2.xml writes such lines raw to stdout."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from handler.serving.emf import emf_record

REPO = Path(__file__).resolve().parents[2]
# CloudWatch's StandardUnit values (EMF MetricDefinition.Unit).
UNITS = {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
         "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
         "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
         "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
         "Count/Second", "None"}


def assert_emf(line: str) -> dict:
    """Checks one log line against the EMF specification; returns the parsed record."""
    assert "\n" not in line
    record = json.loads(line)
    assert isinstance(record, dict)
    aws = record["_aws"]
    assert isinstance(aws["Timestamp"], int) and aws["Timestamp"] > 0
    directives = aws["CloudWatchMetrics"]
    assert isinstance(directives, list) and directives
    for directive in directives:
        assert isinstance(directive["Namespace"], str) and 1 <= len(directive["Namespace"]) <= 1024
        for dimension_set in directive["Dimensions"]:
            assert isinstance(dimension_set, list) and len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(record[name], str), f"dimension {name} must be a string member"
        metrics = directive["Metrics"]
        assert 1 <= len(metrics) <= 100
        for metric in metrics:
            assert 1 <= len(metric["Name"]) <= 1024
            assert metric.get("Unit", "None") in UNITS
            value = record[metric["Name"]]
            values = value if isinstance(value, list) else [value]
            assert len(values) <= 100
            for v in values:
                assert isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return record


def test_batch_record_is_emf() -> None:
    line = emf_record("GsTorchServe", "acm-rgcn", [200, 200, 400, 500, 413],
                      [{"parse": 1.25, "forward": 3.5}, {"parse": 0.5, "forward": 2.0}, {"parse": 0.1},
                       {"parse": 0.2, "forward": 9.0}, {}], batch_size=5, timestamp_ms=1_700_000_000_000)
    record = assert_emf(line)
    assert record["_aws"]["Timestamp"] == 1_700_000_000_000
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["ModelName"]]
    assert (record["Requests"], record["BatchSize"]) == (5, 5)
    assert (record["Requests2XX"], record["Requests4XX"], record["Requests5XX"]) == (2, 2, 1)
    assert record["ParseMs"] == [1.25, 0.5, 0.1, 0.2]
    assert record["ForwardMs"] == [3.5, 2.0, 9.0]
    assert record["StatusCodes"] == [200, 200, 400, 500, 413]


@pytest.mark.parametrize("stages", [[], [{"graph_build": 1.0, "weird stage!": 2.0}]])
def test_edge_cases_are_emf(stages: list) -> None:
    record = assert_emf(emf_record("Ns", "m", [200] * len(stages), stages, batch_size=len(stages)))
    if stages:
        assert record["GraphBuildMs"] == [1.0] and record["WeirdStageMs"] == [2.0]


def test_log4j2_writes_emf_lines_raw() -> None:
    """MODEL_LOG (worker stdout) goes to an appender that accepts only EMF lines, pattern %m%n."""
    root = ET.parse(REPO / "docker" / "log4j2.xml").getroot()
    appenders = {a.get("name"): a for a in root.find("Appenders")}
    emf = appenders["emf"]
    assert emf.find("PatternLayout").get("pattern") == "%m%n"
    regex = emf.find("RegexFilter")
    assert (regex.get("onMatch"), regex.get("onMismatch")) == ("ACCEPT", "DENY")
    line = emf_record("Ns", "m", [200], [{"parse": 1.0}], 1)
    assert re.fullmatch(regex.get("regex"), line)
    assert not re.fullmatch(regex.get("regex"), "2025-01-01 INFO worker started")
    model_log = next(lg for lg in root.find("Loggers") if lg.get("name") == "MODEL_LOG")
    assert model_log.get("level") == "info" and model_log.get("additivity") == "false"
    refs = {r.get("ref"): r.get("level") for r in model_log.findall("AppenderRef")}
    assert refs == {"emf": None, "stdout": "warn"}
