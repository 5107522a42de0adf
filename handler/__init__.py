"""gs-torchserve core: GraphStorm real-time prediction without TorchServe dependencies.

``RealtimePredictor`` (``handler.serving.predictor``) is the entry point.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RealtimePredictor"]


def __getattr__(name: str) -> Any:
    # Lazy, so that light submodules (errors, envelope, config, types) import without torch.
    if name == "RealtimePredictor":
        from handler.serving.predictor import RealtimePredictor

        return RealtimePredictor
    raise AttributeError(f"module 'handler' has no attribute {name!r}")
