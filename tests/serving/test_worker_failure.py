"""Worker failure: a worker killed mid-traffic is restarted and answers correctly afterwards.

Clients keep sending valid rgcn_nc payloads while the model's only worker gets SIGKILL (once
answers flow). TorchServe answers the requests of the lost batch itself (HTTP 5xx, not an
envelope), starts a new worker, and the requests sent after recovery must all match ``target/``.
Each stage waits for what it needs (answers, a READY worker), never a fixed time. The test prints
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
from tests.serving.load import Tally, fixture_request, mixed_plan, run_load
from tests.serving.torchserve_process import SLOW_CALL_S, serving

pytestmark = pytest.mark.torchserve

MODEL = "rgcn_nc"
VALID = [fixture_request(c) for c in load_cases(MODEL) if c.kind == "valid"]
# Answers that show traffic in full flow (before the kill) and on the new worker (after it).
ANSWERS = 16
WAIT_S = 300  # for each stage; a loaded machine is slow, never wrong


@pytest.fixture(scope="module")
def server(tmp_path_factory, mar_builder):
    store = tmp_path_factory.mktemp("store")
    mar_builder(MODEL, store, flags=("--batch-size", "8", "--max-batch-delay", "5"))
    with serving(tmp_path_factory.mktemp("ts"), store, {MODEL: f"{MODEL}.mar"}) as ts:
        yield ts


def _ready_pids(ts) -> list[int]:
    resp = ts.management("GET", f"/models/{MODEL}")
    return [w["pid"] for m in resp.json() for w in m["workers"] if w["status"] == "READY"]


def _wait_until(condition, what: str, ts) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"{what} after {WAIT_S} s\n{ts.logs()}"
        time.sleep(0.1)


def _sent_after(tally: Tally, moment: float) -> list[str]:
    """Outcomes of the answered requests that were sent after ``moment``."""
    with tally.lock:
        return [outcome for sent, _, outcome in tally.events if sent > moment]


def test_killed_worker_is_restarted_and_answers_correctly(server):
    (old_pid,) = _ready_pids(server)
    stop = threading.Event()
    tally = Tally()
    traffic = threading.Thread(target=run_load, args=(
        server.inference_port, f"/predictions/{MODEL}", mixed_plan(VALID, 100_000), 8),
        kwargs={"stop": stop, "timeout_s": SLOW_CALL_S, "tally": tally})
    traffic.start()
    try:
        _wait_until(lambda: tally.outcomes["ok"] >= ANSWERS, "no traffic", server)
        killed_at = time.monotonic()
        os.kill(old_pid, signal.SIGKILL)
        _wait_until(lambda: (pids := _ready_pids(server)) and pids != [old_pid], "no new worker", server)
        recovered_at = time.monotonic()
        pids = _ready_pids(server)
        # Requests sent once the new worker is READY were never in the lost batch.
        _wait_until(lambda: len(_sent_after(tally, recovered_at)) >= ANSWERS, "no answers after recovery", server)
    finally:
        stop.set()
        traffic.join()
    lost = {k: v for k, v in tally.outcomes.items() if k != "ok"}
    after = _sent_after(tally, recovered_at)
    print("WORKER_FAILURE", json.dumps({
        "requests": sum(tally.outcomes.values()), "lost": lost, "lost_samples": tally.samples,
        "recovery_s": round(recovered_at - killed_at, 2), "ok_after_recovery": after.count("ok"),
        "new_pid": pids, "old_pid": old_pid}))
    assert tally.outcomes["wrong"] == 0, tally.samples  # a lost request is never a wrong answer
    assert after and all(o == "ok" for o in after), tally.samples
    # After recovery, every valid fixture payload gets its target answer.
    check = run_load(server.inference_port, f"/predictions/{MODEL}", VALID, 4, timeout_s=SLOW_CALL_S)
    assert check.outcomes == {"ok": len(VALID)}, check.samples
