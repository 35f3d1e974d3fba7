"""Imports flow one way (text -> lexicon -> detector -> ... -> cli); nothing imports cli.

Inside a subpackage no two modules import each other, at module level or inside functions.
"""

from __future__ import annotations

import ast
import importlib
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
    {"governance"},
    {"triage", "care", "accounts"},
    {"integrations", "monitoring", "registry"},
    {"service"},
    {"web"},
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
# Packages of one layer may use each other, but one way only: the queue needs neither its
# after-care nor the accounts that log people in.
ONE_WAY = {"triage": {"care", "accounts"}}


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
        assert target not in ONE_WAY.get(own, set()), f"{own} must not import {target}"


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node that runs: ``if TYPE_CHECKING:`` bodies are annotations, not imports."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _sibling_imports(module: Path, root: Path = PACKAGE) -> set[str]:
    """Modules of ``module``'s own subpackage that it imports (``__init__`` for the face)."""
    package = module.parent
    siblings = {p.stem for p in package.glob("*.py")}
    dotted = ".".join(("crisis_triage", *package.relative_to(root).parts))
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(module.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 1:
                base = f"{dotted}.{base}" if base else dotted
            elif node.level > 1:
                continue
            targets = [f"{base}.{alias.name}" for alias in node.names]
            if base != dotted:
                targets = [base]
        for target in targets:
            if target == dotted:
                found.add("__init__")
            elif target.startswith(dotted + "."):
                name = target.removeprefix(dotted + ".").split(".")[0]
                found.add(name if name in siblings else "__init__")
    return found - {module.stem}


def _subpackages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.rglob("__init__.py"))


@pytest.mark.parametrize("package", _subpackages(), ids=lambda p: p.name)
def test_no_two_modules_of_a_subpackage_import_each_other(package: Path) -> None:
    imports = {m.stem: _sibling_imports(m) for m in package.glob("*.py")}
    mutual = sorted(
        f"{a} <-> {b}"
        for a, targets in imports.items()
        for b in targets
        if a < b and a in imports.get(b, set())
    )
    assert not mutual, f"{package.name}: modules import each other: {mutual}"


def test_the_mutual_import_check_sees_function_level_imports(tmp_path: Path) -> None:
    package = PACKAGE / "lexicon"
    module = package / "_lexicon.py"
    assert "_term_list" in _sibling_imports(module)
    probe = tmp_path / "crisis_triage" / "probe"
    probe.mkdir(parents=True)
    (probe / "_a.py").write_text("def f():\n    from crisis_triage.probe._b import g\n")
    (probe / "_b.py").write_text("from . import _a\nif TYPE_CHECKING:\n    from ._c import C\n")
    (probe / "_c.py").write_text("")
    assert _sibling_imports(probe / "_a.py", tmp_path / "crisis_triage") == {"_b"}
    assert _sibling_imports(probe / "_b.py", tmp_path / "crisis_triage") == {"_a"}


@pytest.mark.parametrize("domain", ["accounts", "governance"])
def test_the_queue_face_does_not_re_export_another_domain(domain: str) -> None:
    queue = importlib.import_module("crisis_triage.triage")
    other = importlib.import_module(f"crisis_triage.{domain}")
    assert sorted(other.__all__) == sorted(set(other.__all__))
    assert set(other.__all__) <= set(dir(other)), f"{domain}.__all__ names what it lacks"
    shared = set(queue.__all__) & set(other.__all__)
    assert not shared, f"triage re-exports {domain}'s {sorted(shared)}"
