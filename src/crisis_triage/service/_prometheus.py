"""Prometheus metrics: what the service counts, and the queue read from the database at scrape.

Counters and the histogram are built once per process (``instruments()``).  With several
worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` (an empty directory, the same for every
process, before they start): prometheus-client then keeps each process's values in files there
and ``GET /metrics`` adds them up, whichever process answers.  The queue gauges are read from
the database at each scrape, so they are the same from every process.

Labels hold codes only: the message channel (normalised; beyond ``COMMON_CHANNELS``, capped at
``MAX_CHANNELS`` distinct values per process), outcomes, priorities, paging channel kinds; never
patient data.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from crisis_triage.care import CareMeasures, care_measures, note_new_messages
from crisis_triage.detector import Scorer
from crisis_triage.triage import (
    SCORED,
    UNSUPPORTED,
    IncomingMessage,
    IngestResult,
    Tier,
    TriagePolicy,
    ingest,
    queue_snapshot,
)

log = logging.getLogger(__name__)
CARE_METRICS_DAYS = 30

PREFIX = "crisis_triage"
MAX_CHANNELS = 20
# Always labelled, outside the cap: the channels our own adapters set (fhir, sms) and the usual
# platform ones, so that odd codes seen first cannot push them into "other".
COMMON_CHANNELS = frozenset({"portal", "app", "web", "chat", "email", "sms", "fhir"})
_PRIORITY = {Tier.CRISIS: "crisis", Tier.REVIEW_NOW: "review_now", Tier.ROUTINE: "routine"}
_CHANNEL = re.compile(r"[a-z0-9_-]{1,32}")


@dataclass(frozen=True)
class Instruments:
    ingested: Counter
    ingest_seconds: Histogram
    alerts_sent: Counter
    alerts_failed: Counter
    escalations: Counter

    def all(self) -> tuple[Counter | Histogram, ...]:
        return (
            self.ingested,
            self.ingest_seconds,
            self.alerts_sent,
            self.alerts_failed,
            self.escalations,
        )


@cache
def instruments() -> Instruments:
    """This process's metrics (registered nowhere: each scrape builds its registry)."""
    return Instruments(
        ingested=Counter(
            f"{PREFIX}_messages_ingested",
            "Messages received, by channel and outcome "
            "(flagged, not_flagged, unscored, unsupported, duplicate)",
            ["channel", "outcome"],
            registry=None,
        ),
        ingest_seconds=Histogram(
            f"{PREFIX}_scoring_seconds",
            "Time to score, store and queue one ingest request (scoring dominates)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=None,
        ),
        alerts_sent=Counter(
            f"{PREFIX}_alerts_sent",
            "Alert deliveries accepted by the receiver, by channel kind",
            ["channel"],
            registry=None,
        ),
        alerts_failed=Counter(
            f"{PREFIX}_alerts_failed",
            "Alert deliveries given up after their last attempt, by channel kind",
            ["channel"],
            registry=None,
        ),
        escalations=Counter(
            f"{PREFIX}_escalations",
            "Crisis cases escalated because nobody acknowledged them in time",
            registry=None,
        ),
    )


class _ChannelLabels:
    """Message channels as label values: lower case, [a-z0-9_-], at most MAX_CHANNELS distinct
    (the rest are "other"), so that a free-text field can never flood or leak into labels."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, channel: str) -> str:
        value = channel.strip().lower()
        if value in COMMON_CHANNELS:
            return value
        if not _CHANNEL.fullmatch(value):
            return "other"
        with self._lock:
            if value not in self._seen and len(self._seen) >= MAX_CHANNELS:
                return "other"
            self._seen.add(value)
        return value


channel_label = _ChannelLabels()


def ingest_outcome(result: IngestResult) -> str:
    if result.duplicate:
        return "duplicate"
    if result.score_status == SCORED:
        return "flagged" if result.flagged else "not_flagged"
    return "unsupported" if result.score_status == UNSUPPORTED else "unscored"


def count_ingest(
    items: Sequence[IncomingMessage], results: Sequence[IngestResult], seconds: float
) -> None:
    """Count one ingest request."""
    metrics = instruments()
    metrics.ingest_seconds.observe(seconds)
    for item, result in zip(items, results, strict=True):
        metrics.ingested.labels(channel_label(item.channel), ingest_outcome(result)).inc()


def counted_ingest(
    session: Session,
    scorer: Scorer | None,
    items: list[IncomingMessage],
    policy: TriagePolicy,
    *,
    api_key_id: int | None = None,
) -> list[IngestResult]:
    """``triage.ingest``, timed and counted: every route that ingests (JSON, FHIR, SMS) calls
    this, so each channel shows on /metrics; then the care domain reads the new messages
    ("STOP" opts out of caring contacts, open follow-ups link to the new case)."""
    started = time.perf_counter()
    results = ingest(session, scorer, items, policy, api_key_id=api_key_id)
    count_ingest(items, results, time.perf_counter() - started)
    note_new_messages(session, items, results)
    return results


class QueueCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}_queue_snapshot_up", "1 if the queue could be read from the database"
        )
        try:
            with self.sessions() as session:
                snapshot = queue_snapshot(session)
                care = care_measures(session, days=CARE_METRICS_DAYS)
        except Exception as exc:  # a scrape must answer; the gauge says the database did not
            log.error("queue snapshot for /metrics failed: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily(
            f"{PREFIX}_queue_depth", "Unresolved cases by priority", labels=["priority"]
        )
        for tier, count in snapshot.open_by_tier.items():
            depth.add_metric([_PRIORITY[tier]], count)
        yield depth
        yield GaugeMetricFamily(
            f"{PREFIX}_oldest_waiting_crisis_seconds",
            "Age of the oldest flagged crisis nobody has acknowledged yet (0: none)",
            value=snapshot.oldest_waiting_crisis_seconds,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_unscored_waiting",
            "Unresolved cases whose message has no score (queued for review unscored)",
            value=snapshot.unscored_waiting,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_flag_rate_24h",
            "Share of messages scored in the last 24 hours that were flagged",
            value=snapshot.flag_rate_last_day,
        )
        yield from _care_gauges(care)


def _care_gauges(care: CareMeasures) -> Iterator[Metric]:
    """After the crisis (docs/care.md): a rate with nothing to divide by is left out."""
    yield GaugeMetricFamily(
        f"{PREFIX}_follow_ups_overdue", "Post-crisis follow-ups overdue now", value=care.overdue_now
    )
    rates = {
        "follow_up_completion_within_target_30d": (
            "Share of follow-ups due in the last 30 days done by their due time",
            care.completion_within_target,
        ),
        "hours_to_first_follow_up_median_30d": (
            "Median hours from a crisis's resolution to its first completed follow-up (30 days)",
            care.median_hours_to_first_follow_up,
        ),
        "caring_contact_delivery_rate_30d": (
            "Share of caring-contact deliveries delivered, of those finished (30 days)",
            care.caring_delivery_rate,
        ),
        "caring_contact_opt_out_rate_30d": (
            "Caring-contact opt-outs per opt-in (30 days)",
            care.caring_opt_out_rate,
        ),
    }
    for name, (help_text, value) in rates.items():
        if value is not None:
            yield GaugeMetricFamily(f"{PREFIX}_{name}", help_text, value=value)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(sessions: sessionmaker[Session]) -> tuple[bytes, str]:
    """The text exposition format for one scrape, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    collectors: Iterable[Collector]
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        collectors = ()
    else:
        collectors = instruments().all()
    for collector in collectors:
        registry.register(collector)
    registry.register(QueueCollector(sessions))
    return generate_latest(registry), CONTENT_TYPE_LATEST
