"""When things are due: follow-up steps and caring contacts, in UTC, safe across daylight saving.

Times are stored in UTC.  An hours step ("24h") is elapsed time, which always exists.  A days
step ("7d") and a month keep the local wall-clock time in the site's (or patient's) time zone;
a wall-clock time that the clock skips (spring forward) is read with the offset before the
change, as RFC 5545 (iCalendar) does, so 02:30 on that night becomes 03:30: never a time that
does not exist.  An ambiguous one (fall back) is its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

# Caring contacts: weekly through the first month, then monthly to twelve months (the
# schedule of the text-message Caring Contacts trials; see docs/care.md).
CARING_CONTACT_WEEKS = (1, 2, 3, 4)
CARING_CONTACT_MONTHS = tuple(range(2, 13))


def on_wall_clock(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive local time in ``zone`` (skipped times moved past the gap)."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def exists_locally(local: datetime, zone: ZoneInfo) -> bool:
    """Whether a naive local wall-clock time occurs in ``zone`` (not skipped by a change)."""
    return on_wall_clock(local, zone).astimezone(zone).replace(tzinfo=None) == local


def step_due(start: datetime, step: str, zone: ZoneInfo) -> datetime:
    """``start`` plus one schedule step ("24h" or "7d"), in UTC."""
    amount, unit = int(step[:-1]), step[-1]
    if unit == "h":
        return start.astimezone(UTC) + timedelta(hours=amount)
    local = start.astimezone(zone).replace(tzinfo=None)
    return on_wall_clock(local + timedelta(days=amount), zone)


def follow_up_times(
    start: datetime, schedule: tuple[str, ...], timezone: str
) -> list[tuple[str, datetime]]:
    """(step, due time in UTC) for each step of ``schedule`` after ``start``."""
    zone = ZoneInfo(timezone)
    return [(step, step_due(start, step, zone)) for step in schedule]


def outside_quiet_hours(due: datetime, zone: ZoneInfo, quiet: tuple[int, int]) -> datetime:
    """``due`` moved to the end of the quiet hours (local ``quiet[0]``:00 to ``quiet[1]``:00,
    possibly across midnight) when it falls inside them."""
    start_hour, end_hour = quiet
    local = due.astimezone(zone).replace(tzinfo=None)
    hour = local.hour
    inside = (
        start_hour <= hour < end_hour
        if start_hour < end_hour
        else hour >= start_hour or hour < end_hour
    )
    if not inside or start_hour == end_hour:
        return due
    day = local.date() if hour < end_hour else local.date() + timedelta(days=1)
    return on_wall_clock(datetime.combine(day, time(end_hour)), zone)


def caring_contact_times(
    start: datetime, timezone: str, *, quiet: tuple[int, int] = (21, 9)
) -> list[datetime]:
    """The caring contacts' due times after an opt-in at ``start``: weekly for four weeks,
    then monthly to twelve months, each outside the patient's quiet hours."""
    zone = ZoneInfo(timezone)
    local = start.astimezone(zone).replace(tzinfo=None)
    wall = [local + timedelta(weeks=w) for w in CARING_CONTACT_WEEKS]
    wall += [local + relativedelta(months=m) for m in CARING_CONTACT_MONTHS]
    return [outside_quiet_hours(on_wall_clock(w, zone), zone, quiet) for w in wall]
