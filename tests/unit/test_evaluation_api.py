"""crisis_triage.evaluation's __all__ is its whole public API, and every name in it exists."""

from __future__ import annotations

import types

import crisis_triage.evaluation as evaluation


def test_all_is_complete_and_sorted() -> None:
    public = {
        name
        for name, value in vars(evaluation).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(evaluation.__all__) == public
    assert len(evaluation.__all__) == len(set(evaluation.__all__))


def test_importing_needs_no_optional_plotting_or_template_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, crisis_triage.evaluation; "
        "print(sorted({'matplotlib', 'jinja2', 'fairlearn'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
