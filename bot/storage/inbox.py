"""The inbox and the reply outbox: the rows of the durable message path (delivery_models.py).

`InboxWriter.store` is on the webhook's hot path: updates arriving together
are inserted in one group-commit round (``INSERT … ON CONFLICT DO NOTHING
RETURNING``), which also tells which ones are new (a redelivery is not).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.delivery_models import FAILED, PENDING, SENT, ChatLease, InboxUpdate, OutboxReply
from bot.storage.group_commit import GroupCommit
from bot.storage.models import utcnow
from bot.storage.sql import insert_for

log = logging.getLogger(__name__)

# Processed updates are kept this long: their keys deduplicate redeliveries
# (Telegram keeps an unacknowledged update for 24 hours).
RETENTION = timedelta(hours=48)


@dataclass(frozen=True)
class NewUpdate:
    platform: str
    update_key: str
    chat_id: str
    incoming: dict[str, Any]


class InboxWriter:
    """Stores accepted updates by group commit; True for an update not seen before."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._clock = clock
        self._rounds: GroupCommit[NewUpdate, bool] = GroupCommit(self._store_round, "inbox")

    async def store(self, update: NewUpdate) -> bool:
        return await self._rounds.submit(update)

    async def _store_round(self, updates: list[NewUpdate]) -> list[bool]:
        now = self._clock()
        unique = {(u.platform, u.update_key): u for u in updates}
        async with self._sessions.begin() as session:
            insert = insert_for(session)
            result = await session.execute(
                insert(InboxUpdate)
                .values([{"platform": u.platform, "update_key": u.update_key, "chat_id": u.chat_id,
                          "incoming": u.incoming, "received_at": now} for u in unique.values()])
                .on_conflict_do_nothing(index_elements=[InboxUpdate.platform, InboxUpdate.update_key])
                .returning(InboxUpdate.platform, InboxUpdate.update_key)
            )
            fresh = {(row.platform, row.update_key) for row in result}
        results = []
        for u in updates:       # the same update twice in one round: only the first is new
            key = (u.platform, u.update_key)
            results.append(key in fresh)
            fresh.discard(key)
        return results


@dataclass(frozen=True)
class StoredUpdate:
    id: int
    incoming: dict[str, Any]


async def next_update(sessions: async_sessionmaker[AsyncSession], platform: str,
                      chat_id: str) -> StoredUpdate | None:
    """The chat's oldest update not processed yet."""
    async with sessions() as session:
        row = (await session.execute(
            select(InboxUpdate.id, InboxUpdate.incoming)
            .where(InboxUpdate.processed_at.is_(None), InboxUpdate.platform == platform,
                   InboxUpdate.chat_id == chat_id)
            .order_by(InboxUpdate.id).limit(1)
        )).first()
    return StoredUpdate(row.id, row.incoming) if row else None


async def mark_processed(session: AsyncSession, inbox_id: int, now: datetime) -> bool:
    """In the update's own transaction; False when another worker processed it first."""
    result = await session.execute(
        update(InboxUpdate).where(InboxUpdate.id == inbox_id, InboxUpdate.processed_at.is_(None))
        .values(processed_at=now)
    )
    return result.rowcount == 1


@dataclass
class Owed:
    """A reply still to send, as the chat's worker keeps it between attempts."""

    id: int
    reply: dict[str, Any]
    next_attempt_at: datetime
    deadline_at: datetime
    attempts: int = 0
    maybe_delivered: int = 0
    parts_done: int = 0              # of a long reply, sent in earlier attempts


async def add_replies(session: AsyncSession, platform: str, chat_id: str, inbox_id: int | None,
                      replies: list[dict[str, Any]], now: datetime, deadline: datetime) -> list[Owed]:
    rows = [OutboxReply(platform=platform, chat_id=chat_id, inbox_id=inbox_id, reply=reply, status=PENDING,
                        attempts=0, maybe_delivered=0, created_at=now, next_attempt_at=now,
                        deadline_at=deadline, detail="") for reply in replies]
    if rows:
        session.add_all(rows)
        await session.flush()           # the ids, in order
    return [Owed(row.id, row.reply, now, deadline) for row in rows]


async def owed_replies(sessions: async_sessionmaker[AsyncSession], platform: str, chat_id: str) -> list[Owed]:
    """The chat's replies still to send, oldest first (left by a crash or another process)."""
    async with sessions() as session:
        rows = (await session.execute(
            select(OutboxReply.id, OutboxReply.reply, OutboxReply.next_attempt_at, OutboxReply.deadline_at,
                   OutboxReply.attempts, OutboxReply.maybe_delivered)
            .where(OutboxReply.status == PENDING, OutboxReply.platform == platform,
                   OutboxReply.chat_id == chat_id)
            .order_by(OutboxReply.id)
        )).all()
    return [Owed(*row) for row in rows]


@dataclass(frozen=True)
class Finished:
    reply: Owed
    status: str                      # SENT or FAILED
    detail: str = ""


class OutcomeWriter:
    """Records finished replies by group commit: sends finishing together share one round."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._clock = clock
        self._rounds: GroupCommit[Finished, None] = GroupCommit(self._write_round, "reply-outcomes")

    async def record(self, finished: Finished) -> None:
        await self._rounds.submit(finished)

    async def _write_round(self, items: list[Finished]) -> list[None]:
        now = self._clock()
        async with self._sessions.begin() as session:
            for item in items:
                await session.execute(
                    update(OutboxReply).where(OutboxReply.id == item.reply.id)
                    .values(status=item.status, attempts=item.reply.attempts, detail=item.detail[:200],
                            maybe_delivered=item.reply.maybe_delivered, finished_at=now))
        return [None] * len(items)


async def chats_with_work(sessions: async_sessionmaker[AsyncSession],
                          platforms: list[str]) -> list[tuple[str, str]]:
    """(platform, chat) pairs with an unprocessed update or an unsent reply: after a restart."""
    async with sessions() as session:
        updates = await session.execute(
            select(InboxUpdate.platform, InboxUpdate.chat_id)
            .where(InboxUpdate.processed_at.is_(None), InboxUpdate.platform.in_(platforms)).distinct())
        replies = await session.execute(
            select(OutboxReply.platform, OutboxReply.chat_id)
            .where(OutboxReply.status == PENDING, OutboxReply.platform.in_(platforms)).distinct())
        return sorted({(p, c) for p, c in updates} | {(p, c) for p, c in replies})


async def prune(sessions: async_sessionmaker[AsyncSession], now: datetime,
                retention: timedelta = RETENTION) -> None:
    """Forget processed updates and finished replies older than ``retention`` (failed ones stay
    a week longer, for the statistics)."""
    async with sessions.begin() as session:
        await session.execute(delete(InboxUpdate).where(InboxUpdate.processed_at.is_not(None),
                                                        InboxUpdate.received_at < now - retention))
        await session.execute(delete(OutboxReply).where(OutboxReply.status == SENT,
                                                        OutboxReply.finished_at < now - retention))
        await session.execute(delete(OutboxReply).where(OutboxReply.status == FAILED,
                                                        OutboxReply.finished_at < now - retention - timedelta(days=7)))


async def take_lease(sessions: async_sessionmaker[AsyncSession], platform: str, chat_id: str, holder: str,
                     now: datetime, until: datetime) -> bool:
    """Become (or stay) the process working on the chat; False while another one is."""
    async with sessions.begin() as session:
        insert = insert_for(session)
        result = await session.execute(
            insert(ChatLease).values(platform=platform, chat_id=chat_id, holder=holder, until=until)
            .on_conflict_do_update(
                index_elements=[ChatLease.platform, ChatLease.chat_id],
                set_={"holder": holder, "until": until},
                where=or_(ChatLease.holder == holder, ChatLease.until < now))
        )
        return result.rowcount == 1


async def drop_lease(sessions: async_sessionmaker[AsyncSession], platform: str, chat_id: str, holder: str) -> None:
    async with sessions.begin() as session:
        await session.execute(delete(ChatLease).where(ChatLease.platform == platform, ChatLease.chat_id == chat_id,
                                                      ChatLease.holder == holder))


async def forget_platform(sessions: async_sessionmaker[AsyncSession], platform: str) -> None:
    """Delete every inbox, outbox and lease row of ``platform`` (the start-up rehearsal's)."""
    async with sessions.begin() as session:
        for model in (OutboxReply, InboxUpdate, ChatLease):
            await session.execute(delete(model).where(model.platform == platform))
