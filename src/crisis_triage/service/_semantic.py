"""The semantic worker: finishes fast-tier scores with the full model, in the background.

Like the webhook worker it keeps no state of its own: every batch is leased from the database,
so each service process can run one and they share the work.  It runs beside the webhook
worker, not inside it: a batch of transformer passes (about a second) must not hold up
escalations and webhooks, and a full batch is followed at once by the next.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta

import anyio.to_thread

from crisis_triage.service._deps import ServiceState
from crisis_triage.triage import RescoreReport, rescore_pending, semantic_backlog

log = logging.getLogger(__name__)

# How often a running worker refreshes the backlog figures /healthz reports.
BACKLOG_REFRESH_SECONDS = 2.0


class SemanticWorker:
    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self._backlog_read_at = -BACKLOG_REFRESH_SECONDS

    def refresh_backlog(self) -> None:
        """Keep the backlog figures on the service state, so that /healthz, a liveness probe,
        need not wait for the database (it reads them itself when no worker runs)."""
        if time.monotonic() - self._backlog_read_at < BACKLOG_REFRESH_SECONDS:
            return
        with self.state.sessions() as session:
            self.state.backlog = semantic_backlog(session)
        self._backlog_read_at = time.monotonic()

    def run_once(self, now: datetime | None = None) -> RescoreReport:
        """One batch: lease, score with the full model, store (nothing without a model)."""
        scorer = self.state.scorer
        if scorer is None:
            return RescoreReport()
        settings = self.state.settings
        report = rescore_pending(
            self.state.sessions,
            scorer,
            self.state.policy,
            now=now,
            limit=settings.semantic_batch_size,
            lease=timedelta(seconds=settings.semantic_lease_seconds),
        )
        for message_id in report.newly_flagged:
            log.warning("message id=%d flagged by the final (semantic) score", message_id)
        if report.leased:
            log.debug(
                "semantic batch: %d leased, %d final, %d retrying, %d failed, %d lost lease",
                report.leased,
                report.finalised,
                report.retrying,
                len(report.failed),
                report.lost_lease,
            )
        return report

    async def run_forever(self) -> None:
        settings = self.state.settings
        while True:
            try:
                report = await anyio.to_thread.run_sync(self.run_once)
                full = report.leased >= settings.semantic_batch_size
                await anyio.to_thread.run_sync(self.refresh_backlog)
            except Exception as exc:  # keep going: leases expire, the next round retries
                log.error("semantic worker round failed: %s", type(exc).__name__)
                full = False
            if not full:
                await asyncio.sleep(settings.semantic_poll_seconds)
