"""ServingOptions: the handler section and the GS_* environment, read and validated once."""

from __future__ import annotations

import pytest

from handler.contract.limits import RequestLimits
from handler.contract.settings import (
    CONTAINER_ENV,
    ServingOptions,
    env_value_problem,
    unknown_env_problem,
)


def test_defaults_and_round_trip_through_the_section():
    assert ServingOptions.from_sources(None) == ServingOptions()
    options = ServingOptions(limits=RequestLimits(max_nodes=5), http_status=True, torch_threads=2,
                             heap_retain_mb=0, warm_up=False, profile_stages=True)
    assert ServingOptions.from_sources(options.as_section()) == options
    assert ServingOptions.from_sources({"max_nodes": 5}).limits.max_nodes == 5


def test_the_environment_overrides_the_section():
    section = {"http_status": False}
    env = {"GS_HTTP_STATUS": "true", "GS_EMF_METRICS": "1", "GS_PROFILE_STAGES": "off"}
    options = ServingOptions.from_sources(section, env)
    assert (options.http_status, options.emf_metrics, options.profile_stages) == (True, True, False)
    assert ServingOptions.from_sources({"http_status": True}, {}).http_status


@pytest.mark.parametrize(("section", "env", "message"), [
    ({"max_node": 5}, {}, "'max_node' is unknown; did you mean max_nodes"),
    ({"http_status": "yes"}, {}, "http_status must be true or false"),
    ({"torch_threads": 0}, {}, "torch_threads must be a positive integer"),
    ({"heap_retain_mb": -1}, {}, "heap_retain_mb must be an integer from 0 to 2047"),
    ({"heap_retain_mb": 2048}, {}, "heap_retain_mb must be an integer from 0 to 2047"),
    ({"heap_retain_mb": True}, {}, "heap_retain_mb must be an integer"),
    ({"max_edges": -1}, {}, "max_edges must be a positive integer"),
    ({}, {"GS_HTTP_STATUS": "maybe"}, "GS_HTTP_STATUS"),
])
def test_bad_options_are_refused_by_name(section, env, message):
    with pytest.raises(ValueError, match=message):
        ServingOptions.from_sources(section, env)


def test_container_env_table_checks_kinds_and_spelling():
    assert CONTAINER_ENV["GS_PROFILE_STAGES"] == "bool"
    assert env_value_problem("GS_STOP_TIMEOUT", "int>=1", "0") == "GS_STOP_TIMEOUT must be >= 1, got 0"
    assert env_value_problem("GS_INFER_TASK_TYPE", "task", "node_regression") is None
    assert "did you mean GS_HTTP_STATUS" in unknown_env_problem("GS_HTTP_STATS")
    assert unknown_env_problem("OMP_NUM_THREADS") is None
