"""A node type's (relation's) model input rows from its feature columns in one C call.

``build`` transforms each feature of a type with one ``FeatureTransform.apply`` and then
concatenates the model's features: ~10-15 us of numpy calls per feature whatever the rows, most
of a small request's build. For a type that came as columns (JSON, Arrow and targets-only
requests), ``FeatureRows`` writes the transformed values of every feature the C knows
(``FeatureTransform.native_op``) straight into the float32 input rows with one
``handler.native.feature_rows`` call, and the other features' ``apply`` output into their
columns. Features the payload carries that the model does not read are transformed too
(checked, written nowhere), as ``build`` transforms them.

It answers only what ``build`` answers without an error, bit for bit: a type whose features
are not all there, a value the C does not take, a Python transform that raises or an output of
another width gives None, and ``build`` takes the type's Python path, which raises the error
(or answers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from handler.contract.errors import RealtimeError
from handler.native import RowsOp, feature_rows
from handler.request.grouping import TypeGroup
from handler.transforms import FeatureTransform

# A feature's transform and its expected output shape (None: unchecked): GraphBuilder's _Compiled.
Compiled = tuple[FeatureTransform, tuple[int, ...] | None]
# Distinct feature key sets remembered per type (payloads of one client carry one or two).
_MAX_LAYOUTS = 32


@dataclass(frozen=True)
class _Layout:
    """Where each feature of a key set goes in the rows.

    Attributes:
        model_width: the model input's columns.
        native: per C-computed feature ``(kind, name, offset, width, params)``.
        python: per Python-transformed feature ``(name, compiled, offset, width)``.
        An offset < 0: a feature the model does not read (its values are checked only).
    """

    model_width: int
    native: tuple[tuple[int, str, int, int, Any], ...]
    python: tuple[tuple[str, Compiled, int, int], ...]


class FeatureRows:
    """The model input rows of one node type (or relation) from its feature columns.

    Args:
        transforms: feature name -> its compiled transform, for every configured feature.
        model_features: the features the model reads, in its input order (empty: none, the
            features are only checked).
        model_width: the model input's width for the type (None: unchecked).
        all_required: every configured feature must be in the payload (edges: GraphStorm
            transforms all of them); else only the model's.
    """

    def __init__(self, transforms: Mapping[str, Compiled], model_features: Sequence[str],
                 model_width: int | None, all_required: bool) -> None:
        self.transforms = dict(transforms)
        self.model_features = tuple(model_features)
        self.model_width = model_width
        self.all_required = all_required
        # Each feature's C operation (None: its Python transform), asked once.
        self._ops = {name: compiled[0].native_op() for name, compiled in self.transforms.items()}
        self._layouts: dict[frozenset[str], _Layout | None] = {}

    @classmethod
    def plan(cls, transforms: Mapping[str, Compiled], model_features: Sequence[str],
             model_width: int | None, all_required: bool) -> FeatureRows | None:
        """A planner for the type, or None when none can serve it: a model feature without a
        transform, or a feature whose output width the config does not fix."""
        if any(name not in transforms for name in model_features):
            return None
        if any(dim is None or len(dim) != 1 for _, dim in transforms.values()):
            return None
        return cls(transforms, model_features, model_width, all_required)

    def in_c(self, name: str) -> bool:
        """Whether the rows compute feature ``name`` in C (``transform_batch`` leaves it to them)."""
        return self._ops.get(name) is not None

    def layout(self, keys: frozenset[str]) -> _Layout | None:
        """The layout for payloads carrying ``keys`` (None: ``build``'s Python path decides)."""
        if keys in self._layouts:
            return self._layouts[keys]
        found = self._layout(keys)
        if len(self._layouts) < _MAX_LAYOUTS:
            self._layouts[keys] = found
        return found

    def _layout(self, keys: frozenset[str]) -> _Layout | None:
        required = self.transforms if self.all_required else self.model_features
        if any(name not in keys for name in required):
            return None
        checked_only = [name for name in self.transforms if name in keys and name not in self.model_features]
        native, python = [], []
        offset = 0
        for name in (*self.model_features, *checked_only):
            compiled = self.transforms[name]
            assert compiled[1] is not None  # plan() takes fixed widths only
            width = compiled[1][0]
            at = offset if name in self.model_features else -1
            op = self._ops[name]
            if op is None:
                python.append((name, compiled, at, width))
            else:
                native.append((op[0], name, at, width, op[1]))
            if at >= 0:
                offset += width
        if self.model_width is not None and offset != self.model_width:
            return None  # the Python path names the width error
        return _Layout(model_width=offset, native=tuple(native), python=tuple(python))

    def rows(self, group: TypeGroup, where: str, id_word: str,
             apply: Callable[[Compiled, TypeGroup, str, str], Any]) -> np.ndarray | None:
        """The type's model input rows, or None (``build``'s Python path then transforms it).

        Args:
            group: the type's members, as columns.
            where, id_word: how ``apply``'s errors name the type and a member.
            apply: ``build``'s transform of one feature of a group (raises its error).

        Returns:
            float32 [members, model width] (width 0: the model reads no feature of the type).
        """
        columns = group.columns
        if columns is None or group.keys is None:
            return None
        layout = self.layout(group.keys)
        if layout is None:
            return None
        count = len(group.ids)
        out = np.empty((count, layout.model_width), dtype=np.float32)
        ops: list[RowsOp] = [(kind, columns[name], at, width, params)
                             for kind, name, at, width, params in layout.native]
        if ops and not feature_rows(out, ops):
            return None
        for _, compiled, at, width in layout.python:
            try:
                values = apply(compiled, group, where, id_word)
            except RealtimeError:
                return None  # the Python path raises it, after any error of an earlier feature
            if not isinstance(values, np.ndarray) or values.shape != (count, width):
                return None
            if at >= 0:
                out[:, at:at + width] = values
        return out
