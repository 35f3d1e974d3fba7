"""Follow-up and caring-contact times: UTC, wall-clock days in the site's zone, never a local
time that a daylight-saving change skipped; the schedule setting's grammar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crisis_triage.care import caring_contact_times, exists_locally, follow_up_times
from crisis_triage.triage import SettingError, TriagePolicy, parse_follow_up_schedule

NEW_YORK = ZoneInfo("America/New_York")  # 2027: clocks go forward 14 March, back 7 November


def _local(value: datetime) -> datetime:
    return value.astimezone(NEW_YORK).replace(tzinfo=None)


def test_the_default_schedule_is_24h_72h_7d_30d() -> None:
    assert TriagePolicy().follow_up_schedule == ("24h", "72h", "7d", "30d")


def test_hours_are_elapsed_time_and_days_keep_the_local_time_across_a_change() -> None:
    resolved = datetime(2027, 3, 10, 10, 0, tzinfo=NEW_YORK)  # EST, four days before the change
    times = dict(follow_up_times(resolved, ("24h", "7d"), "America/New_York"))
    assert times["24h"] - resolved == timedelta(hours=24)
    assert _local(times["7d"]) == datetime(2027, 3, 17, 10, 0)  # 10:00 EDT the next week
    assert times["7d"] - resolved == timedelta(days=7) - timedelta(hours=1)
    assert all(t.tzinfo is UTC for t in times.values())


def test_a_local_time_skipped_by_spring_forward_is_moved_past_the_gap() -> None:
    resolved = datetime(2027, 3, 7, 2, 30, tzinfo=NEW_YORK)
    [(_step, due)] = follow_up_times(resolved, ("7d",), "America/New_York")
    assert not exists_locally(datetime(2027, 3, 14, 2, 30), NEW_YORK)
    assert _local(due) == datetime(2027, 3, 14, 3, 30)
    assert exists_locally(_local(due), NEW_YORK)


def test_an_ambiguous_local_time_at_fall_back_is_its_first_occurrence() -> None:
    resolved = datetime(2027, 10, 31, 1, 30, tzinfo=NEW_YORK)  # EDT
    [(_step, due)] = follow_up_times(resolved, ("7d",), "America/New_York")
    assert due == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)  # 01:30 EDT, not 01:30 EST


def test_caring_contacts_weekly_for_a_month_then_monthly_to_a_year_outside_quiet_hours() -> None:
    opted_in = datetime(2027, 1, 5, 23, 15, tzinfo=NEW_YORK)  # inside quiet hours 21:00-09:00
    times = caring_contact_times(opted_in, "America/New_York")
    assert len(times) == 4 + 11
    assert times == sorted(times)
    locals_ = [_local(t) for t in times]
    assert all(9 <= t.hour < 21 for t in locals_)
    assert locals_[0] == datetime(2027, 1, 13, 9, 0)  # a week later, moved to 09:00 next day
    assert locals_[4].date() == datetime(2027, 3, 6).date()  # two months on, the next morning
    assert _local(times[-1]).date() == datetime(2028, 1, 6).date()
    assert all(exists_locally(t, NEW_YORK) for t in locals_)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("24h, 72h, 7d, 30d", ("24h", "72h", "7d", "30d")), ("4H;1d", ("4h", "1d"))],
)
def test_the_schedule_setting_parses(raw: str, expected: tuple[str, ...]) -> None:
    assert parse_follow_up_schedule(raw) == expected


@pytest.mark.parametrize("raw", ["", "tomorrow", "0h", "24", "400d", ",".join(["1d"] * 13)])
def test_a_bad_schedule_setting_is_refused(raw: str) -> None:
    with pytest.raises(SettingError):
        parse_follow_up_schedule(raw)
