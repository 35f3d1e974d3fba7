"""One run of the triage queue as a SimPy discrete-event simulation.

Messages arrive at their drawn times and wait in one queue.  Specialists on shift take the next
message (first come first served, or flagged messages first when the detector is on), spend its
handling time on it, and take the next; a specialist whose shift ends finishes the message in
hand and leaves.  The time a specialist opens a message is its triage time.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from crisis_triage.simulation._inputs import Rota

DAY = 24 * 60.0
# Time after the study period for the queue to drain, so late arrivals are triaged too.
DRAIN_DAYS = 7


@dataclass(frozen=True)
class QueueRun:
    """When each message was opened, in minutes from the start (NaN: still waiting when the
    run ended)."""

    opened: np.ndarray


def _next_shift_start(rota: Rota, seat: int, now: float) -> float | None:
    """When seat ``seat`` is next on shift, from ``now`` (None: never in this rota)."""
    hour = int(now // 60)
    for ahead in range(1, 25):
        if seat < rota.on_shift[(hour + ahead) % 24]:
            return (hour + ahead) * 60.0
    return None


def simulate_queue(
    arrivals: np.ndarray,
    priority: np.ndarray,
    handling: np.ndarray,
    rota: Rota,
    *,
    days: int,
    joins: np.ndarray | None = None,
) -> QueueRun:
    """Run the queue; ``priority`` 0 is taken before 1, ties by arrival (FCFS: all 1).
    ``joins``: when each message becomes visible to specialists (default: on arrival; an
    alert's response delay makes it later)."""
    env = simpy.Environment()
    queue = simpy.PriorityStore(env)
    opened = np.full(arrivals.size, np.nan)
    waiting_for_work: dict[int, simpy.Process] = {}
    seats: dict[int, simpy.Process] = {}

    def arrive() -> Generator[Any, Any, None]:
        visible = arrivals if joins is None else joins
        for index in np.argsort(visible, kind="stable").tolist():
            at = float(visible[index])
            if at > env.now:
                yield env.timeout(at - env.now)
            queue.put(simpy.PriorityItem((int(priority[index]), float(arrivals[index])), index))

    def end_shifts() -> Generator[Any, Any, None]:
        """At each hour, send home the idle specialists whose shift ends (the busy ones go
        when they finish the message in hand)."""
        while True:
            yield env.timeout(60.0 - env.now % 60.0)
            staffed = rota.on_shift[int(env.now // 60) % 24]
            for seat, process in list(waiting_for_work.items()):
                if seat >= staffed:
                    process.interrupt()

    def specialist(seat: int) -> Generator[Any, Any, None]:
        while True:
            now = env.now
            if seat >= rota.on_shift[int(now // 60) % 24]:
                start = _next_shift_start(rota, seat, now)
                if start is None:
                    return
                yield env.timeout(start - now)
                continue
            take = queue.get()
            waiting_for_work[seat] = seats[seat]
            try:
                item = yield take
            except simpy.Interrupt:
                if take.triggered:  # handed a message in the same instant: put it back
                    queue.put(take.value)
                else:
                    take.cancel()
                continue
            finally:
                waiting_for_work.pop(seat, None)
            index = item.item
            opened[index] = env.now
            yield env.timeout(float(handling[index]))

    env.process(arrive())
    env.process(end_shifts())
    for seat in range(max(rota.on_shift)):
        seats[seat] = env.process(specialist(seat))
    env.run(until=(days + DRAIN_DAYS) * DAY)
    return QueueRun(opened)
