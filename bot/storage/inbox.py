"""The inbox and the reply outbox: the rows of the durable message path (delivery_models.py).

`InboxWriter.store` is on the webhook's hot path: updates arriving together
are inserted in one group-commit round (``INSERT … ON CONFLICT DO NOTHING
RETURNING``) on a connection of the writer's own, which also tells which ones
are new (a redelivery is not).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, event, or_, select, update
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.pool import NullPool

from bot.storage.database import Database, sqlite_pragmas
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


LOCKED_RETRY_SECONDS = 0.0005
LOCKED_GIVE_UP_SECONDS = 5.0


class InboxWriter:
    """Stores accepted updates by group commit on a connection of its own; True for an
    update not seen before.

    A webhook waits for this before it is acknowledged, so the write must not queue
    behind the answering of earlier updates (their sessions, their pooled connections,
    their turns of the event loop). At 100 updates/s with replies failing and retried
    (bench/zalo_webhook.py) that queueing made the ack p99 350 ms on SQLite and 760 ms
    on PostgreSQL; with a connection of its own, used as below, both are in the README.

    * PostgreSQL: one connection taken from the pool for good, in autocommit: a round
      is one statement and one round trip. A connection that fails is dropped and the
      next round takes a fresh one (the webhook answers 503 and is redelivered).
    * SQLite: a synchronous connection on the loop's thread. A round is a few hundred
      microseconds of local file work (WAL with synchronous=NORMAL: no fsync at commit;
      checkpoints are left to the main connection), less than the hand-over to
      aiosqlite's thread and back that it replaces. When the main connection holds the
      write lock, the round yields to the loop and tries again ``LOCKED_RETRY_SECONDS``
      later, instead of blocking the loop or sleeping in SQLite's busy handler (1, 2,
      5, 10 … ms per retry).
    """

    def __init__(self, connection: "_PgInbox | _SqliteInbox", clock: Callable[[], datetime] = utcnow):
        self._connection = connection
        self._clock = clock
        self._rounds: GroupCommit[NewUpdate, bool] = GroupCommit(self._store_round, "inbox")

    @classmethod
    def for_database(cls, db: Database, clock: Callable[[], datetime] = utcnow) -> "InboxWriter":
        """Connects on the first round."""
        connection = _SqliteInbox(db) if db.dialect == "sqlite" else _PgInbox(db)
        return cls(connection, clock)

    async def store(self, update: NewUpdate) -> bool:
        return await self._rounds.submit(update)

    async def close(self) -> None:
        await self._connection.close()

    async def _store_round(self, updates: list[NewUpdate]) -> list[bool]:
        now = self._clock()
        unique = {(u.platform, u.update_key): u for u in updates}
        fresh = await self._connection.insert([
            {"platform": u.platform, "update_key": u.update_key, "chat_id": u.chat_id,
             "incoming": u.incoming, "received_at": now} for u in unique.values()])
        results = []
        for u in updates:       # the same update twice in one round: only the first is new
            key = (u.platform, u.update_key)
            results.append(key in fresh)
            fresh.discard(key)
        return results


def _insert_new(insert) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the keys of the rows that were new."""
    table = InboxUpdate.__table__
    return (insert(table).on_conflict_do_nothing(index_elements=[table.c.platform, table.c.update_key])
            .returning(table.c.platform, table.c.update_key))


class _PgInbox:
    def __init__(self, db: Database):
        self._engine = db.engine
        self._statement = _insert_new(postgresql.insert)
        self._connection: AsyncConnection | None = None

    async def insert(self, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        if self._connection is None:
            connection = await self._engine.connect()
            self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        try:
            result = await self._connection.execute(self._statement, rows)
        except Exception:
            connection, self._connection = self._connection, None
            await connection.invalidate()
            raise
        return {(row.platform, row.update_key) for row in result}

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


class _SqliteInbox:
    def __init__(self, db: Database):
        self._engine = create_sync_engine(db.engine.url.set(drivername="sqlite"), poolclass=NullPool)
        event.listen(self._engine, "connect", sqlite_pragmas)          # as the main connection's,
        event.listen(self._engine, "connect", _sqlite_inbox_pragmas)   # then the inbox's own
        self._statement = _insert_new(sqlite.insert)
        self._connection: Connection | None = None

    async def insert(self, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        give_up = time.monotonic() + LOCKED_GIVE_UP_SECONDS
        while True:
            try:
                return self._insert(rows)
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > give_up:
                    raise
            await asyncio.sleep(LOCKED_RETRY_SECONDS)

    def _insert(self, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        if self._connection is None:
            self._connection = self._engine.connect()
        try:
            result = self._connection.execute(self._statement, rows)
            fresh = {(row.platform, row.update_key) for row in result}
            self._connection.commit()
        except Exception:
            self._connection.rollback()
            raise
        return fresh

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()


def _sqlite_inbox_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout=0")          # a taken lock: yield, see above
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")    # the main connection checkpoints


@dataclass(frozen=True)
class StoredUpdate:
    id: int
    incoming: dict[str, Any]
    more: bool = False               # another unprocessed update of the chat was stored before it was read


async def next_update(sessions: async_sessionmaker[AsyncSession], platform: str,
                      chat_id: str) -> StoredUpdate | None:
    """The chat's oldest update not processed yet, and whether there is another one."""
    async with sessions() as session:
        rows = (await session.execute(
            select(InboxUpdate.id, InboxUpdate.incoming)
            .where(InboxUpdate.processed_at.is_(None), InboxUpdate.platform == platform,
                   InboxUpdate.chat_id == chat_id)
            .order_by(InboxUpdate.id).limit(2)
        )).all()
    return StoredUpdate(rows[0].id, rows[0].incoming, more=len(rows) > 1) if rows else None


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
