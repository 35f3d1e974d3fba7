"""Checks every way in applies to what a sender sent, before ``ingest`` (JSON API, FHIR, SMS).

They raise ``ValueError`` with a short reason that names no part of the value, so that callers
can put the reason in an error body.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# How far ahead of our clock a sender's clock may run before its "sent" time is refused.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def storable_text(value: str) -> str:
    """Refuse what no database can store: NUL characters and lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no lone surrogates)") from None
    return value


def sent_at_in_utc(value: datetime) -> datetime:
    """``value`` (time-zone aware) in UTC; refused when it lies in the future."""
    if value.tzinfo is None:
        raise ValueError("must have a time zone")
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ValueError("is out of range") from None
    if in_utc - datetime.now(UTC) > MAX_CLOCK_SKEW:
        raise ValueError("must not be in the future")
    return in_utc
