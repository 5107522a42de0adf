"""The body's sha256 on the extension's helper thread (``body_hash.c``): the digest is hashlib's
for every size, from many threads at once, for jobs dropped unread, and across ``fork`` (a job
queued in the parent is hashed by the child that reads it; the child starts its own helper)."""

from __future__ import annotations

import gc
import hashlib
import os
import random
import sys
import threading

import pytest

from handler import native

pytestmark = pytest.mark.skipif(native.fastpath is None, reason="the C extension is not built (python setup.py "
                                "build_ext --inplace) or is switched off (GS_NATIVE=false)")


def _job(body: bytes):  # noqa: ANN202 (the extension's job type)
    job = native.start_sha256(body)
    assert job is not None, "no libcrypto SHA256 in this process"
    return job


@pytest.mark.parametrize("size", [0, 1, 55, 56, 64, 4095, 8192, 49151, 49152, 1 << 20])
def test_digest_is_hashlibs(size: int) -> None:
    body = random.Random(size).randbytes(size)
    assert _job(body).hexdigest() == hashlib.sha256(body).hexdigest()


def test_only_exact_bytes_are_hashed_on_the_helper() -> None:
    class Body(bytes):
        pass

    assert native.start_sha256(bytearray(b"x" * 100)) is None  # type: ignore[arg-type]
    assert native.start_sha256(Body(b"x" * 100)) is None


def test_many_jobs_in_flight_from_several_threads_and_dropped_unread() -> None:
    bodies = [random.Random(i).randbytes(1000 + 997 * i) for i in range(64)]
    wrong: list[int] = []

    def client(offset: int) -> None:
        jobs = [(i, _job(bodies[i])) for i in range(offset, len(bodies), 4)]
        for i, job in jobs[::-1]:
            if job.hexdigest() != hashlib.sha256(bodies[i]).hexdigest():
                wrong.append(i)
        for _ in range(50):  # started and dropped at once: the job waits for or leaves the helper
            _job(bodies[offset])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_a_job_keeps_its_body_until_hashed() -> None:
    body = bytes(random.Random(7).randbytes(300_000))
    before = sys.getrefcount(body)
    job = _job(body)
    assert sys.getrefcount(body) == before + 1
    expected = hashlib.sha256(body).hexdigest()
    del body
    gc.collect()
    assert job.hexdigest() == expected


def test_a_dropped_job_lets_its_body_go() -> None:
    body = bytes(random.Random(8).randbytes(300_000))
    before = sys.getrefcount(body)
    for _ in range(100):
        _job(body)  # dropped at once: queued, running or done
        job = _job(body)
        job.hexdigest()
        del job
    assert sys.getrefcount(body) == before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_jobs_survive_fork() -> None:
    bodies = [random.Random(100 + i).randbytes(2_000_000) for i in range(8)]
    jobs = [_job(b) for b in bodies]  # several still queued when the process forks
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no helper thread of its own yet
        ok = all(job.hexdigest() == hashlib.sha256(b).hexdigest() for job, b in zip(jobs, bodies, strict=True))
        fresh = random.Random(1).randbytes(100_000)
        ok = ok and _job(fresh).hexdigest() == hashlib.sha256(fresh).hexdigest()
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"1"
    assert all(job.hexdigest() == hashlib.sha256(b).hexdigest() for job, b in zip(jobs, bodies, strict=True))
