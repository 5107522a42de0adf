"""A small load generator for the reliability tests: keep-alive HTTP clients on threads.

Each request carries a check that returns None for a right answer or says what is wrong;
``run_load`` tallies outcomes (``ok``, ``wrong``: an envelope with a wrong answer,
``non_envelope``: any other response, ``connection``: no response) and latencies.
``WorkerWatch`` samples the model's worker pids and resident memory while load runs.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psutil

from handler.contract import envelope
from tests.compare import FixtureCase, assert_matches_target

FIELDS = ["status_code", "request_uid", "message", "error", "data"]
Check = Callable[[dict], str | None]


@dataclass(frozen=True)
class LoadRequest:
    """A request to send and how to judge its envelope."""

    name: str
    body: bytes
    content_type: str
    check: Check


def fixture_request(case: FixtureCase) -> LoadRequest:
    """A fixture case, judged by its ``target/`` rule."""
    def check(env: dict) -> str | None:
        try:
            assert_matches_target(case, env)
        except AssertionError as err:
            return f"{case.id}: {err}"
        return None
    return LoadRequest(case.id, case.body, case.content_type, check)


def expected_error(name: str, body: bytes, status: int, words: Sequence[str] = (),
                   content_type: str = "application/json", uid: str | None = None) -> LoadRequest:
    """An invalid request that must get ``status`` with an error containing ``words``."""
    want_uid = envelope.request_uid(body) if uid is None else uid

    def check(env: dict) -> str | None:
        if env["status_code"] != status or env["request_uid"] != want_uid or env["data"] != {}:
            return f"{name}: got {env['status_code']} {env['request_uid']!r}, want {status} {want_uid!r}"
        missing = [w for w in words if w not in env["error"]]
        return f"{name}: error {env['error']!r} lacks {missing}" if missing else None
    return LoadRequest(name, body, content_type, check)


@dataclass
class Tally:
    """Outcomes of a load run."""

    outcomes: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)  # the first few problems, for messages
    # (sent, answered, outcome) per request, times from time.monotonic()
    events: list[tuple[float, float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: str, status: int | None, ms: float, detail: str | None,
            sent: float | None = None) -> None:
        """Records one answered request (``sent``: its time.monotonic() start; default now)."""
        now = time.monotonic()
        with self.lock:
            self.outcomes[outcome] += 1
            if status is not None:
                self.statuses[status] += 1
            self.latencies_ms.append(ms)
            self.events.append((now if sent is None else sent, now, outcome))
            if detail and len(self.samples) < 5:
                self.samples.append(detail[:500])

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _send(conn: http.client.HTTPConnection, path: str, req: LoadRequest) -> tuple[int, bytes]:
    conn.request("POST", path, body=req.body, headers={"Content-Type": req.content_type})
    resp = conn.getresponse()
    return resp.status, resp.read()


def judge(status: int, body: bytes, req: LoadRequest) -> tuple[str, int | None, str | None]:
    """(outcome, envelope status, problem) of one HTTP response."""
    try:
        env = json.loads(body)
    except ValueError:
        return "non_envelope", None, f"{req.name}: HTTP {status}, body {body[:200]!r}"
    if status != 200 or not isinstance(env, dict) or list(env) != FIELDS:
        return "non_envelope", None, f"{req.name}: HTTP {status}, body {body[:200]!r}"
    problem = req.check(env)
    return ("wrong" if problem else "ok"), env["status_code"], problem


def run_load(port: int, path: str, plan: Sequence[LoadRequest], concurrency: int,
             stop: threading.Event | None = None, timeout_s: float = 60.0,
             tally: Tally | None = None) -> Tally:
    """Sends ``plan`` (in order, spread over ``concurrency`` keep-alive clients).

    Args:
        port: the inference port on 127.0.0.1.
        path: e.g. ``/predictions/NAME``.
        plan: the requests.
        concurrency: client threads.
        stop: when set, the clients stop early.
        timeout_s: socket timeout per request.
        tally: where to count (default: a new one); pass one to watch progress while it runs.

    Returns:
        The tally.
    """
    tally = Tally() if tally is None else tally
    cursor = iter(range(len(plan)))
    cursor_lock = threading.Lock()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
        while stop is None or not stop.is_set():
            with cursor_lock:
                i = next(cursor, None)
            if i is None:
                break
            req, start, sent = plan[i], time.perf_counter(), time.monotonic()
            try:
                status, body = _send(conn, path, req)
                outcome, env_status, detail = judge(status, body, req)
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
                outcome, env_status, detail = "connection", None, f"{req.name}: {err!r}"
            tally.add(outcome, env_status, (time.perf_counter() - start) * 1000, detail, sent)
        conn.close()

    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    return tally


def mixed_plan(pool: Sequence[LoadRequest], n: int, seed: int = 0) -> list[LoadRequest]:
    """``n`` requests drawn from ``pool`` (each item at least once when ``n`` allows)."""
    rng = random.Random(seed)
    plan = list(pool)[:n] + [rng.choice(pool) for _ in range(max(0, n - len(pool)))]
    rng.shuffle(plan)
    return plan


class WorkerWatch:
    """Samples the model's READY worker pids and their RSS every ``every_s`` seconds.

    Args:
        describe: returns the management API's ``GET /models/NAME`` JSON.
        every_s: sampling period.
    """

    def __init__(self, describe: Callable[[], list], every_s: float = 0.5) -> None:
        self.describe = describe
        self.every_s = every_s
        self.samples: list[tuple[float, dict[int, int]]] = []  # (time, pid -> rss bytes)
        self.pids_seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def worker_rss(self) -> dict[int, int]:
        """pid -> RSS (bytes) of the model's workers now."""
        rss = {}
        for model in self.describe():
            for worker in model.get("workers", []):
                pid = worker.get("pid")
                try:
                    rss[pid] = psutil.Process(pid).memory_info().rss
                except (psutil.Error, TypeError, ValueError):
                    continue
        return rss

    def _sample(self) -> None:
        try:
            sample = self.worker_rss()
        except (OSError, ValueError):
            sample = {}
        self.samples.append((time.monotonic(), sample))
        self.pids_seen.update(sample)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def __enter__(self) -> WorkerWatch:
        self._sample()  # the first and last samples never depend on the thread being scheduled
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
