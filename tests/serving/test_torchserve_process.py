"""The test harness itself: stopping a server ends its workers too, even mid-test."""

from __future__ import annotations

import psutil
import pytest

from tests.serving.torchserve_process import serving

pytestmark = pytest.mark.torchserve


def _gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_stop_ends_server_and_workers_after_a_failure(tmp_path, mar_builder):
    store = tmp_path / "store"
    mar_builder("rgcn_nc", store, flags=("--min-workers", "2"))
    with pytest.raises(AssertionError, match="a test failed here"):
        with serving(tmp_path / "ts", store, {"rgcn_nc": "rgcn_nc.mar"}, workers={"rgcn_nc": 2}) as ts:
            server_pid = ts.proc.pid
            worker_pids = [w["pid"] for w in ts.management("GET", "/models/rgcn_nc").json()[0]["workers"]]
            assert len(worker_pids) == 2
            raise AssertionError("a test failed here")
    assert ts.proc is None
    assert all(_gone(pid) for pid in [server_pid, *worker_pids])
