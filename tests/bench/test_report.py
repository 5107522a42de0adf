"""The benchmark's in-process measurement and its table on one small payload."""

from __future__ import annotations

import dataclasses

from bench import report
from bench.inprocess import run_inprocess


def test_inprocess_row_has_every_figure():
    [result] = run_inprocess(["rgcn_nc"], ["v01_tiny"], runs=3, warmup=1, log=lambda _: None)
    assert result.num_nodes == 11 and result.total["runs"] == 3
    assert 0 < result.floor["json_parse"] < result.floor["sum"]
    assert result.graphstorm_median_ms and "speedup_target_met" in result.checks
    table = report.inprocess_table([result])
    assert "rgcn_nc/v01_tiny" in table and len(table.splitlines()) == 3
    assert result.arrow is not None and result.arrow["runs"] == 3 and "arrow_to_floor" in result.checks
    goals = report.goals_table([result])
    assert "rgcn_nc/v01_tiny" in goals and len(goals.splitlines()) == 3
    assert "goals met" in report.goals_summary([result])


def test_run_quality_reads_the_spread_of_medians():
    [result] = run_inprocess(["rgcn_nc"], ["v01_tiny"], runs=3, warmup=1, log=lambda _: None)
    steady = dataclasses.replace(result, total={**result.total, "median": result.total["min"]},
                                 arrow={**result.arrow, "median": result.arrow["min"] * 1.05})
    assert report.run_quality([steady], {"other_processes_cpu_share": 0.0}) == (
        True, "run quality: quiet (median within 1.1x of the fastest call on 2/2 measurements of payloads "
              "up to 1200 nodes, quiet from 95%; widest 1.05x, rgcn_nc/v01_tiny as Arrow; other processes "
              "0.0% of the CPUs)")
    noisy = dataclasses.replace(steady, total={**result.total, "median": result.total["min"] * 1.5})
    quiet, line = report.run_quality([noisy], None)
    assert not quiet and "on 1/2 measurements" in line and "widest 1.50x, rgcn_nc/v01_tiny;" not in line
    assert line.endswith("widest 1.50x, rgcn_nc/v01_tiny)")
    assert not report.run_quality([steady], {"other_processes_cpu_share": 0.05})[0]
