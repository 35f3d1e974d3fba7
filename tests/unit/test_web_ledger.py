"""The queue's memory of which previews each login's page has shown (and so audited)."""

from __future__ import annotations

from crisis_triage.web._ledger import PreviewLedger


def test_a_refresh_reports_only_what_the_page_has_not_shown() -> None:
    ledger = PreviewLedger()
    ledger.start("login-a", [1, 2])
    assert ledger.new("login-a", [1, 2, 3]) == [3]
    assert ledger.new("login-a", [3, 2, 1]) == []
    assert ledger.new("login-b", [1, 2]) == [1, 2]  # another login has seen nothing
    ledger.start("login-a", [5])  # a page load starts afresh
    assert ledger.new("login-a", [1, 5]) == [1]


def test_memory_is_bounded_and_forgetting_means_auditing_again() -> None:
    ledger = PreviewLedger(max_logins=2, max_cases=3)
    ledger.start("a", [1])
    ledger.start("b", [1])
    ledger.start("c", [1])  # "a" is forgotten
    assert ledger.new("a", [1]) == [1]
    assert ledger.new("b", [2, 3, 4, 5]) == [2, 3, 4, 5]
    assert ledger.new("b", [1, 5]) == [1]  # kept the newest three: 3, 4, 5
