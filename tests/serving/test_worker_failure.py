"""Worker failure: a worker killed mid-traffic is restarted and answers correctly afterwards.

Clients keep sending valid rgcn_nc payloads while the model's only worker gets SIGKILL.
TorchServe answers the requests of the lost batch itself (HTTP 5xx, not an envelope), starts
a new worker, and the requests after recovery must all match ``target/``. The test prints
how many requests were lost and how long recovery took (docs/reliability.md: what to retry).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from tests.compare import load_cases
from tests.serving.load import fixture_request, mixed_plan, run_load
from tests.serving.torchserve_process import serving

pytestmark = pytest.mark.torchserve

MODEL = "rgcn_nc"
VALID = [fixture_request(c) for c in load_cases(MODEL) if c.kind == "valid"]


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    store = tmp_path_factory.mktemp("store")
    mar_builder(MODEL, store, flags=("--batch-size", "8", "--max-batch-delay", "5"))
    with serving(tmp_path_factory.mktemp("ts"), store, {MODEL: f"{MODEL}.mar"}) as ts:
        yield ts


def _ready_pids(ts) -> list[int]:
    resp = ts.management("GET", f"/models/{MODEL}")
    return [w["pid"] for m in resp.json() for w in m["workers"] if w["status"] == "READY"]


def test_killed_worker_is_restarted_and_answers_correctly(server):
    (old_pid,) = _ready_pids(server)
    stop = threading.Event()
    results = {}
    traffic = threading.Thread(target=lambda: results.update(tally=run_load(
        server.inference_port, f"/predictions/{MODEL}", mixed_plan(VALID, 100_000), 8, stop=stop)))
    traffic.start()
    try:
        time.sleep(2.0)  # traffic in full flow
        killed_at = time.monotonic()
        os.kill(old_pid, signal.SIGKILL)
        deadline = killed_at + 120
        while not (pids := _ready_pids(server)) or pids == [old_pid]:
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.2)
        recovered_at = time.monotonic()
        time.sleep(2.0)  # traffic on the new worker
    finally:
        stop.set()
        traffic.join()
    tally = results["tally"]
    lost = {k: v for k, v in tally.outcomes.items() if k != "ok"}
    after = [o for t, o in tally.events if t > recovered_at + 0.5]
    print("WORKER_FAILURE", json.dumps({
        "requests": sum(tally.outcomes.values()), "lost": lost, "lost_samples": tally.samples,
        "recovery_s": round(recovered_at - killed_at, 2), "ok_after_recovery": after.count("ok"),
        "new_pid": pids, "old_pid": old_pid}))
    assert tally.outcomes["wrong"] == 0, tally.samples  # a lost request is never a wrong answer
    assert after and all(o == "ok" for o in after), tally.samples
    # After recovery, every valid fixture payload gets its target answer.
    check = run_load(server.inference_port, f"/predictions/{MODEL}", VALID, 4)
    assert check.outcomes == {"ok": len(VALID)}, check.samples
