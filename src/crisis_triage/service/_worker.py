"""The background worker: escalates overdue crises and sends webhooks and pages (the outbox).

It keeps no state of its own: everything it does is claimed from the database with row locks,
so each service process can run one and they share the work.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio.to_thread
import httpx

from crisis_triage.care import run_care_round
from crisis_triage.governance import publish_checkpoint
from crisis_triage.integrations.paging import PageOutcome, channel_target, send_page
from crisis_triage.monitoring import run_monitoring
from crisis_triage.service._deps import ServiceState
from crisis_triage.service._prometheus import instruments
from crisis_triage.storage import utcnow
from crisis_triage.triage import (
    SIGNATURE_HEADER,
    DeliveryJob,
    alert_integrity_failure,
    escalate_overdue,
    lease_due,
    record_attempt,
    renew_lease,
    sign,
)

log = logging.getLogger(__name__)


@dataclass
class WorkerReport:
    escalated: list[int] = field(default_factory=list)
    follow_ups_overdue: list[int] = field(default_factory=list)
    caring_contacts_sent: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


class Worker:
    def __init__(self, state: ServiceState, transport: httpx.BaseTransport | None = None) -> None:
        self.state = state
        self.transport = transport
        self._alerted: set[tuple[str, int | None]] = set()  # one alert per value per process
        self._next_checkpoint = 0.0  # time.monotonic() of the next audit checkpoint
        self._next_monitoring = 0.0  # ... and of the next daily monitoring round

    def _checkpoint_audit_log(self) -> None:
        settings = self.state.settings
        if settings.audit_checkpoint_minutes is None or time.monotonic() < self._next_checkpoint:
            return
        self._next_checkpoint = time.monotonic() + 60 * settings.audit_checkpoint_minutes
        with self.state.sessions() as session:
            try:
                publish_checkpoint(
                    session,
                    file=settings.audit_checkpoint_file,
                    webhook_urls=self.state.policy.webhook_urls,
                )
            except OSError as exc:  # the file's place is unavailable: try again in a minute
                self._next_checkpoint = time.monotonic() + 60
                log.error("audit checkpoint not written: %s", type(exc).__name__)

    def _monitor(self, now: datetime | None) -> None:
        """Recompute the daily monitoring aggregates; a shifted day raises an operator alert.
        A failure here never holds up escalations and webhooks: it is logged and retried."""
        minutes = self.state.settings.monitoring_interval_minutes
        if minutes is None or time.monotonic() < self._next_monitoring:
            return
        self._next_monitoring = time.monotonic() + 60 * minutes
        scorer = self.state.scorer
        try:
            with self.state.sessions() as session:
                run_monitoring(
                    session,
                    self.state.policy,
                    self.state.settings.monitoring_policy(),
                    card=getattr(scorer, "card_", None),
                    threshold=getattr(scorer, "threshold_", None),
                    now=now or utcnow(),
                )
        except Exception as exc:
            self._next_monitoring = time.monotonic() + 60
            log.error("daily monitoring failed: %s", type(exc).__name__)

    def _alert_integrity_failures(self) -> None:
        failures = self.state.integrity_failures
        if not failures:
            return
        with self.state.sessions() as session:
            while failures:
                failure = failures.popleft()
                if (failure.column, failure.row) in self._alerted:
                    continue
                self._alerted.add((failure.column, failure.row))
                alert_integrity_failure(session, self.state.policy, failure, now=utcnow())
            session.commit()

    def run_once(self, now: datetime | None = None) -> WorkerReport:
        report = WorkerReport()
        self.state.refresh_policy()  # settings an admin changed, in any process
        self._alert_integrity_failures()
        self._checkpoint_audit_log()
        self._monitor(now)
        with self.state.sessions() as session:
            report.escalated = escalate_overdue(session, self.state.policy, now=now)
        for case_id in report.escalated:
            log.warning("case %d escalated: crisis unacknowledged", case_id)
        instruments().escalations.inc(len(report.escalated))
        with self.state.sessions() as session:
            care = run_care_round(session, self.state.policy, now=now)
        report.follow_ups_overdue = care.overdue
        report.caring_contacts_sent = care.caring_contacts_sent
        settings = self.state.settings
        # Long enough for one send to time out and be recorded; renewed before every send.
        lease = timedelta(seconds=2 * settings.webhook_timeout_seconds + 1)
        with self.state.sessions() as session:
            jobs = lease_due(session, now=now, lease=lease)
        if not jobs:
            return report
        with httpx.Client(
            transport=self.transport, timeout=settings.webhook_timeout_seconds
        ) as client:
            for job in jobs:
                with self.state.sessions() as session:
                    if not renew_lease(session, job, lease=lease, now=now):
                        continue  # our lease ran out and another worker has it now
                channel, sent = self._deliver(client, job)
                with self.state.sessions() as session:
                    outcome = record_attempt(
                        session,
                        job.delivery_id,
                        self.state.policy,
                        status_code=sent.status_code,
                        error=sent.error,
                        now=now,
                        attempt=job.attempt,
                        succeeded=sent.succeeded,
                    )
                if outcome == "delivered":
                    report.delivered += 1
                    instruments().alerts_sent.labels(channel).inc()
                elif outcome == "failed":
                    report.failed += 1
                    instruments().alerts_failed.labels(channel).inc()
                    log.error("webhook %d to %s failed for good", job.delivery_id, job.url)
                else:
                    report.retrying += 1
        return report

    def _deliver(self, client: httpx.Client, job: DeliveryJob) -> tuple[str, PageOutcome]:
        """Send one leased row: a page to its channel, or the signed webhook; returns the
        channel kind (the metrics label) and how it went."""
        if job.channel_id is None:
            status_code, error = self._send(client, job)
            succeeded = status_code is not None and 200 <= status_code < 300
            return "webhook", PageOutcome(succeeded, status_code, error)
        with self.state.sessions() as session:
            channel = channel_target(session, job.channel_id)
        if channel is None:  # pragma: no cover - channels are never deleted
            return "unknown", PageOutcome(False, None, "channel_missing")
        return channel.kind, send_page(client, self.state.settings.paging(), channel, job.body)

    def _send(self, client: httpx.Client, job: DeliveryJob) -> tuple[int | None, str | None]:
        secret = self.state.settings.webhook_secret.get_secret_value()
        headers = {
            "Content-Type": "application/json",
            "X-Crisis-Triage-Event": job.event,
            "X-Crisis-Triage-Delivery": str(job.delivery_id),
            SIGNATURE_HEADER: sign(secret, int(time.time()), job.body),
        }
        try:
            reply = client.post(job.url, content=job.body, headers=headers)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        if 200 <= reply.status_code < 300:
            return reply.status_code, None
        return reply.status_code, f"HTTP {reply.status_code}"

    async def run_forever(self) -> None:
        interval = self.state.settings.worker_interval_seconds
        while True:
            try:
                await anyio.to_thread.run_sync(self.run_once)
            except Exception as exc:  # keep going: the next round retries from the database
                log.error("worker round failed: %s", type(exc).__name__)
            await asyncio.sleep(interval)
