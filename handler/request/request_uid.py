"""A request's ``request_uid``, hashed beside its other stages.

GraphStorm's request id is the body's sha256 (``envelope.request_uid``): ~0.55 ns a byte, 20-90
us on the 40-160 KB bodies of a few hundred nodes, all of it before the request's other work
when computed in ``decode``. A body of ``BACKGROUND_HASH_BYTES`` or more is hashed on the C
extension's helper thread (``handler.native.start_sha256``), from ``decode`` until the answer's
envelope reads the id, while this thread parses, builds and runs the model; a smaller one (where
the hand-off costs about what the hash does), or any body without the extension, is hashed at
once. The id is the same either way.
"""

from __future__ import annotations

from typing import Any

from handler.contract.envelope import request_uid, uid_of_sha256
from handler.native import start_sha256

# Below ~48 KB (a 26 us hash) the hand-off (waking the helper on another core) costs about what
# the hash does: measured on 37 KB bodies (docs/performance.md, round 2, seventh session).
BACKGROUND_HASH_BYTES = 48 * 1024


class RequestUid:
    """The ``request_uid`` of one body (``text``), computed at most once."""

    __slots__ = ("_job", "_text")

    def __init__(self, text: str | None = None, job: Any = None) -> None:
        self._text, self._job = text, job

    @classmethod
    def of_body(cls, body: bytes) -> RequestUid:
        """The id of ``body``: started on the helper thread for a large body, else hashed now."""
        job = start_sha256(body) if len(body) >= BACKGROUND_HASH_BYTES else None
        return cls(job=job) if job is not None else cls(request_uid(body))

    @property
    def text(self) -> str:
        """The id (the last 16 hex digits of the body's sha256; waits for the helper thread)."""
        if self._text is None:
            self._text = uid_of_sha256(self._job.hexdigest())
            self._job = None
        return self._text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"RequestUid({self.text!r})"
