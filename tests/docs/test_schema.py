"""The published JSON Schemas (docs/schema/) agree with the parse stage and the envelopes we send.

* every fixture request the parse stage accepts is valid under the request schema;
* a request valid under the schema that parse refuses is refused for a model-specific reason
  (task, unknown type, limits), never a structural one the schema could have caught;
* every target/ body and every answer we give is valid under the response schema.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema
import pytest

from handler.contract.errors import RealtimeError
from handler.contract.graph_schema import GraphSchema
from handler.contract.limits import RequestLimits
from handler.contract.model_config import ModelConfig
from handler.contract.names import TASKS
from handler.request.decode import decode
from handler.request.parse import RequestParser
from tests.compare import VARIANTS, artifacts_dir, load_cases

SCHEMAS = Path(__file__).parents[2] / "docs" / "schema"
REQUEST = json.loads((SCHEMAS / "gs-realtime-v0.1.request.schema.json").read_text())
RESPONSE = json.loads((SCHEMAS / "gs-realtime-v0.1.response.schema.json").read_text())
# Refusals a schema cannot know about: they depend on the deployed model or its limits.
MODEL_SPECIFIC = {411, 413, 421}


@cache
def _parser(variant: str) -> RequestParser:
    art = artifacts_dir(variant)
    schema = GraphSchema.from_file(art / "data_transform_new.json")
    config = ModelConfig.from_yaml(art / "GRAPHSTORM_RUNTIME_UPDATED_TRAINING_CONFIG.yaml",
                                   schema.ntypes, schema.canonical_etypes)
    return RequestParser(schema, config.task_type, RequestLimits())


def test_schemas_are_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(REQUEST)
    jsonschema.Draft202012Validator.check_schema(RESPONSE)
    assert REQUEST["properties"]["gml_task"]["enum"] == list(TASKS)


def _schema_errors(document) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(REQUEST).iter_errors(document)]


EXTRA = {  # structural mistakes beyond the fixtures' own
    "node_id_object": lambda p: p["targets"][0].update(node_id={"a": 1}),
    "edge_type_two_parts": lambda p: p["graph"]["edges"] and p["graph"]["edges"][0].update(edge_type=["a", "b"]),
    "nodes_not_a_list": lambda p: p["graph"].update(nodes={"a": 1}),
    "features_a_list": lambda p: p["graph"]["nodes"][0].update(features=[1, 2]),
    "empty_node_id": lambda p: p["graph"]["nodes"][0].update(node_id=""),
}


def _documents(variant: str):
    for case in load_cases(variant):
        if case.content_type != "application/json":
            continue
        try:
            document = json.loads(case.body)
        except ValueError:
            continue
        yield case.name, case.body, document
    base = next(d for n, _, d in _documents_plain(variant) if n.startswith("v02"))
    for name, mutate in EXTRA.items():
        doc = json.loads(json.dumps(base))
        mutate(doc)
        yield name, json.dumps(doc).encode(), doc


def _documents_plain(variant: str):
    for case in load_cases(variant):
        if case.content_type == "application/json" and case.body[:1] == b"{":
            try:
                yield case.name, case.body, json.loads(case.body)
            except ValueError:
                continue


@pytest.mark.parametrize("variant", VARIANTS)
def test_parse_and_the_request_schema_agree(variant):
    parser = _parser(variant)
    limits = RequestLimits()
    checked = 0
    for name, body, document in _documents(variant):
        errors = _schema_errors(document)
        try:
            parser.parse(decode(body, "application/json", limits))
        except RealtimeError as err:
            if not errors:
                assert err.status_code in MODEL_SPECIFIC, (name, err.error_text)
            continue
        assert not errors, (name, errors)
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_target_bodies_are_valid_responses(variant):
    validator = jsonschema.Draft202012Validator(RESPONSE)
    for case in load_cases(variant):
        errors = [e.message for e in validator.iter_errors(case.target)]
        assert not errors, (case.id, errors)
