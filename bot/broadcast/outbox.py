"""The broadcast outbox in the database: creating, starting, claiming, recording.

States of a broadcast::

    scheduled ──(due; recipients materialised, same transaction)──► running ──► done
        └──────────────── cancel ──────────────► cancelled ◄──── cancel ──┘

States of an outbox row (one per broadcast and recipient chat)::

    pending ──claim──► sending ──► sent | blocked | out_of_window | failed | no_quota | not_follower
       ▲                  │
       ├── 429 / 5xx / timeout (next_attempt_at later) ──┤
       └── Zalo -230: again, via the promotion message ──┘  (via = "promotion")
    sending, claim older than the lease (its worker died) ──claim──► sending
    pending (broadcast cancelled) ──► cancelled

Every function here is one short transaction of its own (the worker) or
works inside the caller's session (handlers, CLI: ``*_in`` functions and
those taking a session). Statements that write start with the write, never
a read followed by a write, so SQLite takes its write lock at once instead
of failing a lock upgrade, and PostgreSQL row locks are held briefly.

Claiming on PostgreSQL is ``SELECT … FOR UPDATE SKIP LOCKED`` then an
``UPDATE`` of exactly those rows, in one transaction: several processes
share a broadcast without waiting for or double-claiming each other's rows.
SQLite has no row locks; there the claim is one ``UPDATE … WHERE id IN
(SELECT … LIMIT n) RETURNING``, atomic under SQLite's single writer.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.storage.broadcast_models import (
    BLOCKED,
    CANCELLED,
    DONE,
    FAILED,
    NO_QUOTA,
    NOT_FOLLOWER,
    OPEN_STATUSES,
    OUT_OF_WINDOW,
    PENDING,
    PROMOTION,
    RUNNING,
    SCHEDULED,
    SENDING,
    SENT,
    SKIPPED,
    Broadcast,
    BroadcastRecipient,
)
from bot.channels import registry
from bot.storage.models import Subscription, SubscriptionGroup, UTCDateTime
from bot.storage.sql import insert_for

GROUPS = ("cu_dan", "doan_vien", "can_bo")
ERROR_CHARS = 300

R = BroadcastRecipient
B = Broadcast
T = BroadcastRecipient.__table__
Sessions = async_sessionmaker[AsyncSession]

_SQLITE_WRITERS: "weakref.WeakKeyDictionary[Any, asyncio.Lock]" = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _tx(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """One write transaction. On SQLite the process's writers take turns on an
    asyncio lock: SQLite's busy handler polls with sleeps and is not fair, so
    dozens of lanes contending for its one write lock starve each other for
    seconds ("database is locked"); a queue in the process never does."""
    bind = sessions.kw.get("bind")
    if bind is not None and bind.dialect.name == "sqlite":
        lock = _SQLITE_WRITERS.setdefault(bind.sync_engine, asyncio.Lock())
        async with lock, sessions.begin() as session:
            yield session
    else:
        async with sessions.begin() as session:
            yield session


@asynccontextmanager
async def _conn(sessions: Sessions) -> AsyncIterator[AsyncConnection]:
    """`_tx` for Core statements: a connection in a transaction, no ORM session."""
    engine: AsyncEngine = sessions.kw["bind"]
    if engine.dialect.name == "sqlite":
        lock = _SQLITE_WRITERS.setdefault(engine.sync_engine, asyncio.Lock())
        async with lock, engine.begin() as conn:
            yield conn
    else:
        async with engine.begin() as conn:
            yield conn


# ------------------------------------------------------------------ segment

@dataclass(frozen=True)
class Segment:
    """Who gets a broadcast. An empty ``wards`` or ``groups`` means all of them."""

    wards: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    platforms: tuple[str, ...] = field(default_factory=registry.names)   # every messenger

    def __post_init__(self) -> None:
        if not self.platforms or any(p not in registry.names() for p in self.platforms):
            raise ValueError(f"platforms must be among {registry.names()}")
        if any(g not in GROUPS for g in self.groups):
            raise ValueError(f"groups must be among {GROUPS}")

    def to_json(self) -> dict[str, Any]:
        return {"wards": list(self.wards), "groups": list(self.groups), "platforms": list(self.platforms)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Segment":
        return cls(tuple(data.get("wards") or ()), tuple(data.get("groups") or ()),
                   tuple(data.get("platforms") or registry.names()))


def _recipients(segment: Segment):
    """Active subscriptions in the segment: (resident_id, platform, chat_id)."""
    query = select(Subscription.resident_id, Subscription.platform, Subscription.chat_id).where(
        Subscription.active.is_(True), Subscription.platform.in_(segment.platforms),
    )
    if segment.wards:
        query = query.where(Subscription.ward.in_(segment.wards))
    if segment.groups:
        query = query.where(exists().where(
            SubscriptionGroup.subscription_id == Subscription.id,
            SubscriptionGroup.group_code.in_(segment.groups),
        ))
    return query


async def count_recipients(session: AsyncSession, segment: Segment) -> int:
    """Distinct chats the segment reaches now (the preview's figure)."""
    chats = _recipients(segment).with_only_columns(Subscription.platform, Subscription.chat_id).distinct()
    return await session.scalar(select(func.count()).select_from(chats.subquery())) or 0


# ------------------------------------------------------------------ counts

@dataclass(frozen=True)
class Counts:
    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    out_of_window: int = 0
    cancelled: int = 0
    no_quota: int = 0                  # Zalo, outside the window: the OA's promotion quota was used up
    not_follower: int = 0              # Zalo, outside the window: not a follower, no promotion possible
    promoted: int = 0                  # of ``sent``: through Zalo's promotion message
    # Rows whose message may have arrived more than once: an attempt reached the
    # platform without a verdict (5xx, timeout) and was tried again. Bot APIs
    # cannot tell "delivered, then 500" from "not delivered".
    possible_duplicates: int = 0

    @property
    def total(self) -> int:
        return (self.pending + self.sending + self.sent + self.failed + self.blocked
                + self.out_of_window + self.cancelled + self.no_quota + self.not_follower)

    @property
    def processed(self) -> int:
        """Rows with a final verdict from the platform."""
        return self.sent + self.failed + self.blocked + self.out_of_window + self.no_quota + self.not_follower


async def counts(session: AsyncSession, broadcast_id: int) -> Counts:
    rows = (await session.execute(
        select(R.status, func.count()).where(R.broadcast_id == broadcast_id).group_by(R.status)
    )).all()
    by_status = {status: n for status, n in rows}
    uncertain = await session.scalar(select(func.count()).select_from(R).where(
        R.broadcast_id == broadcast_id, R.status == SENT, R.maybe_delivered > 0)) or 0
    promoted = await session.scalar(select(func.count()).select_from(R).where(
        R.broadcast_id == broadcast_id, R.status == SENT, R.via == PROMOTION)) or 0
    return Counts(
        pending=by_status.get(PENDING, 0), sending=by_status.get(SENDING, 0), sent=by_status.get(SENT, 0),
        failed=by_status.get(FAILED, 0), blocked=by_status.get(BLOCKED, 0),
        out_of_window=by_status.get(OUT_OF_WINDOW, 0), cancelled=by_status.get(SKIPPED, 0),
        no_quota=by_status.get(NO_QUOTA, 0), not_follower=by_status.get(NOT_FOLLOWER, 0),
        possible_duplicates=uncertain, promoted=promoted,
    )


# ------------------------------------------------------------------ officials and the CLI

async def create_broadcast(session: AsyncSession, *, text: str, segment: Segment, created_by: str,
                           scheduled_at: datetime, now: datetime, photo_url: str | None = None,
                           report_platform: str | None = None, report_chat_id: str | None = None) -> Broadcast:
    broadcast = Broadcast(
        text=text, photo_url=photo_url, segment=segment.to_json(), status=SCHEDULED, created_by=created_by,
        report_platform=report_platform, report_chat_id=report_chat_id, created_at=now,
        scheduled_at=max(scheduled_at, now),
        total=0, sent=0, failed=0, blocked=0, out_of_window=0, progress_milestone=0,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


CANCELLED_NOW, ALREADY_OVER, NOT_FOUND = "cancelled", "over", "not_found"


# The lock that makes "cancel" mean stop (PostgreSQL): each send holds it
# shared from its last status check until the platform answered; a cancel
# takes it exclusively, so it waits for the sends in flight (they are counted)
# and every later check sees the broadcast cancelled.
SEND_GATE_CLASS = 0x0B0C


@asynccontextmanager
async def send_gate(sessions: Sessions, broadcast_id: int) -> AsyncIterator[bool]:
    """Around one attempt: yields whether the broadcast still runs, checked now.

    PostgreSQL: under the shared lock (held until the block ends). SQLite has
    no such lock, and there the check is a fresh read right before the attempt:
    a cancel committed in the instant between the read and the request can
    still see that one message go out (at most one per lane).
    """
    engine: AsyncEngine = sessions.kw["bind"]
    running = select(B.status).where(B.id == broadcast_id)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(select(func.pg_advisory_xact_lock_shared(SEND_GATE_CLASS, broadcast_id)))
            yield await conn.scalar(running) == RUNNING
    else:
        async with engine.connect() as conn:
            status = await conn.scalar(running)
            await conn.rollback()
        yield status == RUNNING


async def cancel_broadcast(session: AsyncSession, broadcast_id: int, by: str, now: datetime) -> str:
    """Cancel a scheduled or running broadcast: once this returns (and the
    caller's transaction commits), no new message of it starts.

    On PostgreSQL this waits for the messages already in flight (at most one
    per worker lane, bounded by the HTTP timeout); they are counted in the
    report. The lock is held until the caller commits.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(SEND_GATE_CLASS, broadcast_id)))
    result = await session.execute(
        update(B).where(B.id == broadcast_id, B.status.in_((SCHEDULED, RUNNING)))
        .values(status=CANCELLED, finished_at=now, cancelled_by=by[:100])
    )
    if result.rowcount != 1:
        found = await session.scalar(select(func.count()).select_from(B).where(B.id == broadcast_id))
        return ALREADY_OVER if found else NOT_FOUND
    await session.execute(
        update(R).where(R.broadcast_id == broadcast_id, R.status == PENDING)
        .values(status=SKIPPED, claimed_by=None)
    )
    return CANCELLED_NOW


async def get_broadcast(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    return await session.get(B, broadcast_id)


async def list_broadcasts(session: AsyncSession, limit: int = 20,
                          statuses: Sequence[str] | None = None) -> Sequence[Broadcast]:
    query = select(B).order_by(B.id.desc()).limit(limit)
    if statuses:
        query = query.where(B.status.in_(statuses))
    return (await session.scalars(query)).all()


# ------------------------------------------------------------------ the worker's side

@dataclass(frozen=True)
class Claimed:
    id: int
    broadcast_id: int
    platform: str
    chat_id: str
    resident_id: int | None
    attempts: int
    via: str | None = None             # "promotion": the next attempt goes through Zalo's promotion message


async def due_broadcasts(sessions: Sessions, now: datetime) -> list[int]:
    async with _tx(sessions) as session:
        return list((await session.scalars(
            select(B.id).where(B.status == SCHEDULED, B.scheduled_at <= now).order_by(B.scheduled_at, B.id)
        )).all())


async def start_broadcast(sessions: Sessions, broadcast_id: int, now: datetime) -> int | None:
    """scheduled → running with its recipients, in one transaction; the number
    of recipients, or None when another worker started it (or it was cancelled).

    Recipients are the active subscriptions at this moment: later subscribers
    are not added mid-send, and the unique key (broadcast, platform, chat)
    makes a second materialisation impossible and collapses residents who
    share a chat into one message.
    """
    async with _tx(sessions) as session:
        started = await session.execute(
            update(B).where(B.id == broadcast_id, B.status == SCHEDULED, B.scheduled_at <= now)
            .values(status=RUNNING, started_at=now)
        )
        if started.rowcount != 1:
            return None
        segment = Segment.from_json(await session.scalar(select(B.segment).where(B.id == broadcast_id)))
        chosen = _recipients(segment).with_only_columns(
            literal(broadcast_id), Subscription.resident_id, Subscription.platform, Subscription.chat_id,
            literal(PENDING), literal(0), literal(now, UTCDateTime()),
        )
        insert = insert_for(session)
        await session.execute(
            insert(R).from_select(
                ["broadcast_id", "resident_id", "platform", "chat_id", "status", "attempts", "next_attempt_at"],
                chosen,
            ).on_conflict_do_nothing(index_elements=[R.broadcast_id, R.platform, R.chat_id])
        )
        total = await session.scalar(select(func.count()).select_from(R).where(R.broadcast_id == broadcast_id))
        await session.execute(update(B).where(B.id == broadcast_id).values(total=total))
        return total


def _claimable(platforms: Sequence[str], now: datetime, stale_before: datetime, own_id: str | None):
    # Claimed by a worker that stopped renewing its lease (it died), or by an
    # earlier life of this very worker id (a restart with a stable id).
    stale = R.claimed_at < stale_before if own_id is None else or_(R.claimed_at < stale_before,
                                                                   R.claimed_by == own_id)
    return and_(
        R.platform.in_(platforms),
        R.broadcast_id.in_(select(B.id).where(B.status == RUNNING)),
        or_(and_(R.status == PENDING, R.next_attempt_at <= now), and_(R.status == SENDING, stale)),
    )


async def claim(sessions: Sessions, worker_id: str, platforms: Sequence[str], limit: int,
                now: datetime, lease: timedelta, *, own_stale: bool = False) -> list[Claimed]:
    """Up to ``limit`` rows due now, marked ``sending`` by ``worker_id``.

    ``own_stale``: also take back rows this worker id left in ``sending``
    (only at start-up: a restarted process with a stable id resumes at once).
    """
    stale_before = now - lease
    condition = _claimable(platforms, now, stale_before, worker_id if own_stale else None)
    returning = (T.c.id, T.c.broadcast_id, T.c.platform, T.c.chat_id, T.c.resident_id, T.c.attempts, T.c.via)
    claimed = {"status": SENDING, "claimed_by": worker_id, "claimed_at": now}
    async with _conn(sessions) as conn:
        if conn.dialect.name == "postgresql":
            ids = (await conn.scalars(
                select(T.c.id).where(condition).order_by(T.c.next_attempt_at, T.c.id).limit(limit)
                .with_for_update(skip_locked=True, of=T)
            )).all()
            if not ids:
                return []
            rows = (await conn.execute(
                update(T).where(T.c.id.in_(ids)).values(**claimed).returning(*returning))).all()
        else:
            picked = select(T.c.id).where(condition).order_by(T.c.next_attempt_at, T.c.id).limit(limit)
            rows = (await conn.execute(
                update(T).where(T.c.id.in_(picked.scalar_subquery())).values(**claimed).returning(*returning)
            )).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


# The hot path (one statement per message) runs Core statements built once,
# on a plain connection: no ORM unit of work, no per-call cache-key work.
_ROW = (T.c.id == bindparam("row_id")) & (T.c.claimed_by == bindparam("worker")) & (T.c.status == SENDING)
_MARK_SENT = update(T).where(_ROW).values(
    status=SENT, sent_at=bindparam("now"), attempts=T.c.attempts + 1, claimed_by=None, last_error=None)
_MARK_FINAL = update(T).where(_ROW).values(
    status=bindparam("new_status"), attempts=T.c.attempts + 1, claimed_by=None, last_error=bindparam("error"))
_MARK_RETRY = update(T).where(_ROW).values(
    status=bindparam("new_status"), attempts=bindparam("b_attempts"), next_attempt_at=bindparam("next_at"),
    claimed_by=None, claimed_at=None, last_error=bindparam("error"),
    maybe_delivered=T.c.maybe_delivered + bindparam("b_uncertain"))
_POSTPONE = update(T).where(_ROW).values(
    status=PENDING, claimed_by=None, claimed_at=None, next_attempt_at=bindparam("next_at"))
_TO_PROMOTION = update(T).where(_ROW).values(
    status=PENDING, via=PROMOTION, claimed_by=None, claimed_at=None, next_attempt_at=bindparam("next_at"),
    last_error=bindparam("error"))
_UNSUBSCRIBE = update(Subscription.__table__).where(
    Subscription.__table__.c.platform == bindparam("b_platform"),
    Subscription.__table__.c.chat_id == bindparam("b_chat_id"),
    Subscription.__table__.c.active.is_(True),
).values(active=False, updated_at=bindparam("b_now"))


async def renew(sessions: Sessions, worker_id: str, now: datetime) -> int:
    """Extend the lease on every row this worker holds; returns how many."""
    async with _conn(sessions) as conn:
        result = await conn.execute(
            update(T).where(T.c.claimed_by == worker_id, T.c.status == SENDING).values(claimed_at=now))
        return result.rowcount or 0


async def release(sessions: Sessions, worker_id: str, ids: Sequence[int]) -> int:
    """Give rows back untouched (not sent; shutdown, or the lease is in doubt).
    Rows of a broadcast cancelled meanwhile become ``cancelled``."""
    if not ids:
        return 0
    async with _conn(sessions) as conn:
        mine = and_(T.c.id.in_(list(ids)), T.c.claimed_by == worker_id, T.c.status == SENDING)
        cancelled = T.c.broadcast_id.in_(select(B.id).where(B.status == CANCELLED))
        await conn.execute(update(T).where(mine, cancelled).values(status=SKIPPED, claimed_by=None))
        result = await conn.execute(update(T).where(mine).values(status=PENDING, claimed_by=None, claimed_at=None))
        return result.rowcount or 0


async def postpone(sessions: Sessions, worker_id: str, row_id: int, until: datetime) -> bool:
    """Give one row back, due at ``until`` (its chat must wait); no attempt is counted."""
    async with _conn(sessions) as conn:
        result = await conn.execute(_POSTPONE, {"row_id": row_id, "worker": worker_id, "next_at": until})
        return result.rowcount == 1


async def to_promotion(sessions: Sessions, worker_id: str, row_id: int, error: str, now: datetime) -> bool:
    """Zalo said -230 (outside the 7-day window): due again at once, via the promotion message."""
    async with _conn(sessions) as conn:
        result = await conn.execute(_TO_PROMOTION, {"row_id": row_id, "worker": worker_id, "next_at": now,
                                                    "error": error[:ERROR_CHARS]})
        return result.rowcount == 1


async def mark_sent(sessions: Sessions, worker_id: str, row: Claimed, now: datetime) -> bool:
    """Record a delivery, in its own transaction right after the platform said ok.

    False when the row is no longer ours (our lease expired and another
    worker took it: it may send it again; logged by the caller).
    """
    async with _conn(sessions) as conn:
        result = await conn.execute(_MARK_SENT, {"row_id": row.id, "worker": worker_id, "now": now})
        return result.rowcount == 1


async def mark_final(sessions: Sessions, worker_id: str, row: Claimed, status: str, error: str,
                     now: datetime) -> bool:
    """failed / out_of_window / blocked / cancelled. Blocked also ends the chat's subscription."""
    async with _conn(sessions) as conn:
        result = await conn.execute(_MARK_FINAL, {"row_id": row.id, "worker": worker_id, "new_status": status,
                                                  "error": error[:ERROR_CHARS]})
        if result.rowcount != 1:
            return False
        if status == BLOCKED:
            await conn.execute(_UNSUBSCRIBE, {"b_platform": row.platform, "b_chat_id": row.chat_id, "b_now": now})
        return True


async def mark_retry(sessions: Sessions, worker_id: str, row: Claimed, *, error: str, next_at: datetime,
                     count_attempt: bool, max_attempts: int, maybe_delivered: bool = False) -> str:
    """Back to pending, due at ``next_at``; or failed once the attempts are used up.

    ``maybe_delivered``: the attempt reached the platform without a verdict;
    counted on the row (a later delivery may be a second copy).
    Returns the row's new status ("" when the row was no longer ours).
    """
    attempts = row.attempts + (1 if count_attempt else 0)
    status = FAILED if count_attempt and attempts >= max_attempts else PENDING
    async with _conn(sessions) as conn:
        result = await conn.execute(_MARK_RETRY, {
            "row_id": row.id, "worker": worker_id, "new_status": status, "b_attempts": attempts,
            "next_at": next_at, "error": error[:ERROR_CHARS], "b_uncertain": int(maybe_delivered)})
        return status if result.rowcount == 1 else ""


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform(0.5, 1) × min(cap, base × 2^(attempt-1))."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling * (0.5 + 0.5 * (rng or random).random())


# ------------------------------------------------------------------ end of a broadcast

async def running_broadcasts(sessions: Sessions) -> list[int]:
    async with _tx(sessions) as session:
        return list((await session.scalars(select(B.id).where(B.status == RUNNING))).all())


async def finish_if_complete(sessions: Sessions, broadcast_id: int, now: datetime) -> Counts | None:
    """running → done once no row is pending or sending; the final counts, or None."""
    async with _tx(sessions) as session:
        open_rows = exists().where(R.broadcast_id == broadcast_id, R.status.in_(OPEN_STATUSES))
        result = await session.execute(
            update(B).where(B.id == broadcast_id, B.status == RUNNING, ~open_rows)
            .values(status=DONE, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        final = await counts(session, broadcast_id)
        await _store_counts(session, broadcast_id, final)
        return final


async def _store_counts(session: AsyncSession, broadcast_id: int, c: Counts) -> None:
    await session.execute(
        update(B).where(B.id == broadcast_id)
        .values(sent=c.sent, failed=c.failed, blocked=c.blocked, out_of_window=c.out_of_window)
        .execution_options(synchronize_session=False)
    )


async def settle_cancelled(sessions: Sessions, now: datetime, lease: timedelta) -> int:
    """Rows of cancelled broadcasts still open: pending ones (given back or
    rescheduled after the cancel) and ``sending`` ones of a dead worker."""
    async with _tx(sessions) as session:
        result = await session.execute(
            update(R).where(or_(R.status == PENDING, and_(R.status == SENDING, R.claimed_at < now - lease)),
                            R.broadcast_id.in_(select(B.id).where(B.status == CANCELLED)))
            .values(status=SKIPPED, claimed_by=None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0


@dataclass
class ReportJob:
    broadcast: Broadcast
    counts: Counts = field(default_factory=Counts)


async def claim_report(sessions: Sessions, now: datetime, lease: timedelta,
                       platforms: Sequence[str]) -> ReportJob | None:
    """A finished broadcast whose official has not had the final report yet.

    Cancelled broadcasts wait until their in-flight messages are recorded.
    The claim (compare-and-set on ``report_claimed_at``) lets one worker of
    several send it; a worker dying before ``report_sent`` leaves it to
    another after the lease (the official may then get it twice).
    """
    async with _tx(sessions) as session:
        in_flight = exists().where(R.broadcast_id == B.id, R.status == SENDING)
        candidate = await session.scalar(
            select(B.id).where(
                B.status.in_((DONE, CANCELLED)), B.started_at.is_not(None), B.report_sent_at.is_(None),
                B.report_chat_id.is_not(None), B.report_platform.in_(list(platforms)),
                or_(B.report_claimed_at.is_(None), B.report_claimed_at < now - lease),
                or_(B.status == DONE, ~in_flight),
            ).order_by(B.id).limit(1)
        )
        if candidate is None:
            return None
        taken = await session.execute(
            update(B).where(B.id == candidate, B.report_sent_at.is_(None),
                            or_(B.report_claimed_at.is_(None), B.report_claimed_at < now - lease))
            .values(report_claimed_at=now).execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            return None
        final = await counts(session, candidate)
        await _store_counts(session, candidate, final)
        broadcast = await session.get(B, candidate, populate_existing=True)
        return ReportJob(broadcast, final)


async def report_owed(sessions: Sessions, platforms: Sequence[str]) -> bool:
    """A finished or cancelled broadcast still owes its official a report we could send."""
    async with _tx(sessions) as session:
        return await session.scalar(select(exists().where(
            B.status.in_((DONE, CANCELLED)), B.started_at.is_not(None), B.report_sent_at.is_(None),
            B.report_chat_id.is_not(None), B.report_platform.in_(list(platforms)),
        ))) or False


async def report_sent(sessions: Sessions, broadcast_id: int, now: datetime) -> None:
    async with _tx(sessions) as session:
        await session.execute(update(B).where(B.id == broadcast_id).values(report_sent_at=now))


async def claim_progress(sessions: Sessions, broadcast_id: int, now: datetime, interval: timedelta,
                         platforms: Sequence[str]) -> tuple[Broadcast, Counts] | None:
    """The right to update the official's progress message now (one worker per interval)."""
    async with _tx(sessions) as session:
        taken = await session.execute(
            update(B).where(B.id == broadcast_id, B.status == RUNNING, B.report_chat_id.is_not(None),
                            B.report_platform.in_(list(platforms)),
                            or_(B.progress_at.is_(None), B.progress_at <= now - interval))
            .values(progress_at=now).execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            return None
        broadcast = await session.get(B, broadcast_id, populate_existing=True)
        return broadcast, await counts(session, broadcast_id)


async def save_progress(sessions: Sessions, broadcast_id: int, *, message_id: str | None = None,
                        milestone: int | None = None) -> None:
    values: dict[str, Any] = {}
    if message_id is not None:
        values["progress_message_id"] = message_id
    if milestone is not None:
        values["progress_milestone"] = milestone
    if values:
        async with _tx(sessions) as session:
            await session.execute(update(B).where(B.id == broadcast_id).values(**values))
