"""Processed deliveries: the database side of the pipeline's deduplication.

Telegram and Zalo redeliver a webhook when the first attempt timed out; the
(platform, message id) primary key makes the second insert a no-op, which
`first_time` reports as False. Telegram keeps undelivered updates for 24
hours, so rows are kept for ``RETENTION`` and older ones pruned at most once
per ``PRUNE_EVERY``, after an insert, in their own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.group_commit import GroupCommit
from bot.storage.models import ProcessedDelivery, utcnow
from bot.storage.sql import insert_for

log = logging.getLogger(__name__)

RETENTION = timedelta(hours=48)
PRUNE_EVERY = timedelta(minutes=10)


class DbSeenMessages:
    """`bot.pipeline.SeenMessages` backed by the ``processed_deliveries`` table.

    Deliveries arriving together are recorded by group commit: one
    INSERT ... ON CONFLICT DO NOTHING RETURNING per round tells which ids are new.
    """

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
        self._rounds: GroupCommit[tuple[str, str], bool] = GroupCommit(self._record_round, "delivery-log")

    async def first_time(self, platform: str, message_id: str) -> bool:
        return await self._rounds.submit((platform, message_id))

    async def _record_round(self, keys: list[tuple[str, str]]) -> list[bool]:
        now = self._clock()
        fresh = await self._record(set(keys), now)
        answered: set[tuple[str, str]] = set()
        results = []
        for key in keys:   # the same id twice in one round: only the first is new
            results.append(key in fresh and key not in answered)
            answered.add(key)
        await self._prune_now_and_then(now)
        return results

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
