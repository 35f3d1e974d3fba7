"""A per-client limit on login attempts (in memory, per process).

The account lockout in ``triage.authenticate`` stops guessing one account's password; this
stops one address from trying many accounts, and from spending the server's CPU on argon2.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from fastapi import Request

# Past this many tracked addresses, those with no attempt inside the window are forgotten.
_MAX_TRACKED = 10_000


class SlidingWindowLimiter:
    """At most ``limit`` attempts per key in any ``window`` seconds."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def attempt(self, key: str) -> int | None:
        """Count an attempt by ``key``: None if allowed, else the seconds until one is."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= _MAX_TRACKED:
                    self._forget_idle(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, math.ceil(hits[0] + self.window - now))
            hits.append(now)
            return None

    def _forget_idle(self, now: float) -> None:
        idle = [
            key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self.window
        ]
        for key in idle:
            del self._hits[key]


def login_limiter(request: Request) -> SlidingWindowLimiter:
    """The app's login limiter (built by ``create_app``; the dashboard's login uses it too)."""
    limiter: SlidingWindowLimiter = request.app.state.login_limiter
    return limiter
