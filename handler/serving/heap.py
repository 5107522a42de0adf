"""The worker's C heap between requests: freed memory kept for the next request.

numpy's and torch's buffers come from glibc's malloc. glibc returns the free top of its heap to
the kernel once it is larger than the trim threshold, and serves a block over the mmap threshold
with a mapping of its own, unmapped when freed; both thresholds follow the largest block freed
so far. A worker answering payloads of a few thousand nodes still pays for fresh pages on about
a third of its requests (100-500 page faults each, 0.3-0.9 ms on ``rgcn_nc/v06``'s 2,920
nodes), pages the request before had just given back (docs/performance.md, round 2, ninth
session). Fixed thresholds keep up to ``retain_mb`` of freed heap for the next request and
serve every block under ``MMAP_THRESHOLD_BYTES`` from the heap. The price: a worker's RSS keeps
its largest recent request's working set (at most ``retain_mb`` more than glibc would keep).
"""

from __future__ import annotations

import ctypes
import logging

logger = logging.getLogger(__name__)

# mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc's ceiling for its own adaptive mmap threshold on 64-bit systems: blocks at least this
# large (a request far over the payload sizes served in milliseconds) still get mappings.
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024


def retain_freed_heap(retain_mb: int) -> bool:
    """Makes glibc keep up to ``retain_mb`` MiB of freed heap for the process's next allocations.

    Process-wide and for the process's life: servers call it once per worker (the TorchServe
    handler's ``initialize``, from the ``heap_retain_mb`` option).

    Args:
        retain_mb: MiB of free heap top kept (0: leave glibc's adaptive policy as it is).

    Returns:
        Whether glibc took the setting (False: ``retain_mb`` 0, or a C library without glibc's
        ``mallopt``, e.g. macOS or musl, whose allocator keeps its own policy).
    """
    if retain_mb <= 0:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # The mmap threshold first: setting either one turns glibc's adaptation of both off.
    taken = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1 and mallopt(M_TRIM_THRESHOLD, retain_mb << 20) == 1
    if not taken:
        logger.info("heap_retain_mb=%d: this C library's malloc keeps its own policy", retain_mb)
    return taken
