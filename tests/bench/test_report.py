"""The benchmark's in-process measurement and its table on one small payload."""

from __future__ import annotations

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
