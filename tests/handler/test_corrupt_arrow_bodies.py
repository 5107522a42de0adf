"""Corrupted Arrow request bodies (both formats): bytes changed at random, cut short or grown.
Every one must get an envelope with a client status or an answer, never a 5xx, and the process
must live (and a client reading a corrupted Arrow response gets an envelope or
``ArrowConversionError``): pyarrow trusts a stream's offsets and UTF-8 until told to validate, and reading a
bad offset aborted the worker (``Check failed ... Slice offset``) or crashed it (SIGSEGV) before
``read_arrow`` validated each batch in full. The requests run in a child process, so that a
crash fails this test instead of ending the test run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FIXTURES = ("rgcn_nc", "rgcn_nc_efeat", "hgt_er", "sage_homo_nc")
BODIES_PER_CASE = 400

CHILD = """
import json, random, sys
import orjson, torch
torch.set_num_threads(1)
from collections import Counter
from handler import RealtimePredictor
from handler.contract.arrow_payload import payload_to_arrow
from handler.contract.names import ARROW_STREAM_CONTENT_TYPE
from tests.compare import FIXTURES_DIR, artifacts_dir

fixture, count = sys.argv[1], int(sys.argv[2])
predictor = RealtimePredictor.from_artifacts(artifacts_dir(fixture))
doc = orjson.loads((FIXTURES_DIR / fixture / "payloads" / "v01_tiny.json").read_bytes())
statuses = {}
for version in (1, 2):
    body = payload_to_arrow(doc, version=version)
    rng = random.Random(f"{fixture}/{version}")
    seen = Counter()
    for _ in range(count):
        changed = bytearray(body)
        how = rng.random()
        if how < 0.8:  # 1-4 bytes set to random values
            for _ in range(rng.randint(1, 4)):
                changed[rng.randrange(len(changed))] = rng.randrange(256)
        elif how < 0.9:  # cut short
            del changed[rng.randrange(len(changed)):]
        else:  # random bytes inserted
            at = rng.randrange(len(changed))
            changed[at:at] = rng.randbytes(rng.randint(1, 16))
        outcome = predictor.answer([(bytes(changed), ARROW_STREAM_CONTENT_TYPE)])[0]
        seen[outcome.status_code] += 1
        if outcome.status_code >= 500:
            print("5xx:", outcome.body[:300], file=sys.stderr)
    statuses[version] = dict(seen)
# A client reading a corrupted Arrow response: an envelope or ArrowConversionError, nothing else.
from handler.contract.arrow_payload import ArrowConversionError
from handler.contract.arrow_response import arrow_response_to_envelope, envelope_to_arrow
arrow_response = envelope_to_arrow(predictor.answer([(orjson.dumps(doc), "application/json")])[0].envelope)
rng = random.Random(fixture)
read = Counter()
for _ in range(count):
    changed = bytearray(arrow_response)
    for _ in range(rng.randint(1, 4)):
        changed[rng.randrange(len(changed))] = rng.randrange(256)
    try:
        arrow_response_to_envelope(bytes(changed))
        read["envelope"] += 1
    except ArrowConversionError:
        read["refused"] += 1
statuses["response"] = dict(read)
print(json.dumps(statuses))
"""


@pytest.mark.parametrize("fixture", FIXTURES)
def test_corrupted_arrow_bodies_get_client_errors_and_the_process_lives(fixture: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", CHILD, fixture, str(BODIES_PER_CASE)], capture_output=True,
                          text=True, env=env, timeout=600, cwd=REPO)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    statuses = json.loads(done.stdout)
    assert sum(statuses.pop("response").values()) == BODIES_PER_CASE
    for version, seen in statuses.items():
        assert sum(seen.values()) == BODIES_PER_CASE, (version, seen)
        assert all(int(status) < 500 for status in seen), (version, seen, done.stderr[-2000:])
        assert seen.get("400", 0) > BODIES_PER_CASE // 2, (version, seen)  # most are not Arrow any more
