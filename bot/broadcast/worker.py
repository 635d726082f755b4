"""The broadcast worker: drains the outbox at the speed each platform allows.

Runs inside `civicbot run` (started by `bot.runner.serve`, stopped with the
server) and standalone as `civicbot broadcast worker`, any number of them
against one PostgreSQL database (SQLite: one process).

    housekeeping (every poll_seconds)      per platform: feeder          lanes × concurrency
    ─ start due broadcasts (materialise)   claim batch ─► queue ─► wait limits ─► send ─► record
    ─ progress for the official (edit)     (SKIP LOCKED)
    ─ done? final report                   lease renewal (every lease/4)

Exactly once, and the one unavoidable window
--------------------------------------------
A row goes ``pending → sending`` when claimed (with this worker's id and a
timestamp, the lease), is sent, and is recorded ``sent`` (or blocked, ...)
*immediately, in its own short transaction* (`outbox.mark_sent`). Killed at
any moment, a restarted worker (or another one) finds every row either
final (never sent again) or ``pending``/``sending``; ``sending`` rows are
taken back once their lease expires (at once by a restart with the same
stable ``worker_id``) and sent. So nobody is skipped, and nobody who was
recorded gets a second copy.

The window that remains: the platform accepted a message and the process
died before the ``sent`` row committed. That row is sent again after the
restart. It spans one HTTP response plus one UPDATE, and it holds at most
one message per lane (``concurrency`` lanes per platform and process, each
with one message in flight); with ``concurrency = 1`` it is one message per
worker and platform.
No messenger offers an idempotency key to close it. A request that timed
out may also have been delivered; timeouts are retried (the choice that
risks a duplicate rather than a skip), which is the same window seen from
the network side.

Other guarantees
----------------
* A worker whose lease renewals fail (database gone) stops sending from its
  claimed rows before the lease could expire, so another worker taking them
  over does not race it.
* On a clean stop (SIGTERM), lanes finish the message in hand, and claimed
  rows not yet sent go back to ``pending`` at once.
* Cancelling takes effect within one housekeeping tick: rows already
  claimed are checked against the cancelled set before each send.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select

from bot.broadcast import outbox, texts
from bot.broadcast.outbox import Claimed
from bot.broadcast.ratelimit import PlatformLimiter, PlatformLimits
from bot.broadcast.senders import Announcement, Kind, Notifier, Outcome, Sender
from bot.messages import utcnow
from bot.settings import BroadcastSettings
from bot.storage import Database
from bot.storage.broadcast_models import (
    BLOCKED, CANCELLED, FAILED, OUT_OF_WINDOW, SKIPPED, Broadcast,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
MILESTONES = (25, 50, 75)            # Zalo cannot edit: a new message at these percentages
RECORD_RETRY_SECONDS = 0.5
PAUSE_HANDBACK_SECONDS = 0.25    # a wait longer than this gives the row back instead of holding a lane


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerStats:
    sent: int = 0
    rate_limited: int = 0
    transient: int = 0
    blocked: int = 0
    out_of_window: int = 0
    failed: int = 0
    lost_lease: int = 0
    started: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)


class BroadcastWorker:
    def __init__(self, db: Database, settings: BroadcastSettings, senders: dict[str, Sender],
                 notifiers: dict[str, Notifier] | None = None, *, worker_id: str | None = None,
                 clock: Callable[[], datetime] = utcnow, rng: random.Random | None = None):
        if not senders:
            raise ValueError("a broadcast worker needs at least one platform sender")
        self.db = db
        self.settings = settings
        self.senders = senders
        self.notifiers = notifiers if notifiers is not None else {}
        self.worker_id = (worker_id or settings.worker_id or default_worker_id())[:100]
        self.clock = clock
        self.rng = rng or random.Random()
        self.platforms = sorted(senders)
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.limiters = {p: PlatformLimiter(self._limits(p)) for p in self.platforms}
        self.stats = WorkerStats()
        # Each platform has its own queue, feeder and lanes: a paused or slow
        # platform (Zalo's quota, a Telegram flood wait) never holds the other's lanes.
        self._queues: dict[str, asyncio.Queue[Claimed]] = {p: asyncio.Queue() for p in self.platforms}
        self._messages: dict[int, Announcement] = {}
        self._cancelled: set[int] = set()
        self._last_progress: dict[int, str] = {}
        self._in_hand: set[int] = set()       # claimed rows a lane is working on
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._lease_ok_at = time.monotonic()
        self._first_claim = {p: True for p in self.platforms}
        self._tasks: list[asyncio.Task] = []
        self._lanes: list[asyncio.Task] = []

    def _limits(self, platform: str) -> PlatformLimits:
        s = self.settings
        if platform == "telegram":
            return PlatformLimits(s.telegram_per_second, s.telegram_burst, s.telegram_chat_interval_seconds)
        return PlatformLimits(s.zalo_per_second, s.zalo_burst, s.zalo_chat_interval_seconds)

    @property
    def sessions(self):
        return self.db.sessions

    # ------------------------------------------------------------ lifecycle

    async def run(self, until_idle: bool = False) -> None:
        """Work until `stop` (or, with ``until_idle``, until nothing is scheduled or running)."""
        log.info("broadcast worker %s started (%s; %d lane(s))", self.worker_id,
                 ", ".join(self.platforms), self.settings.concurrency)
        self._tasks = [
            asyncio.create_task(self._housekeeping(until_idle), name="broadcast-housekeeping"),
            asyncio.create_task(self._renew_leases(), name="broadcast-lease"),
            *(asyncio.create_task(self._feeder(p), name=f"broadcast-feeder-{p}") for p in self.platforms),
        ]
        self._lanes = [asyncio.create_task(self._lane(p), name=f"broadcast-lane-{p}-{i}")
                       for p in self.platforms for i in range(self.settings.concurrency)]
        try:
            await self._stop.wait()
        finally:
            await self._shutdown()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def _shutdown(self) -> None:
        self._stop.set()
        self._wake.set()
        # Lanes finish the message in hand (bounded by the HTTP timeout).
        grace = self.settings.request_timeout_seconds + 5
        _, late = await asyncio.wait(self._lanes, timeout=grace) if self._lanes else (set(), set())
        for task in [*late, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._lanes, *self._tasks, return_exceptions=True)
        unsent = [row.id for row in self._drain_queue()]
        if unsent:
            with contextlib.suppress(Exception):
                released = await outbox.release(self.sessions, self.worker_id, unsent)
                log.info("broadcast worker %s: %d claimed row(s) given back", self.worker_id, released)
        log.info("broadcast worker %s stopped", self.worker_id)

    def _drain_queue(self) -> list[Claimed]:
        rows = []
        for queue in self._queues.values():
            while not queue.empty():
                rows.append(queue.get_nowait())
        return rows

    def _queued(self) -> int:
        return sum(q.qsize() for q in self._queues.values())

    # ------------------------------------------------------------ claiming

    async def _feeder(self, platform: str) -> None:
        """Keep about two batches of ``platform``'s rows claimed ahead of its lanes."""
        batch, queue, limiter = self.settings.batch_size, self._queues[platform], self.limiters[platform]
        while not self._stop.is_set():
            if queue.qsize() >= batch:
                await self._sleep_stop(0.05)
                continue
            if not self._lease_fresh() or limiter.paused_for > PAUSE_HANDBACK_SECONDS:
                await self._sleep_stop(max(self.settings.poll_seconds, min(limiter.paused_for, 5.0)))
                continue
            try:
                rows = await outbox.claim(self.sessions, self.worker_id, [platform], batch,
                                          self.clock(), self.lease, own_stale=self._first_claim[platform])
                self._first_claim[platform] = False
            except Exception:
                log.exception("broadcast: claiming rows failed; retrying")
                await self._sleep_or_wake(self.settings.poll_seconds)
                continue
            for row in rows:
                queue.put_nowait(row)
            if not rows:
                await self._sleep_or_wake(self.settings.poll_seconds)

    async def _sleep_or_wake(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _lease_fresh(self) -> bool:
        """False once renewals have failed for most of a lease: stop sending claimed rows."""
        return time.monotonic() - self._lease_ok_at < self.settings.lease_seconds * 0.75

    async def _renew_leases(self) -> None:
        every = self.settings.lease_seconds / 4
        while not self._stop.is_set():
            try:
                await outbox.renew(self.sessions, self.worker_id, self.clock())
                self._lease_ok_at = time.monotonic()
            except Exception:
                log.exception("broadcast: renewing the lease failed")
            await self._sleep_stop(every)

    async def _sleep_stop(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    # ------------------------------------------------------------ sending

    async def _lane(self, platform: str) -> None:
        queue = self._queues[platform]
        while not self._stop.is_set():
            try:
                row = await asyncio.wait_for(queue.get(), 0.2)
            except asyncio.TimeoutError:
                continue
            self._in_hand.add(row.id)
            try:
                if self._stop.is_set():
                    queue.put_nowait(row)             # given back at shutdown
                    continue
                await self._deliver(row)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcast: delivering row %s failed unexpectedly", row.id)
            finally:
                self._in_hand.discard(row.id)

    async def _deliver(self, row: Claimed) -> None:
        if not self._lease_fresh():
            # Our hold on the row is in doubt. Hand it back (a no-op if another
            # worker took it): a row dropped silently would stay ``sending`` under
            # our id, and our own renewals would keep its lease alive for ever.
            await self._record(outbox.release, self.sessions, self.worker_id, [row.id])
            return
        message = await self._message(row.broadcast_id)
        if message is None or row.broadcast_id in self._cancelled:
            await self._record(outbox.mark_final, self.sessions, self.worker_id, row, SKIPPED,
                               "broadcast cancelled", self.clock())
            return
        limiter = self.limiters[row.platform]
        wait = max(limiter.chat_wait(row.chat_id), limiter.paused_for)
        if wait > PAUSE_HANDBACK_SECONDS:
            # This chat (a 429, or another broadcast just wrote to it) or the whole
            # platform must wait: hand the row back rather than hold a lane.
            await self._record(outbox.postpone, self.sessions, self.worker_id, row.id,
                               self.clock() + timedelta(seconds=wait))
            return
        if wait > 0:
            await asyncio.sleep(wait)
        await limiter.acquire(row.chat_id)
        if self._stop.is_set() or row.broadcast_id in self._cancelled or not self._lease_fresh():
            limiter.not_delivered()                  # given back (or cancelled, if the broadcast is)
            await self._record(outbox.release, self.sessions, self.worker_id, [row.id])
            return
        outcome = await self.senders[row.platform].send(row.chat_id, message)
        await self._settle(row, outcome, limiter)

    async def _settle(self, row: Claimed, outcome: Outcome, limiter: PlatformLimiter) -> None:
        now = self.clock()
        s = self.settings
        if outcome.kind is Kind.SENT:
            limiter.delivered()
            if await self._record(outbox.mark_sent, self.sessions, self.worker_id, row, now):
                self.stats.sent += 1
            else:
                self.stats.lost_lease += 1
                log.warning("broadcast row %s was sent after its lease passed to another worker; "
                            "the recipient may get it twice", row.id)
            return
        if outcome.kind is Kind.RETRY_AFTER:
            wait = outcome.retry_after or 1.0
            self.stats.rate_limited += 1
            if limiter.rate_limited(row.chat_id, wait, outcome.platform_wide):
                log.warning("broadcast: %s rate limit looks global, pausing %.1fs", row.platform, wait)
            await self._record(outbox.mark_retry, self.sessions, self.worker_id, row,
                               error=outcome.detail, next_at=now + timedelta(seconds=wait),
                               count_attempt=False, max_attempts=s.max_attempts)
            return
        if outcome.kind is Kind.TRANSIENT:
            limiter.not_delivered()
            self.stats.transient += 1
            delay = outbox.backoff(row.attempts + 1, s.backoff_base_seconds, s.backoff_max_seconds, self.rng)
            status = await self._record(outbox.mark_retry, self.sessions, self.worker_id, row,
                                        error=outcome.detail, next_at=now + timedelta(seconds=delay),
                                        count_attempt=True, max_attempts=s.max_attempts)
            if status == FAILED:
                self.stats.failed += 1
            return
        status = {Kind.BLOCKED: BLOCKED, Kind.OUT_OF_WINDOW: OUT_OF_WINDOW}.get(outcome.kind, FAILED)
        setattr(self.stats, status, getattr(self.stats, status) + 1)
        await self._record(outbox.mark_final, self.sessions, self.worker_id, row, status, outcome.detail, now)

    async def _record(self, fn: Callable[..., Awaitable[T]], *args, **kwargs) -> T:
        """Write an outcome, retrying through database hiccups: it must not be lost."""
        delay = RECORD_RETRY_SECONDS
        while True:
            try:
                return await fn(*args, **kwargs)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcast: recording an outcome failed; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _message(self, broadcast_id: int) -> Announcement | None:
        message = self._messages.get(broadcast_id)
        if message is None:
            async with self.sessions.begin() as session:
                row = (await session.execute(
                    select(Broadcast.text, Broadcast.photo_url, Broadcast.segment).where(Broadcast.id == broadcast_id)
                )).one_or_none()
            if row is None:
                return None
            # A direct message (an official's answer to one resident, from the console) goes
            # as written; an announcement gets its header and unsubscribe footer.
            text = row.text if (row.segment or {}).get("direct") else texts.announcement_text(row.text)
            message = self._messages[broadcast_id] = Announcement(text, row.photo_url)
        return message

    # ------------------------------------------------------------ housekeeping

    async def _housekeeping(self, until_idle: bool) -> None:
        while not self._stop.is_set():
            try:
                busy = await self.tick()
                if until_idle and not busy and not self._queued() and not self._in_hand:
                    self.stop()
                    return
            except Exception:
                log.exception("broadcast housekeeping failed; retrying")
            await self._sleep_stop(self.settings.poll_seconds)

    async def tick(self) -> bool:
        """One round: start due broadcasts, progress, finish, reports. True while work remains."""
        now = self.clock()
        for broadcast_id in await outbox.due_broadcasts(self.sessions, now):
            total = await outbox.start_broadcast(self.sessions, broadcast_id, now)
            if total is not None:
                self.stats.started.append(broadcast_id)
                log.info("broadcast #%s started: %d recipient(s)", broadcast_id, total)
                self._wake.set()
                await self._notify_start(broadcast_id, total)
        running = await outbox.running_broadcasts(self.sessions)
        await self._refresh_cancelled()
        for broadcast_id in running:
            final = await outbox.finish_if_complete(self.sessions, broadcast_id, self.clock())
            if final is not None:
                self.stats.finished.append(broadcast_id)
                log.info("broadcast #%s done: %d sent, %d failed, %d blocked, %d out of window",
                         broadcast_id, final.sent, final.failed, final.blocked, final.out_of_window)
            else:
                await self._progress(broadcast_id)
        await outbox.settle_cancelled(self.sessions, self.clock(), self.lease)
        while (job := await outbox.claim_report(self.sessions, self.clock(), self.lease,
                                                 list(self.notifiers))) is not None:
            await self._send_report(job)
        still_running = await outbox.running_broadcasts(self.sessions)
        return (bool(still_running) or bool(await outbox.due_broadcasts(self.sessions, self.clock()))
                or await outbox.report_owed(self.sessions, list(self.notifiers)))

    async def _refresh_cancelled(self) -> None:
        known = list(self._messages)
        if not known:
            return
        async with self.sessions.begin() as session:
            self._cancelled = set((await session.scalars(
                select(Broadcast.id).where(Broadcast.id.in_(known), Broadcast.status == CANCELLED)
            )).all())

    # -- messages to the official

    async def _notice(self, platform: str | None) -> Notifier | None:
        notifier = self.notifiers.get(platform or "")
        if notifier is not None:
            limiter = self.limiters.get(platform or "")
            if limiter is not None:
                await limiter.acquire()
        return notifier

    async def _notify_start(self, broadcast_id: int, total: int) -> None:
        async with self.sessions.begin() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.report_chat_id is None:
            return
        notifier = await self._notice(broadcast.report_platform)
        if notifier is None:
            return
        try:
            message_id = await notifier.post(broadcast.report_chat_id, texts.start_text(broadcast_id, total))
        except Exception:
            log.exception("broadcast #%s: start notice failed", broadcast_id)
            return
        if message_id and notifier.can_edit:
            await outbox.save_progress(self.sessions, broadcast_id, message_id=message_id)

    async def _progress(self, broadcast_id: int) -> None:
        claimed = await outbox.claim_progress(self.sessions, broadcast_id, self.clock(),
                                              timedelta(seconds=self.settings.progress_seconds),
                                              list(self.notifiers))
        if claimed is None:
            return
        broadcast, c = claimed
        notifier = await self._notice(broadcast.report_platform)
        if notifier is None or broadcast.report_chat_id is None:
            return
        text = texts.progress_text(broadcast_id, c, broadcast.total)
        if self._last_progress.get(broadcast_id) == text:
            return                                   # nothing new to show
        self._last_progress[broadcast_id] = text
        try:
            if notifier.can_edit:
                if broadcast.progress_message_id:
                    await notifier.edit(broadcast.report_chat_id, broadcast.progress_message_id, text)
                else:
                    message_id = await notifier.post(broadcast.report_chat_id, text)
                    if message_id:
                        await outbox.save_progress(self.sessions, broadcast_id, message_id=message_id)
                return
            percent = 100 * c.processed // broadcast.total if broadcast.total else 0
            reached = max((m for m in MILESTONES if percent >= m), default=0)
            if reached > broadcast.progress_milestone and c.processed < broadcast.total:   # else: the report
                await outbox.save_progress(self.sessions, broadcast_id, milestone=reached)
                await notifier.post(broadcast.report_chat_id, text)
        except Exception:
            log.exception("broadcast #%s: progress update failed", broadcast_id)

    async def _send_report(self, job: outbox.ReportJob) -> None:
        b, c = job.broadcast, job.counts
        seconds = (b.finished_at - b.started_at).total_seconds() if b.finished_at and b.started_at else None
        notifier = await self._notice(b.report_platform)
        try:
            if notifier is not None and b.report_chat_id is not None:
                if notifier.can_edit and b.progress_message_id:
                    await notifier.edit(b.report_chat_id, b.progress_message_id,
                                        texts.progress_text(b.id, c, b.total))
                await notifier.post(b.report_chat_id, texts.report_text(b.id, b.status, c, b.total, seconds))
        except Exception:
            log.exception("broadcast #%s: final report failed", b.id)
        await outbox.report_sent(self.sessions, b.id, self.clock())
