"""Imports flow one way (text -> lexicon -> detector -> ... -> cli); nothing imports cli."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "crisis_triage"
# Lower layers may not import higher ones; 'io' sits with 'text' at the bottom.
LAYERS = [
    {"text", "io"},
    {"lexicon"},
    {"detector"},
    {"training"},
    {"evaluation", "simulation", "spark"},
    {"storage"},
    {"triage", "care"},
    {"integrations", "monitoring", "registry"},
    {"service"},
    {"web"},
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _imported_subpackages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "crisis_triage" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_subpackage_has_a_layer() -> None:
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert subpackages <= set(RANK), f"add {subpackages - set(RANK)} to LAYERS"


@pytest.mark.parametrize("module", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.name))
def test_imports_flow_downwards(module: Path) -> None:
    relative = module.relative_to(PACKAGE).parts
    if len(relative) == 1:
        return
    own = relative[0]
    for target in _imported_subpackages(module) - {own}:
        assert target in RANK, f"{module} imports unknown subpackage {target}"
        assert RANK[target] <= RANK[own], f"{own} must not import {target}"
        # The API (service) and the dashboard (web, built on the service) are entry points.
        allowed = {"cli": {"cli"}, "service": {"web", "cli"}, "web": {"cli"}}
        assert own in allowed.get(target, {own}), f"{own} must not import {target}"
