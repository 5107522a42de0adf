"""retain_freed_heap: a freed buffer's pages serve the next request (glibc), in a process of
its own (the setting is process-wide)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from handler.serving.heap import retain_freed_heap

# Allocates and frees the same 8 MiB numpy buffer (every page written) three times and prints
# the page faults of the last two rounds: with the heap kept, the pages of the first round
# serve the later ones. Under glibc's own policy the first 8 MiB block gets a mapping of its
# own, unmapped when freed (which raises the threshold), the second fresh heap pages.
_SCRIPT = """
import resource, sys
import numpy as np
from handler.serving.heap import retain_freed_heap
print(retain_freed_heap(int(sys.argv[1])))
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    buffer = np.ones(1 << 20)
    del buffer
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(faults[1], faults[2])
"""

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")


def _rounds(retain_mb: int) -> tuple[bool, int, int]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT, str(retain_mb)], capture_output=True, text=True,
                         check=True, timeout=120).stdout.split()
    return out[0] == "True", int(out[1]), int(out[2])


@glibc_only
def test_a_freed_buffer_keeps_its_pages_for_the_next_one():
    taken, second, third = _rounds(64)
    kept_policy, glibc_second, _ = _rounds(0)
    assert taken and not kept_policy
    # Fresh pages fault at least once each (huge pages: once per 2 MiB); kept ones never.
    assert second <= 16 and third <= 16
    assert glibc_second > second


def test_zero_keeps_the_c_library_policy():
    assert retain_freed_heap(0) is False
