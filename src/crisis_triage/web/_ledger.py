"""Which message previews each login's queue page has already shown (and audited).

The queue refreshes itself every few seconds; auditing all of its previews on every refresh
would flood the audit trail, auditing none would hide reads.  The server (not the page, which
could lie) remembers per login what it has shown, so a refresh audits exactly the previews that
are new to that page.  The memory is per process and bounded: a login served by another process,
or forgotten here, is audited again — more, never less.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable


class PreviewLedger:
    def __init__(self, max_logins: int = 2000, max_cases: int = 5000) -> None:
        self._shown: OrderedDict[str, set[int]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_logins = max_logins
        self.max_cases = max_cases

    def start(self, login: str, case_ids: Iterable[int]) -> None:
        """A full page load: it shows (and audits) these cases afresh."""
        with self._lock:
            self._shown[login] = set(case_ids)
            self._shown.move_to_end(login)
            while len(self._shown) > self.max_logins:
                self._shown.popitem(last=False)

    def new(self, login: str, case_ids: Iterable[int]) -> list[int]:
        """The cases among ``case_ids`` this login's page has not shown yet; marks them shown."""
        with self._lock:
            shown = self._shown.get(login)
            if shown is None:
                shown = self._shown[login] = set()
            self._shown.move_to_end(login)
            fresh = [c for c in case_ids if c not in shown]
            shown.update(fresh)
            if len(shown) > self.max_cases:  # keep the newest; older ones are audited again
                keep = sorted(shown)[-self.max_cases :]
                self._shown[login] = set(keep)
            while len(self._shown) > self.max_logins:
                self._shown.popitem(last=False)
            return fresh
