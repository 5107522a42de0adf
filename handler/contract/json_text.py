"""JSON text read as the JSON path reads a request body: one parser for every JSON a request
carries (a JSON body; an Arrow body's ``gs_request`` metadata), so both mean the same values.

GraphStorm parses with Python's ``json``; orjson is tried first for speed. orjson refuses what
``json.loads`` accepts: the tokens NaN/Infinity and numbers beyond the double range (``1e999``
-> inf). Such texts are re-read with ``json`` so that such a value reaches the feature check
and gets the 411 naming its node and feature. Invalid UTF-8 and nesting deeper than the parsers
allow are 400s (``UnreadableBodyError``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

from handler.contract.errors import UnreadableBodyError


def read_json(text: bytes) -> Any:
    """Parses JSON text as Python's ``json`` module does (GraphStorm's parser), orjson first.

    Args:
        text: the JSON text's bytes (UTF-8, or the UTF-16/32 that ``json`` detects).

    Returns:
        The value.

    Raises:
        UnreadableBodyError: not JSON, not valid Unicode, or nested too deeply.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        # Strict decoding: json.loads(bytes) would let UTF-8-encoded surrogates through.
        decoded = text.decode(json.detect_encoding(text))
    except UnicodeDecodeError as exc:
        raise UnreadableBodyError(f"the body is not valid Unicode text ({exc})") from None
    try:
        return json.loads(decoded, parse_int=_parse_int)
    except RecursionError:
        raise UnreadableBodyError("the JSON text is nested too deeply") from None
    except ValueError as exc:
        raise UnreadableBodyError(str(exc)[:200]) from None


def _parse_int(text: str) -> int | float:
    """A JSON integer as orjson reads it: beyond the 64-bit range, a float (so both parsers
    give the same value, and every integer in an envelope is serializable); beyond the double
    range, an infinity (as ``1e999`` reads), which the feature checks answer with a 411."""
    value = int(text)
    if -(2**63) <= value < 2**64:
        return value
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf
