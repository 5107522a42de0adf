"""A TorchServe handler that does nothing: the server's own overhead, for the benchmark.

Answers every request of a batch with a fixed small JSON body, without reading it.
"""

from __future__ import annotations

from typing import Any

_BODY = b'{"status_code": 200}'


def handle(data: list[dict[str, Any]] | None, context: Any) -> list[bytes] | None:
    """One fixed response per request of the batch (``data`` is None at initialisation)."""
    if data is None:
        return None
    return [_BODY] * len(data)
