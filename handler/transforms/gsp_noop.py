"""GSProcessing's ``no-op``: GConstruct's no-op numerics (numbers and number lists as they are,
strings split at ``separator``, ``truncate_dim`` keeps the first values), with JSON null a
missing value that no imputer fills (a client error naming the row)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from handler.transforms.base import FeatureValueError
from handler.transforms.gsp_numerical import MISSING_WITHOUT_IMPUTER
from handler.transforms.noop import NoopTransform


class GSPNoopTransform(NoopTransform):
    """GSProcessing ``no-op`` (see the module docstring; arguments as ``NoopTransform``)."""

    def _transform(self, raw_values: Sequence[Any]) -> np.ndarray:
        for row, value in enumerate(raw_values):
            if value is None:
                raise FeatureValueError(row, MISSING_WITHOUT_IMPUTER)
        return super()._transform(raw_values)
