"""Settings an admin may change while the service runs, stored as overrides in the database.

The environment's settings (``CRISIS_TRIAGE_*``) are the defaults and build the base
``TriagePolicy``; a row in ``setting_overrides`` wins over them.  ``effective_policy`` is what the
service uses: it re-reads the overrides in its background worker and right after an admin saves,
so every process picks a change up within a worker interval.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.storage import SettingOverride, utcnow
from crisis_triage.triage._alerts import TriagePolicy
from crisis_triage.triage._errors import TriageError

MAX_ESCALATION_MINUTES = 24 * 60
MAX_AUTO_REPLY_LENGTH = 1000
MAX_FOLLOW_UP_STEPS = 12
# A follow-up step: whole hours ("24h", elapsed time) or calendar days ("7d") up to a year.
_STEP = re.compile(r"([1-9][0-9]{0,3})([hd])")
_STEP_LIMIT = {"h": 24 * 366, "d": 366}
_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")


class SettingError(TriageError):
    """A runtime setting value that is out of range, or a setting that cannot be changed."""

    code = "invalid_setting"


@dataclass(frozen=True)
class RuntimeSetting:
    """One setting an admin may change: its policy field, a label and a help text."""

    key: str
    label: str
    help: str

    def parse(self, raw: str) -> float | str | list[str] | None:
        """The value to store for what an admin typed; raises SettingError."""
        raw = raw.strip()
        if self.key == "escalation_minutes":
            try:
                minutes = float(raw)
            except ValueError:
                raise SettingError(f"{self.label}: enter a number of minutes") from None
            if not math.isfinite(minutes) or not 0 < minutes <= MAX_ESCALATION_MINUTES:
                raise SettingError(
                    f"{self.label}: more than 0 and at most {MAX_ESCALATION_MINUTES} minutes"
                )
            return minutes
        if self.key == "follow_up_schedule":
            return list(parse_follow_up_schedule(raw, label=self.label))
        if self.key == "site_timezone":
            return check_timezone(raw, label=self.label)
        if self.key == "risk_factors":
            return list(parse_codes(raw, label=self.label))
        if len(raw) > MAX_AUTO_REPLY_LENGTH:
            raise SettingError(f"{self.label}: at most {MAX_AUTO_REPLY_LENGTH} characters")
        return raw or None  # empty: no automatic reply


RUNTIME_SETTINGS: dict[str, RuntimeSetting] = {
    s.key: s
    for s in (
        RuntimeSetting(
            "escalation_minutes",
            "Escalation minutes",
            "an unacknowledged crisis escalates to supervisors after this many minutes",
        ),
        RuntimeSetting(
            "auto_reply_text",
            "Automatic reply text",
            "sent to the patient when a message is flagged; empty: no automatic reply",
        ),
        RuntimeSetting(
            "follow_up_schedule",
            "Follow-up schedule",
            "follow-ups scheduled when a crisis is resolved, e.g. 24h, 72h, 7d, 30d (h: hours "
            "later; d: days later at the same local time)",
        ),
        RuntimeSetting(
            "risk_factors",
            "Risk factors",
            "the checklist of a risk formulation: lower-case codes separated by commas",
        ),
        RuntimeSetting(
            "site_timezone",
            "Site time zone",
            "an IANA time zone (e.g. America/New_York): follow-up days and times shown",
        ),
    )
}


def parse_follow_up_schedule(raw: str, *, label: str = "schedule") -> tuple[str, ...]:
    """``"24h, 72h, 7d, 30d"`` -> ``("24h", "72h", "7d", "30d")``, or SettingError."""
    steps = [part.strip().lower() for part in raw.replace(";", ",").split(",") if part.strip()]
    if not steps or len(steps) > MAX_FOLLOW_UP_STEPS:
        raise SettingError(f"{label}: 1 to {MAX_FOLLOW_UP_STEPS} steps, e.g. 24h, 72h, 7d, 30d")
    for step in steps:
        match = _STEP.fullmatch(step)
        if match is None or int(match[1]) > _STEP_LIMIT[match[2]]:
            raise SettingError(
                f"{label}: each step is whole hours (24h) or days (7d), at most a year"
            )
    return tuple(steps)


def parse_codes(raw: str, *, label: str = "list") -> tuple[str, ...]:
    """``"plan, intent"`` -> ``("plan", "intent")``: 1 to 30 lower-case codes, or SettingError."""
    codes = list(dict.fromkeys(p.strip().lower() for p in raw.split(",") if p.strip()))
    if not codes or len(codes) > 30 or not all(_CODE.fullmatch(c) for c in codes):
        raise SettingError(f"{label}: 1 to 30 codes of a-z, 0-9 and _, separated by commas")
    return tuple(codes)


def check_timezone(raw: str, *, label: str = "time zone") -> str:
    """An IANA time zone name that this system knows, or SettingError."""
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError(f"{label}: not a known IANA time zone (e.g. Europe/Madrid)") from None
    return raw


def load_overrides(session: Session) -> dict[str, Any]:
    """The stored overrides of known settings (unknown keys are ignored)."""
    rows = session.scalars(select(SettingOverride))
    return {row.key: row.value for row in rows if row.key in RUNTIME_SETTINGS}


def apply_overrides(base: TriagePolicy, overrides: Mapping[str, Any]) -> TriagePolicy:
    """``base`` with the overridden fields replaced."""
    known: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in overrides.items()
        if k in RUNTIME_SETTINGS
    }
    return dataclasses.replace(base, **known) if known else base


def effective_policy(session: Session, base: TriagePolicy) -> TriagePolicy:
    return apply_overrides(base, load_overrides(session))


def save_overrides(
    session: Session,
    values: Mapping[str, str],
    *,
    user_id: int | None,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Parse and store what an admin entered; flushes, the caller commits (and audits).

    A value equal to its default in ``defaults`` (the environment's) is not stored unless an
    override exists already.  Returns ``{key: (old, new)}`` for the settings whose stored
    value changed.  Nothing is stored when any value is invalid (SettingError names the first
    bad one).
    """
    unknown = sorted(set(values) - set(RUNTIME_SETTINGS))
    if unknown:
        raise SettingError(f"these settings cannot be changed at runtime: {', '.join(unknown)}")
    parsed = {key: RUNTIME_SETTINGS[key].parse(raw) for key, raw in values.items()}
    current = {row.key: row for row in session.scalars(select(SettingOverride))}
    changed: dict[str, tuple[Any, Any]] = {}
    now = utcnow()
    for key, value in parsed.items():
        row = current.get(key)
        if row is None and defaults is not None and defaults.get(key) == value:
            continue
        if row is None:
            session.add(SettingOverride(key=key, value=value, updated_at=now, updated_by=user_id))
            changed[key] = (None, value)
        elif row.value != value:
            changed[key] = (row.value, value)
            row.value, row.updated_at, row.updated_by = value, now, user_id
    session.flush()
    return changed


def clear_override(session: Session, key: str) -> bool:
    """Go back to the environment's default for ``key``; flushes. True when one was stored."""
    row = session.get(SettingOverride, key)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
