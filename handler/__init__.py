"""gs-torchserve core: GraphStorm real-time node prediction without TorchServe dependencies.

``RealtimePredictor`` (``handler.predictor``) is the entry point. DGL picks its tensor backend
when first imported, so the backend is fixed here, before any submodule imports DGL.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DGLBACKEND", "pytorch")

__all__ = ["RealtimePredictor"]


def __getattr__(name: str) -> Any:
    # Lazy, so that light submodules (errors, envelope, config) import without torch/DGL.
    if name == "RealtimePredictor":
        from handler.predictor import RealtimePredictor

        return RealtimePredictor
    raise AttributeError(f"module 'handler' has no attribute {name!r}")
