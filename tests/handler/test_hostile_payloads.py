"""Named hostile payloads (issue 10) against every fixture: each hazard is tried on every model
on purpose, not left to the fuzzer's draw.

Hazards: numbers beyond the double range written into the body (``1e999``, a 400-digit
integer), ``NaN`` / ``Infinity`` ids, 1,000-level nesting in a value and 1,000-1,024 levels
around the document, 100 KB strings (ids, feature values, types, task), control characters
and lone surrogates. Every answer must be an envelope with a client status (never a 5xx), a
JSON body without NaN/Infinity tokens, an error envelope within a few KB. Requests run as a
worker runs them (``fuzz_support.as_served``: default recursion limit, fresh stack).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.handler.fuzz_support import (
    CLIENT_ERRORS,
    FUZZ_FIXTURES,
    answer,
    base_cases,
    check_response,
    has_edge_targets,
    require_ready,
)

SLOT = "__gs_hostile__"
BIG_INT = "1" + "0" * 400
LONG = 100_000
RAW_VALUES = {
    "1e999": "1e999", "-1e999": "-1e999", "10**400": BIG_INT, "-10**400": "-" + BIG_INT,
    "NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity",
    "deep[1000]": "[" * 1000 + "1" + "]" * 1000, "deep{1000}": '{"a":' * 1000 + "1" + "}" * 1000,
    "deep[1020]": "[" * 1020 + "1" + "]" * 1020,
    "long_x": json.dumps("x" * LONG), "long_controls": json.dumps("".join(map(chr, range(32))) * (LONG // 32)),
    "long_surrogates": json.dumps("\ud800\U0001f600" * (LONG // 2)), "controls": json.dumps("\x00\x01\n\x1b\x7f"),
    "surrogate": json.dumps("\udfffa\ud800"),
}


def _spots(payload: dict[str, Any], edge_targets: bool) -> dict[str, Callable[[dict], None]]:
    """Spot name -> a function writing ``SLOT`` there."""
    def feature_element(p: dict) -> None:
        for node in p["graph"]["nodes"]:
            for value in node.get("features", {}).values():
                if isinstance(value, list) and value:
                    value[0] = SLOT
                    return

    def setter(*path: Any) -> Callable[[dict], None]:
        def put(p: dict) -> None:
            holder = p
            for step in path[:-1]:
                holder = holder[step]
            holder[path[-1]] = SLOT
        return put

    target_keys = ("src_node_id", "dest_node_id") if edge_targets else ("node_type", "node_id")
    spots = {
        "feature_element": feature_element,
        # every feature of the first node of each type: each transform sees every hazard
        **{f"{n['node_type']}.{name}": setter("graph", "nodes", i, "features", name)
           for i, n in enumerate(payload["graph"]["nodes"])
           if n["node_type"] not in {m["node_type"] for m in payload["graph"]["nodes"][:i]}
           for name in n.get("features", {})},
        "node_id": setter("graph", "nodes", 0, "node_id"), "node_type": setter("graph", "nodes", 0, "node_type"),
        "task": setter("gml_task"), "version": setter("version"), "targets": setter("targets"),
        "target": setter("targets", 0), **{f"target.{k}": setter("targets", 0, k) for k in target_keys},
    }
    if edge_targets:
        spots["target.edge_type"] = setter("targets", 0, "edge_type")
        spots["target.edge_type[1]"] = setter("targets", 0, "edge_type", 1)
    if payload["graph"]["edges"]:
        spots["edge.src_node_id"] = setter("graph", "edges", 0, "src_node_id")
        spots["edge.edge_type"] = setter("graph", "edges", 0, "edge_type")
        spots["edge.edge_type[0]"] = setter("graph", "edges", 0, "edge_type", 0)
    return spots


def hostile_bodies(variant: str) -> Iterator[tuple[str, bytes, str]]:
    """(label, body, content type) of every hazard on every spot of the fixture's smallest
    base payload, plus the document wrapped in 1,000-1,024 levels."""
    text = base_cases(variant)[0].body.decode()
    payload = json.loads(text)
    for spot, put in _spots(payload, has_edge_targets(variant)).items():
        for name, raw in RAW_VALUES.items():
            p = json.loads(text)
            put(p)
            yield f"{spot}={name}", json.dumps(p).replace(f'"{SLOT}"', raw).encode(), "application/json"
    for depth in (1000, 1010, 1020, 1023, 1024, 1025):
        yield f"document in [{depth}]", ("[" * depth + text + "]" * depth).encode(), "application/json"
        yield f"document in {{{depth}}}", ('{"a":' * depth + text + "}" * depth).encode(), "application/json"
    yield "content type 100 KB", text.encode(), "x" * LONG


@pytest.mark.parametrize("variant", FUZZ_FIXTURES)
def test_hostile_payloads_get_client_envelopes(variant):
    require_ready(variant)
    problems = []
    for label, body, content_type in hostile_bodies(variant):
        env, response = answer(variant, body, content_type)
        try:
            check_response(response, label)
            assert env["status_code"] in CLIENT_ERRORS | {200}, (label, env["status_code"], env["error"][:200])
        except AssertionError as err:
            problems.append(str(err)[:300])
    assert not problems, f"{len(problems)} hostile payloads badly answered:\n" + "\n".join(problems)
