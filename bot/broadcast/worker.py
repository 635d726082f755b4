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
* Cancel means stop: right before each attempt the lane checks that the
  broadcast still runs, under a shared lock that `outbox.cancel_broadcast`
  takes exclusively (PostgreSQL), so once a cancel has returned no new send
  starts; sends already in flight finish and are counted in the report.
* The rate limits are one per platform for all processes
  (`bot.channels.limits`): replies to residents go first.
* Possible duplicates are counted: an attempt that reached the platform
  without a verdict (5xx, timeout: `Delivery.maybe_delivered`) and was
  tried again is recorded on the row and shown in the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select

from bot.broadcast import outbox, texts, zalo_promotion
from bot.broadcast.outbox import Claimed
from bot.channels.base import Channel
from bot.channels.delivery import Delivery, Outcome
from bot.channels.limits import Priority, RateLimiter, sending_limiter
from bot.messages import Reply, utcnow
from bot.settings import BroadcastSettings
from bot.storage import Database
from bot.storage.broadcast_models import (
    BLOCKED, CANCELLED, FAILED, NO_QUOTA, NOT_FOLLOWER, OUT_OF_WINDOW, PROMOTION, SKIPPED, Broadcast,
)
from bot.storage.sql import LOCAL_UTC_OFFSET

log = logging.getLogger(__name__)

T = TypeVar("T")
MILESTONES = (25, 50, 75)            # Zalo cannot edit: a new message at these percentages
RECORD_RETRY_SECONDS = 0.5
PAUSE_HANDBACK_SECONDS = 2.0     # a wait longer than this gives the row back instead of holding a lane
NOTICE_ATTEMPTS = 3
NOTICE_MAX_WAIT = 5.0
# Telegram's flood control answers 429 to everything; one chat's limit answers
# it to that chat. When this many of the last WINDOW answers are 429s the
# whole platform waits: at a 5% background rate of 429s that happens about
# once in 40,000 429s, while a real flood trips it within 8 answers.
WINDOW = 20
GLOBAL_429S = 8


@dataclass
class WorkerStats:
    sent: int = 0
    maybe_delivered: int = 0           # attempts without a verdict that were tried again
    rate_limited: int = 0
    transient: int = 0
    blocked: int = 0
    out_of_window: int = 0
    no_quota: int = 0
    not_follower: int = 0
    promoted: int = 0
    failed: int = 0
    lost_lease: int = 0
    started: list[int] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)


class BroadcastWorker:
    def __init__(self, db: Database, settings: BroadcastSettings, channels: dict[str, Channel], *,
                 worker_id: str, limiter: RateLimiter | None = None, promotion: Channel | None = None,
                 send_timeout: float = 10.0, clock: Callable[[], datetime] = utcnow,
                 rng: random.Random | None = None):
        if not channels:
            raise ValueError("a broadcast worker needs at least one platform channel")
        self.db = db
        self.settings = settings
        self.send_timeout = send_timeout
        self.channels = channels              # also carry progress and reports to officials
        # Zalo's promotion message, for followers outside the 7-day window (None: not used).
        self.promotion = promotion
        self._quota_used_up_on = None         # the day (Việt Nam) Zalo said -211: no more promotions
        self.worker_id = worker_id[:100]
        self.clock = clock
        self.rng = rng or random.Random()
        self.platforms = sorted(channels)
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.limiter = limiter or sending_limiter(db, settings)
        self._recent_429s = {p: deque(maxlen=WINDOW) for p in self.platforms}   # True: a 429
        self.stats = WorkerStats()
        # Each platform has its own queue, feeder and lanes: a paused or slow
        # platform (Zalo's quota, a Telegram flood wait) never holds the other's lanes.
        self._queues: dict[str, asyncio.Queue[Claimed]] = {p: asyncio.Queue() for p in self.platforms}
        self._messages: dict[int, Reply] = {}
        # Direct messages (an official's answer to one resident) are never sent as Zalo
        # promotions: outside the 7-day window they end "out_of_window", shown to the official.
        self._direct: set[int] = set()
        self._cancelled: set[int] = set()
        self._last_progress: dict[int, str] = {}
        self._in_hand: set[int] = set()       # claimed rows a lane is working on
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._lease_ok_at = time.monotonic()
        self._first_claim = {p: True for p in self.platforms}
        self._tasks: list[asyncio.Task] = []
        self._lanes: list[asyncio.Task] = []

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
        grace = self.send_timeout + 5
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
        batch, queue = self.settings.batch_size, self._queues[platform]
        while not self._stop.is_set():
            if queue.qsize() >= batch:
                await self._sleep_stop(0.05)
                continue
            paused_for = await self._paused_for(platform)
            if not self._lease_fresh() or paused_for > PAUSE_HANDBACK_SECONDS:
                await self._sleep_stop(max(self.settings.poll_seconds, min(paused_for, 5.0)))
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

    async def _paused_for(self, platform: str) -> float:
        try:
            return await self.limiter.paused_for(platform)
        except Exception:
            log.exception("broadcast: reading the %s pause failed", platform)
            return 0.0

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
            await self._skip(row)
            return
        promoted = row.via == PROMOTION
        if promoted and (self.promotion is None or self._quota_used_up()):
            await self._record(outbox.mark_final, self.sessions, self.worker_id, row, NO_QUOTA,
                               "the OA's promotion quota is used up", self.clock())
            self.stats.no_quota += 1
            return
        channel = self.promotion if promoted else self.channels[row.platform]
        wait, delivery = 0.0, None
        # The check that the broadcast still runs, the limiter's admission and the
        # request follow each other closely: the admission moment is the moment
        # the request leaves, which is what the platform's window counts.
        async with outbox.send_gate(self.sessions, row.broadcast_id) as running:
            if running:
                wait = await self.limiter.acquire(row.platform, row.chat_id, Priority.BROADCAST,
                                                  max_wait=PAUSE_HANDBACK_SECONDS)
                if wait == 0 and not self._stop.is_set() and self._lease_fresh():
                    delivery = await channel.send(row.chat_id, message)
        if not running:                          # cancelled: checked right before the attempt
            self._cancelled.add(row.broadcast_id)
            await self._skip(row)
        elif wait > 0:
            # This chat (a 429, or another broadcast just wrote to it) or the whole
            # platform must wait long: hand the row back rather than hold a lane.
            await self._record(outbox.postpone, self.sessions, self.worker_id, row.id,
                               self.clock() + timedelta(seconds=wait))
        elif delivery is None:                   # stopping, or our lease is in doubt
            await self._record(outbox.release, self.sessions, self.worker_id, [row.id])
        else:
            await self._settle(row, delivery)

    async def _skip(self, row: Claimed) -> None:
        await self._record(outbox.mark_final, self.sessions, self.worker_id, row, SKIPPED,
                           "broadcast cancelled", self.clock())

    def _today(self):
        return (self.clock() + LOCAL_UTC_OFFSET).date()

    def _quota_used_up(self) -> bool:
        return self._quota_used_up_on == self._today()

    def _flood(self, platform: str, rate_limited: bool) -> bool:
        """Record one answer; True when the 429s look platform-wide."""
        recent = self._recent_429s[platform]
        recent.append(rate_limited)
        if sum(recent) >= GLOBAL_429S:
            recent.clear()
            return True
        return False

    async def _settle(self, row: Claimed, delivery: Delivery) -> None:
        now = self.clock()
        s = self.settings
        outcome = delivery.outcome
        flooded = self._flood(row.platform, outcome is Outcome.RETRY_AFTER)
        if outcome is Outcome.DELIVERED:
            if await self._record(outbox.mark_sent, self.sessions, self.worker_id, row, now):
                self.stats.sent += 1
                self.stats.promoted += row.via == PROMOTION
            else:
                self.stats.lost_lease += 1
                log.warning("broadcast row %s was sent after its lease passed to another worker; "
                            "the recipient may get it twice", row.id)
            return
        if outcome is Outcome.RETRY_AFTER:
            wait = delivery.retry_after or 1.0
            self.stats.rate_limited += 1
            platform_wide = delivery.platform_wide or flooded
            if platform_wide:
                log.warning("broadcast: %s rate limit looks global, pausing %.1fs", row.platform, wait)
            await self.limiter.penalize(row.platform, row.chat_id, wait, platform_wide)
            await self._record(outbox.mark_retry, self.sessions, self.worker_id, row,
                               error=delivery.detail, next_at=now + timedelta(seconds=wait),
                               count_attempt=False, max_attempts=s.max_attempts)
            return
        if outcome is Outcome.TRANSIENT:
            self.stats.transient += 1
            self.stats.maybe_delivered += delivery.maybe_delivered
            delay = outbox.backoff(row.attempts + 1, s.backoff_base_seconds, s.backoff_max_seconds, self.rng)
            status = await self._record(outbox.mark_retry, self.sessions, self.worker_id, row,
                                        error=delivery.detail, next_at=now + timedelta(seconds=delay),
                                        count_attempt=True, max_attempts=s.max_attempts,
                                        maybe_delivered=delivery.maybe_delivered)
            if status == FAILED:
                self.stats.failed += 1
            return
        promotable = self.promotion is not None and row.broadcast_id not in self._direct
        if outcome is Outcome.OUTSIDE_WINDOW and promotable and row.via is None and not self._quota_used_up():
            await self._record(outbox.to_promotion, self.sessions, self.worker_id, row.id, delivery.detail, now)
            return
        status = {Outcome.BLOCKED: BLOCKED, Outcome.OUTSIDE_WINDOW: OUT_OF_WINDOW}.get(outcome, FAILED)
        if outcome is Outcome.OUTSIDE_WINDOW and promotable:
            status = NO_QUOTA                    # the promotion message would have been next
        if row.via == PROMOTION and delivery.detail.startswith(zalo_promotion.QUOTA):
            self._quota_used_up_on = self._today()
            status = NO_QUOTA
        elif row.via == PROMOTION and delivery.detail.startswith(zalo_promotion.NOT_FOLLOWER):
            status = NOT_FOLLOWER
        setattr(self.stats, status, getattr(self.stats, status) + 1)
        await self._record(outbox.mark_final, self.sessions, self.worker_id, row, status, delivery.detail, now)

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

    async def _message(self, broadcast_id: int) -> Reply | None:
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
            direct = bool((row.segment or {}).get("direct"))
            if direct:
                self._direct.add(broadcast_id)
            text = row.text if direct else texts.announcement_text(row.text)
            message = self._messages[broadcast_id] = Reply(text, preview_url=row.photo_url)
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
                                                 self.platforms)) is not None:
            await self._send_report(job)
        still_running = await outbox.running_broadcasts(self.sessions)
        return (bool(still_running) or bool(await outbox.due_broadcasts(self.sessions, self.clock()))
                or await outbox.report_owed(self.sessions, self.platforms))

    async def _refresh_cancelled(self) -> None:
        known = list(self._messages)
        if not known:
            return
        async with self.sessions.begin() as session:
            self._cancelled = set((await session.scalars(
                select(Broadcast.id).where(Broadcast.id.in_(known), Broadcast.status == CANCELLED)
            )).all())

    # -- messages to the official

    async def _post(self, platform: str | None, chat_id: str, text: str) -> str | None:
        """A message to the official; its id (for edits), "" without one, None when it did not go out."""
        delivery = await self._notice(platform, chat_id, lambda channel: channel.send(chat_id, Reply(text)))
        if delivery is None or not delivery.delivered:
            return None
        return delivery.message_ids[0] if delivery.message_ids else ""

    async def _edit(self, platform: str | None, chat_id: str, message_id: str, text: str) -> bool:
        delivery = await self._notice(platform, chat_id,
                                      lambda channel: channel.edit(chat_id, message_id, Reply(text)))
        return delivery is not None and delivery.delivered

    def _can_edit(self, platform: str | None) -> bool:
        channel = self.channels.get(platform or "")
        return channel is not None and channel.limits.can_edit

    async def _notice(self, platform: str | None, chat_id: str,
                      attempt: Callable[[Channel], Awaitable[Delivery]]) -> Delivery | None:
        """A few quick retries: a lost progress line is no tragedy, a lost report is.
        Notices are answers to an official: they go first, like replies."""
        channel = self.channels.get(platform or "")
        if channel is None:
            return None
        delivery = None
        for number in range(1, NOTICE_ATTEMPTS + 1):
            wait = await self.limiter.acquire(channel.platform, chat_id, Priority.REPLY, max_wait=NOTICE_MAX_WAIT)
            delivery = await attempt(channel) if wait == 0 else \
                Delivery(Outcome.RETRY_AFTER, retry_after=wait, detail="the platform is paused")
            if not delivery.retryable or number == NOTICE_ATTEMPTS:
                break
            await asyncio.sleep(min(delivery.retry_after or 0.5 * number, NOTICE_MAX_WAIT))
        if delivery is not None and not delivery.delivered:
            log.info("broadcast notice to the official not delivered: %s", delivery.detail)
        return delivery

    async def _notify_start(self, broadcast_id: int, total: int) -> None:
        async with self.sessions.begin() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.report_chat_id is None:
            return
        try:
            message_id = await self._post(broadcast.report_platform, broadcast.report_chat_id,
                                          texts.start_text(broadcast_id, total))
        except Exception:
            log.exception("broadcast #%s: start notice failed", broadcast_id)
            return
        if message_id and self._can_edit(broadcast.report_platform):
            await outbox.save_progress(self.sessions, broadcast_id, message_id=message_id)

    async def _progress(self, broadcast_id: int) -> None:
        claimed = await outbox.claim_progress(self.sessions, broadcast_id, self.clock(),
                                              timedelta(seconds=self.settings.progress_seconds),
                                              self.platforms)
        if claimed is None:
            return
        b, c = claimed
        if b.report_chat_id is None or b.report_platform not in self.channels:
            return
        text = texts.progress_text(broadcast_id, c, b.total)
        if self._last_progress.get(broadcast_id) == text:
            return                                   # nothing new to show
        self._last_progress[broadcast_id] = text
        try:
            if self._can_edit(b.report_platform):
                if b.progress_message_id:
                    await self._edit(b.report_platform, b.report_chat_id, b.progress_message_id, text)
                else:
                    message_id = await self._post(b.report_platform, b.report_chat_id, text)
                    if message_id:
                        await outbox.save_progress(self.sessions, broadcast_id, message_id=message_id)
                return
            percent = 100 * c.processed // b.total if b.total else 0
            reached = max((m for m in MILESTONES if percent >= m), default=0)
            if reached > b.progress_milestone and c.processed < b.total:   # else: the report
                await outbox.save_progress(self.sessions, broadcast_id, milestone=reached)
                await self._post(b.report_platform, b.report_chat_id, text)
        except Exception:
            log.exception("broadcast #%s: progress update failed", broadcast_id)

    async def _send_report(self, job: outbox.ReportJob) -> None:
        b, c = job.broadcast, job.counts
        seconds = (b.finished_at - b.started_at).total_seconds() if b.finished_at and b.started_at else None
        try:
            if b.report_chat_id is not None:
                if self._can_edit(b.report_platform) and b.progress_message_id:
                    await self._edit(b.report_platform, b.report_chat_id, b.progress_message_id,
                                     texts.progress_text(b.id, c, b.total))
                await self._post(b.report_platform, b.report_chat_id,
                                 texts.report_text(b.id, b.status, c, b.total, seconds))
        except Exception:
            log.exception("broadcast #%s: final report failed", b.id)
        await outbox.report_sent(self.sessions, b.id, self.clock())
