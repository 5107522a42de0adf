"""The layers of the code base and the imports each may make (docs/architecture.md, "Layers").

An ``ast`` walk over every module: each ``import`` / ``from ... import`` (top level or inside a
function: a lazy import is still a dependency) of one of our packages must be allowed for the
importing layer, and the torch-free layers must not import the heavy stack at all. The checker is
also run on small sources that break each rule, so the test fails when a rule stops biting.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# layer -> our layers it may import (itself always allowed).
ALLOWED: dict[str, frozenset[str]] = {
    "handler.contract": frozenset(),
    # The C happy path of request and transforms (issue 22): numpy and its switch's name only.
    "handler.native": frozenset({"handler.contract"}),
    "handler.graph_store": frozenset({"handler.contract"}),
    "handler.transforms": frozenset({"handler.contract", "handler.native"}),
    "handler.nn": frozenset({"handler.contract", "handler.transforms"}),
    "handler.request": frozenset({"handler.contract", "handler.native"}),
    "handler.inputs": frozenset({"handler.contract", "handler.native", "handler.request", "handler.transforms",
                                 "handler.nn"}),
    "handler.model": frozenset({"handler.contract", "handler.nn", "handler.transforms"}),
    "handler.serving": frozenset({"handler.contract", "handler.native", "handler.graph_store", "handler.request",
                                  "handler.inputs", "handler.model", "handler.nn", "handler.transforms"}),
    # The deploy tools run in a user's Python >= 3.9 with boto3 and pyyaml only.
    "sagemaker_deploy": frozenset({"handler.contract"}),
    "mar_builder": frozenset({"handler"}),
    "docker": frozenset({"handler", "mar_builder"}),
    "bench": frozenset({"handler", "mar_builder"}),
    "scripts": frozenset({"handler", "mar_builder", "bench"}),
}
OURS = ("handler", "mar_builder", "sagemaker_deploy", "bench", "tests", "docker", "scripts")
# Layers a light client installs without the serving stack: no torch, numpy or model libraries.
LIGHT = ("handler.contract", "handler.graph_store", "sagemaker_deploy")
HEAVY = ("torch", "numpy", "scipy", "transformers", "ts", "dgl", "graphstorm")


def layer_of(module: str) -> str:
    """The layer a dotted module name belongs to (``handler.request.parse`` -> ``handler.request``)."""
    parts = module.split(".")
    if parts[0] == "handler" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def imported_modules(source: str, module: str) -> list[str]:
    """Absolute names of every module ``source`` imports (relative imports resolved against ``module``)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                names.append(".".join([*base, node.module] if node.module else base))
            else:
                assert node.module is not None
                # `from handler import x` may import the package `handler.x`.
                names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(source: str, module: str) -> list[str]:
    """The imports of ``module`` that its layer forbids."""
    layer = layer_of(module)
    allowed = ALLOWED.get(layer)
    found = []
    for name in imported_modules(source, module):
        root = name.split(".")[0]
        if layer.startswith(LIGHT) and root in HEAVY:
            found.append(f"{module} imports {name} (the light layer {layer} must not need {root})")
        if root not in OURS or allowed is None:
            continue
        if root == "tests" or (name == "handler" or layer_of(name) == layer):
            if root == "tests":
                found.append(f"{module} imports {name} (only tests import tests)")
            continue
        if not any(_is_under(name, ok) or _is_under(layer_of(name), ok) for ok in allowed):
            found.append(f"{module} imports {name} ({layer} may import {sorted(allowed) or 'none of ours'})")
    return found


def _modules() -> list[tuple[str, Path]]:
    mods = []
    for top in ALLOWED:
        folder = REPO / top.split(".")[0]
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(REPO).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            if layer_of(name) == top:
                mods.append((name, path))
    return mods


def test_every_module_keeps_to_its_layer() -> None:
    modules = _modules()
    assert len(modules) > 60, "the walk found too few modules"
    found = [v for name, path in modules for v in violations(path.read_text(), name)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("handler.contract.names", "import torch"),
        ("handler.contract.names", "from handler.request.parse import RequestParser"),
        ("handler.graph_store.extract", "def f():\n    from handler.serving import predictor"),
        ("handler.graph_store.extract", "import numpy as np"),
        ("handler.request.parse", "from handler.inputs.graph_builder import GraphBuilder"),
        ("handler.model.graphstorm_model", "from handler.inputs import graph_builder"),
        ("handler.nn.rgcn", "from handler.model.graphstorm_model import restore_model"),
        ("sagemaker_deploy.deploy", "from handler.serving.predictor import RealtimePredictor"),
        ("bench.inprocess", "from tests.compare import VARIANTS"),
        ("scripts.gpu_parity", "import tests.compare"),
        ("handler.request.decode", "from ..inputs import graph_builder"),
        ("handler.native", "from handler.request import grouping"),
        ("handler.contract.names", "from handler import native"),
    ],
)
def test_a_forbidden_import_is_found(module: str, source: str) -> None:
    assert violations(source, module)


def test_allowed_imports_pass() -> None:
    assert not violations("from handler.contract.errors import RealtimeError\nimport yaml", "handler.request.parse")
    assert not violations("from handler.contract import names", "sagemaker_deploy.naming")
    assert not violations("import torch\nfrom handler.nn import rgcn", "handler.model.graphstorm_model")


def test_light_layers_import_without_the_heavy_stack() -> None:
    """Every module of the light layers imports in a Python where torch and numpy cannot load."""
    light = [name for name, _ in _modules() if name.startswith(LIGHT)]
    code = (
        "import sys, importlib\n"
        f"for blocked in {HEAVY!r}:\n"
        "    sys.modules[blocked] = None\n"
        f"for name in {light!r}:\n"
        "    importlib.import_module(name)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
