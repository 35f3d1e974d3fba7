"""Per-category and third-party sensitivity: counting, combined types, Wilson intervals."""

from __future__ import annotations

import pytest

from crisis_triage.evaluation._categories import category_sensitivity, third_party_flags


def test_combined_types_count_for_each_category_and_only_crises_count() -> None:
    y = [1, 1, 1, 0, -1, 1]
    flagged = [True, False, True, True, True, True]
    types = ["SI/NSSI", "DV", "si", "DV", "DV", None]
    notes = ["", "3P mother hits her", None, "3P", "3P", "plain"]
    table = category_sensitivity(y, flagged, types, third_party_flags(notes))
    assert table["SI"]["k"] == 2 and table["SI"]["n"] == 2
    assert table["NSSI"] == table["NSSI"] | {"k": 1, "n": 1, "value": 1.0}
    assert table["DV"]["k"] == 0 and table["DV"]["n"] == 1  # the flagged DV rows are not crises
    assert table["third_party"]["n"] == 1 and table["third_party"]["value"] == 0.0
    assert "HI" not in table and "OD" not in table
    low, high = table["SI"]["ci95"]
    assert 0.3 < low < 1.0 and high == 1.0


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="same length"):
        category_sensitivity([1, 0], [True], ["SI", None])
