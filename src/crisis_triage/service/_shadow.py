"""The shadow worker: the registry's challenger scores every new message, apart from the queue.

A task of its own (not a step of the escalation worker): a slow challenger, such as one with the
full sentence encoder, can never delay an escalation or a webhook.  It only reads messages that
ingest has already stored and queued, so nothing it does, or fails to do, reaches them; a
failure is logged by its type and the next round tries again.
"""

from __future__ import annotations

import asyncio
import logging

import anyio.to_thread

from crisis_triage.detector import Scorer
from crisis_triage.registry import SHADOW_BATCH, challenger, load_registered, shadow_score_pending
from crisis_triage.service._deps import ServiceState

log = logging.getLogger(__name__)


class ShadowWorker:
    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self._loaded: tuple[str, Scorer] | None = None  # the challenger, once loaded

    def run_once(self) -> int:
        """One batch of shadow scores, if a challenger is registered; how many were stored."""
        try:
            with self.state.sessions() as session:
                entry = challenger(session)
                if entry is None:
                    self._loaded = None
                    return 0
                if self._loaded is None or self._loaded[0] != entry.model_id:
                    self._loaded = (entry.model_id, load_registered(entry))
                return shadow_score_pending(session, self._loaded[1], entry)
        except Exception as exc:
            log.error("shadow scoring skipped this round: %s", type(exc).__name__)
            return 0

    async def run_forever(self) -> None:
        poll = self.state.settings.semantic_poll_seconds
        while True:
            stored = await anyio.to_thread.run_sync(self.run_once)
            if stored < SHADOW_BATCH:
                await asyncio.sleep(poll)
