"""The texts that stand for patient messages and notes in the tests: none may reach a log.

``phi_texts()`` gathers them from the test sources without running anything: string values
given as ``text=``/``note=``/``texts=`` (keywords or dict keys), string arguments of the
helpers that send messages (``message``, ``_send``, ``IncomingMessage``, ``phi_text``), and
every string inside constants named like ``TEXT``, ``TEXTS``, ``*_TEXT``, ``POSITIVES``,
``NEGATIVES`` or ``MESSAGES`` (the synthetic corpus).  A test that builds a text at run time
wraps it in ``phi_text(...)`` to add it.  Texts shorter than ``MIN_LENGTH`` are skipped: they
are too likely to be ordinary words in a log line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent
MIN_LENGTH = 12
_FIELDS = {"text", "note", "texts", "notes"}
_SENDERS = {"message", "_send", "IncomingMessage", "phi_text"}
_CONSTANT = re.compile(r"^([A-Z0-9_]*_)?(TEXTS?|NOTES?|POSITIVES|NEGATIVES|MESSAGES)$")
_registered: set[str] = set()


def phi_text(text: str) -> str:
    """Mark ``text`` (built at run time) as patient text that no log may contain."""
    _registered.add(text)
    return text


def _strings(node: ast.AST | None) -> set[str]:
    if node is None:
        return set()
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def texts_in_source(source: str) -> set[str]:
    """The patient-like texts one test module spells out (see the module docstring)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in _FIELDS:
                    found |= _strings(keyword.value)
            if _call_name(node) in _SENDERS:
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add(arg.value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in _FIELDS:
                    found |= _strings(value)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and _CONSTANT.match(t.id) for t in targets):
                found |= _strings(node.value)
    return found


def phi_texts(tests_dir: Path = TESTS_DIR) -> set[str]:
    """Every patient-like text of the test suite worth looking for in a log."""
    found = set(_registered)
    for path in sorted(tests_dir.rglob("*.py")):
        found |= texts_in_source(path.read_text(encoding="utf-8"))
    return {text.strip() for text in found if len(text.strip()) >= MIN_LENGTH}
