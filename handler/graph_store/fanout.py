"""Fanouts as GraphStorm spells them, resolved per hop and relation.

``"10,10"`` (one count per layer for every relation), per relation
``"src/rel/dst:20@src/rel2/dst2:5,src/rel/dst:10@..."`` (``,`` between layers, ``@`` between
relations), ``-1`` / ``"full"`` (every in-edge), or a list of counts. DGL's sampler walks the
list reversed: hop 1 (next to the targets) uses the LAST layer's value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from handler.contract.names import CanonicalEtype

FULL = "full"
# Fanout per hop (hop 1 = next to the targets): relation -> count, -1 = every in-edge.
HopFanouts = list[dict[CanonicalEtype, int]]


class FanoutError(ValueError):
    """A fanout that does not fit the model (layer count, relation, number)."""


def parse_fanout(spec: Any, num_layers: int, etypes: Sequence[CanonicalEtype]) -> HopFanouts:
    """Resolves a fanout spec to counts per hop and relation.

    Args:
        spec: ``"full"``, ``-1``, ``"K1,K2"``, a per-relation string, or a list of counts.
        num_layers: the model's GNN layers (= hops).
        etypes: the model's relations.

    Returns:
        ``num_layers`` dicts, hop 1 first (the spec's last layer).

    Raises:
        FanoutError: a malformed spec, a layer count other than ``num_layers``, an unknown
            relation, or a count below -1.
    """
    if spec is None or spec == FULL or spec == -1 or spec == "-1":
        return [dict.fromkeys(etypes, -1) for _ in range(num_layers)]
    if isinstance(spec, int) and not isinstance(spec, bool):
        layers: list[Any] = [spec] * num_layers
    elif isinstance(spec, str):
        layers = [part.strip() for part in spec.split(",")]
    elif isinstance(spec, Sequence):
        layers = list(spec)
    else:
        raise FanoutError(f"fanout {spec!r} is not a count list or a per-relation string")
    if len(layers) != num_layers:
        raise FanoutError(f"fanout {spec!r} has {len(layers)} layer(s); the model has {num_layers}")
    per_layer = [_layer(value, etypes) for value in layers]
    return list(reversed(per_layer))


def _layer(value: Any, etypes: Sequence[CanonicalEtype]) -> dict[CanonicalEtype, int]:
    if isinstance(value, str) and ":" in value:
        counts = dict.fromkeys(etypes, 0)  # relations a per-relation layer leaves out: none
        known = {"/".join(et): et for et in etypes}
        for item in value.split("@"):
            name, _, count = item.strip().rpartition(":")
            if name not in known:
                raise FanoutError(f"fanout names relation {name!r}, which the model lacks")
            counts[known[name]] = _count(count)
        return counts
    return dict.fromkeys(etypes, _count(value))


def _count(value: Any) -> int:
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise FanoutError(f"fanout count {value!r} is not an integer") from None
    if isinstance(value, bool) or count < -1:
        raise FanoutError(f"fanout count {value!r} must be -1 (all) or >= 0")
    return count


def model_fanout(gsf: Mapping[str, Any]) -> Any:
    """The model's default fanout spec: ``eval_fanout`` when set, else ``fanout``, else full."""
    for option in ("eval_fanout", "fanout"):
        if gsf.get(option) not in (None, ""):
            return gsf[option]
    return FULL
