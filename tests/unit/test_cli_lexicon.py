"""`crisis-triage lexicon list | test | validate` through Typer's test runner."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.lexicon import DEFAULT_LEXICON_PATH

runner = CliRunner()


def site_copy(tmp_path: Path, **changes: object) -> Path:
    """A site's edited copy of the bundled lexicon."""
    document = yaml.safe_load(DEFAULT_LEXICON_PATH.read_text(encoding="utf-8"))
    document.update(changes)
    path = tmp_path / "site_lexicon.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_list_shows_entries_with_version_and_hash() -> None:
    result = runner.invoke(app, ["lexicon", "list"])
    assert result.exit_code == 0, result.output
    assert "lexicon 2." in result.output and "sha256" in result.output
    assert "si-suicide" in result.output and "dv-abusive" in result.output


def test_list_filters_by_category_and_lists_rules() -> None:
    result = runner.invoke(app, ["lexicon", "list", "--category", "hi"])
    assert result.exit_code == 0
    assert "hi-homicidal" in result.output and "si-suicide" not in result.output
    rules = runner.invoke(app, ["lexicon", "list", "--rules"])
    assert rules.exit_code == 0
    assert "neg-denial" in rules.output and "annotate" in rules.output
    full = runner.invoke(app, ["lexicon", "list", "--rules", "--full"], env={"COLUMNS": "300"})
    assert "{{third}}" in full.output  # patterns as written, macros unexpanded


def test_list_refuses_an_unknown_category() -> None:
    result = runner.invoke(app, ["lexicon", "list", "--category", "XX"])
    assert result.exit_code == 2
    assert "unknown category 'XX'" in result.stderr


def test_test_shows_active_and_suppressed_hits() -> None:
    result = runner.invoke(app, ["lexicon", "test", "I'm not suicidal but I want to die"])
    assert result.exit_code == 0, result.output
    assert "suppressed by neg-denial" in result.output and "(negation)" in result.output
    assert "active" in result.output
    assert "categories: SI" in result.output


def test_test_reports_no_hits_and_reads_stdin() -> None:
    assert "no lexicon terms found" in runner.invoke(app, ["lexicon", "test", "hello"]).output
    piped = runner.invoke(app, ["lexicon", "test", "-"], input="he hits me every night\n")
    assert piped.exit_code == 0
    assert "dv-violence-at-me" in piped.output and "categories: DV" in piped.output


def test_test_without_a_message_checks_the_examples() -> None:
    result = runner.invoke(app, ["lexicon", "test"])
    assert result.exit_code == 0
    assert "examples hold" in result.output


def test_validate_summarises_a_good_file() -> None:
    result = runner.invoke(app, ["lexicon", "validate"])
    assert result.exit_code == 0, result.output
    assert "entries (SI" in result.output and "context rules" in result.output
    assert "ok: all" in result.output


def test_validate_accepts_a_site_copy_by_argument_option_or_environment(tmp_path: Path) -> None:
    path = site_copy(tmp_path, version="site-2")
    for args, env in [
        (["lexicon", "validate", str(path)], {}),
        (["lexicon", "validate", "--path", str(path)], {}),
        (["lexicon", "validate"], {"CRISIS_TRIAGE_LEXICON": str(path)}),
    ]:
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
        assert "lexicon site-2 from" in result.output


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"version": ""}, "non-empty string 'version'"),
        (
            {"entries": [{"id": "x", "category": "SI", "pattern": "(bad", "rationale": "r"}]},
            "is not a valid regex",
        ),
        ({"entries": [{"id": "x", "category": "ZZ", "pattern": "a", "rationale": "r"}]}, "ZZ"),
    ],
)
def test_validate_fails_with_the_lexicon_error_and_no_traceback(
    tmp_path: Path, edit: dict[str, object], message: str
) -> None:
    result = runner.invoke(app, ["lexicon", "validate", str(site_copy(tmp_path, **edit))])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output + result.stderr
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_validate_fails_when_an_example_no_longer_holds(tmp_path: Path) -> None:
    document = yaml.safe_load(DEFAULT_LEXICON_PATH.read_text(encoding="utf-8"))
    document["entries"][0]["examples"].append("i had a lovely day")
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = runner.invoke(app, ["lexicon", "validate", str(path)])
    assert result.exit_code == 1
    assert "no active hit in example 'i had a lovely day'" in result.stderr


@pytest.mark.parametrize("command", ["list", "test", "validate"])
def test_missing_or_unreadable_files_are_clear_errors(tmp_path: Path, command: str) -> None:
    result = runner.invoke(app, ["lexicon", command, "--path", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 1
    assert "cannot read lexicon file" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [oops", encoding="utf-8")
    result = runner.invoke(app, ["lexicon", command, "--path", str(bad)])
    assert result.exit_code == 1
    assert "is not valid YAML" in result.stderr
