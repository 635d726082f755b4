"""Processed deliveries: the database side of the pipeline's deduplication.

Telegram and Zalo redeliver a webhook when the first attempt timed out; the
(platform, message id) primary key makes the second insert a no-op, which
`first_time` reports as False. Telegram keeps undelivered updates for 24
hours, so rows are kept for ``RETENTION`` and older ones pruned at most once
per ``PRUNE_EVERY``, after an insert, in their own transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.models import ProcessedDelivery, utcnow
from bot.storage.sql import insert_for

log = logging.getLogger(__name__)

RETENTION = timedelta(hours=48)
PRUNE_EVERY = timedelta(minutes=10)
# Rows per INSERT: well under SQLite's limit on bound parameters.
MAX_BATCH = 500


class DbSeenMessages:
    """`bot.pipeline.SeenMessages` backed by the ``processed_deliveries`` table."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime] = utcnow,
        retention: timedelta = RETENTION,
        prune_every: timedelta = PRUNE_EVERY,
    ):
        self._sessions = sessions
        self._clock = clock
        self._retention = retention
        self._prune_every = prune_every
        self._next_prune: datetime | None = None
        self._pending: list[tuple[str, str, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task | None = None

    async def first_time(self, platform: str, message_id: str) -> bool:
        """Group commit: deliveries arriving together are recorded in one transaction.

        Under load every update would otherwise queue for its own write
        transaction; one INSERT ... ON CONFLICT DO NOTHING RETURNING for the
        whole batch tells which ids are new.
        """
        future = asyncio.get_running_loop().create_future()
        self._pending.append((platform, message_id, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="delivery-log")
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            now = self._clock()
            try:
                fresh = await self._record({(p, m) for p, m, _ in batch}, now)
            except Exception as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            answered: set[tuple[str, str]] = set()
            for platform, message_id, future in batch:
                key = (platform, message_id)
                if not future.done():   # the same id twice in one batch: only the first is new
                    future.set_result(key in fresh and key not in answered)
                answered.add(key)
            await self._prune_now_and_then(now)

    async def _record(self, keys: set[tuple[str, str]], now: datetime) -> set[tuple[str, str]]:
        """Insert ``keys``; the ones that were not there before."""
        async with self._sessions.begin() as session:
            insert = insert_for(session)
            result = await session.execute(
                insert(ProcessedDelivery)
                .values([{"platform": p, "message_id": m, "seen_at": now} for p, m in sorted(keys)])
                .on_conflict_do_nothing(
                    index_elements=[ProcessedDelivery.platform, ProcessedDelivery.message_id]
                )
                .returning(ProcessedDelivery.platform, ProcessedDelivery.message_id)
            )
            return {(row.platform, row.message_id) for row in result}

    async def _prune_now_and_then(self, now: datetime) -> None:
        if self._next_prune is None or now >= self._next_prune:
            self._next_prune = now + self._prune_every
            try:
                await self.prune(now)
            except Exception:  # pruning is housekeeping; it must never cost a reply
                log.exception("pruning processed deliveries failed")

    async def prune(self, now: datetime | None = None) -> int:
        """Forget deliveries older than the retention period; returns how many."""
        cutoff = (now or self._clock()) - self._retention
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(ProcessedDelivery).where(ProcessedDelivery.seen_at < cutoff)
            )
            return result.rowcount or 0
