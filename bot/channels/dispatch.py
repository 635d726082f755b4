"""The durable message path: accept an update, process it once, deliver its replies.

    messenger → accept(incoming) → inbox row (group commit) → webhook 200 / polling offset
    chat worker: send what the chat is owed (reply outbox, retried) → next inbox row
                 → Pipeline.process → replies + processed_at, one transaction → send …

One worker per chat at a time, in this process: a chat's updates are
processed in arrival order, and an update is not processed before the
replies to the earlier ones are out or finally failed, so a quiz never moves
past a question the resident has not seen. Different chats run concurrently.

A reply that fails transiently (5xx, timeout, connection reset, rate limit)
is retried with exponential backoff and full jitter until it is delivered or
its deadline passes (``Settings.reply_deadline_seconds``); what finally fails
is recorded with its reason (``civicbot stats``). A reply that replaces a
menu (`Reply.replaces_menu`, after a tap) is stored with the id of the
message holding the menu and edits it (`Channel.edit`); an edit the platform
refuses (too old, deleted, a poll) is sent as a new message. Before each attempt the
`SendGate` (the rate limiter) is asked. The worker keeps the replies it
owes in memory between attempts and writes only the outcome (group commit):
the database work per update is one read, the update's own transaction and
a share of one write, so bookkeeping does not eat the event loop.

After a crash, `resume` restarts a worker for every chat with an unprocessed
update or an unsent reply: nothing acknowledged is lost, and an update is
processed once because ``processed_at`` commits with what its handlers wrote.

Several processes (replicas behind one webhook port) share the tables: a
chat's worker holds the chat's lease (``chat_leases``, renewed while it
works, expiring by itself if the process dies), so one process at a time
works on a chat; a sweep every ``SWEEP_SECONDS`` picks up chats whose worker
died elsewhere or whose wake-up went to a process that could not take the lease.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import Channel, NoGate, SendGate
from bot.channels.delivery import Delivery, Outcome
from bot.channels.wire import EDITS, incoming_from_json, incoming_to_json, replies_to_json, reply_from_json
from bot.messages import Incoming, Reply, utcnow
from bot.pipeline import Pipeline
from bot.storage import inbox
from bot.storage.delivery_models import FAILED, SENT

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 60.0
PRUNE_EVERY = timedelta(minutes=10)
DRAIN_SECONDS = 5.0
LEASE_SECONDS = 120.0
LEASE_TRIES = 10                             # a lease held elsewhere: tried again this often,
LEASE_RETRY_SECONDS = (0.1, 0.4)             # this far apart, then left to the sweep
SWEEP_SECONDS = 30.0


def backoff(attempts: int, base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_MAX_SECONDS,
            rng: Callable[[], float] = random.random) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, full jitter (at least half)."""
    ceiling = min(cap, base * 2 ** max(attempts - 1, 0))
    return ceiling * (0.5 + rng() / 2)


class NotAccepting(RuntimeError):
    """An update that arrives before the path is open or while it closes: not stored, not acknowledged."""


class ChatDispatcher:
    def __init__(self, pipeline: Pipeline, channels: dict[str, Channel], *,
                 deadline_seconds: float = 600.0, gate: SendGate | None = None,
                 clock: Callable[[], datetime] = utcnow, backoff_base: float = BACKOFF_BASE_SECONDS,
                 holder: str | None = None, leases: bool | None = None):
        db = pipeline.deps.db
        if db is None:
            raise ValueError("the durable message path needs a database")
        self.pipeline = pipeline
        self.channels = channels
        self.deadline = timedelta(seconds=deadline_seconds)
        self.gate = gate or NoGate()
        self._backoff_base = backoff_base
        self._sessions = db.sessions
        self._clock = clock
        # Acknowledging must not queue behind the updates being processed: a connection of its own.
        self._inbox = inbox.InboxWriter.for_database(db, clock)
        self._outcomes = inbox.OutcomeWriter(db.sessions, clock)
        # Chat leases where several processes can share the tables (PostgreSQL; SQLite is one process).
        self._leases = db.dialect == "postgresql" if leases is None else leases
        self._workers: dict[tuple[str, str], asyncio.Task] = {}
        self._lease_until: dict[tuple[str, str], datetime] = {}
        self._poked: set[tuple[str, str]] = set()
        self._next_prune = clock()
        self._closing = False
        self.holder = holder or f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._sweeper: asyncio.Task | None = None

    # -- in -------------------------------------------------------------------------

    async def accept(self, msg: Incoming) -> None:
        """Store ``msg`` durably (the messenger acknowledges it afterwards) and have it processed.

        A redelivered update (same platform message id) is stored once and processed once.
        Raises `NotAccepting` once closing (the messenger does not acknowledge; it is redelivered).
        """
        if self._closing:
            raise NotAccepting("shutting down")
        key = msg.message_id or f"local:{uuid.uuid4().hex}"
        new = await self._inbox.store(inbox.NewUpdate(msg.platform, key, msg.chat_id, incoming_to_json(msg)))
        if not new:
            log.info("duplicate delivery %s:%s dropped", msg.platform, key)
            return
        self.wake(msg.platform, msg.chat_id)

    async def rehearse(self, msg: Incoming) -> None:
        """One update through the whole path (inbox, pipeline, outbox, a channel that
        sends nothing) before real updates come, so the first resident's answer does not
        pay for first statements and connections. The caller deletes what it stored."""
        self.channels[msg.platform] = _Rehearsal(msg.platform)
        try:
            await self.accept(msg)
            worker = self._workers.get((msg.platform, msg.chat_id))
            if worker is not None:
                await asyncio.wait({worker})
        finally:
            del self.channels[msg.platform]
            await inbox.forget_platform(self._sessions, msg.platform)

    def wake(self, platform: str, chat_id: str) -> None:
        """Make sure the chat's worker runs (it re-reads the inbox before it stops)."""
        if self._closing or platform not in self.channels:
            return
        key = (platform, chat_id)
        if key in self._workers:
            self._poked.add(key)
            return
        task = asyncio.create_task(self._run_chat(platform, chat_id), name=f"chat-{platform}")
        self._workers[key] = task

    async def resume(self) -> int:
        """After a restart: a worker for every chat that still has work; how many."""
        chats = await inbox.chats_with_work(self._sessions, sorted(self.channels))
        for platform, chat_id in chats:
            self.wake(platform, chat_id)
        if chats and not self._workers:
            log.info("resuming %d chat(s) with unprocessed updates or unsent replies", len(chats))
        return len(chats)

    # -- the chat's worker -------------------------------------------------------------

    async def _run_chat(self, platform: str, chat_id: str) -> None:
        key = (platform, chat_id)
        leased = False
        try:
            leased = await self._take_lease(platform, chat_id)
            if not leased:              # another process works on this chat; it reads the inbox too
                return
            await self._send(platform, chat_id, await inbox.owed_replies(self._sessions, platform, chat_id))
            await self._prune_now_and_then()
            while not self._closing:                # shutting down: the rest waits for the next start
                row = await inbox.next_update(self._sessions, platform, chat_id)
                if row is None:
                    # No await from here to the end of `finally`, or an update accepted
                    # meanwhile would find this worker still registered and be left behind.
                    if key in self._poked:          # an update arrived while we looked
                        self._poked.discard(key)
                        continue
                    break
                await self._keep_lease(platform, chat_id)
                owed = await self._process(row.id, incoming_from_json(row.incoming))
                await self._send(platform, chat_id, owed)
                if not (row.more or key in self._poked or self._leases):
                    # Nothing left when it was read, nothing accepted since (every update this
                    # process accepts pokes the chat's running worker; with leases, other
                    # processes store updates too, so look again). No await from here on.
                    break
        except asyncio.CancelledError:
            raise
        except Exception:
            # The rows stay; the next update of this chat (or a restart) picks them up.
            log.exception("chat worker for a %s chat failed", platform)
        finally:
            self._poked.discard(key)
            self._lease_until.pop(key, None)
            if self._workers.get(key) is asyncio.current_task():
                del self._workers[key]
            if leased and self._leases:         # (a new worker for the chat waits for this lease)
                try:
                    await asyncio.shield(inbox.drop_lease(self._sessions, platform, chat_id, self.holder))
                except Exception:           # it expires by itself
                    log.warning("could not drop a chat lease", exc_info=True)

    # -- several processes: the chat's lease (PostgreSQL; SQLite is one process) ------------

    async def _take_lease(self, platform: str, chat_id: str) -> bool:
        if not self._leases:
            return True
        for attempt in range(LEASE_TRIES):
            if await self._extend_lease(platform, chat_id):
                return True
            if attempt < LEASE_TRIES - 1:
                await asyncio.sleep(random.uniform(*LEASE_RETRY_SECONDS))
        return False

    async def _extend_lease(self, platform: str, chat_id: str) -> bool:
        now = self._clock()
        until = now + timedelta(seconds=LEASE_SECONDS)
        taken = await inbox.take_lease(self._sessions, platform, chat_id, self.holder, now, until)
        if taken:
            self._lease_until[(platform, chat_id)] = until
        return taken

    async def _keep_lease(self, platform: str, chat_id: str) -> None:
        """Extend the chat's lease once half of it has run (a chat busy for longer than a
        lease stays this process's); not on every backoff step, which cost a transaction
        per retried send."""
        if not self._leases:
            return
        until = self._lease_until.get((platform, chat_id))
        if until is not None and until - self._clock() > timedelta(seconds=LEASE_SECONDS / 2):
            return
        if not await self._extend_lease(platform, chat_id):
            raise RuntimeError("chat lease lost")    # this process stalled; another one took over

    async def _sleep_leased(self, platform: str, chat_id: str, seconds: float) -> None:
        """Wait (a backoff) while keeping the chat's lease."""
        while seconds > 0:
            step = min(seconds, LEASE_SECONDS / 4)
            await asyncio.sleep(step)
            seconds -= step
            await self._keep_lease(platform, chat_id)

    # -- processing and sending --------------------------------------------------------------

    async def _process(self, inbox_id: int, msg: Incoming) -> list[inbox.Owed]:
        """Run the update through the pipeline; the replies it owes, stored with its writes."""
        owed: list[inbox.Owed] = []

        async def record(session: AsyncSession | None, replies: list[Reply]) -> None:
            if session is None:
                async with self._sessions.begin() as own:
                    owed[:] = await self._record(own, inbox_id, msg, replies)
            else:
                owed[:] = await self._record(session, inbox_id, msg, replies)

        await self.pipeline.process(msg, record=record)
        return owed

    async def _record(self, session: AsyncSession, inbox_id: int, msg: Incoming,
                      replies: list[Reply]) -> list[inbox.Owed]:
        """In the update's transaction: it is processed, and these replies are owed."""
        now = self._clock()
        if not await inbox.mark_processed(session, inbox_id, now):
            raise RuntimeError("update already processed by another worker")
        return await inbox.add_replies(session, msg.platform, msg.chat_id, inbox_id,
                                       replies_to_json(replies, msg.menu_message_id), now, now + self.deadline)

    async def _send(self, platform: str, chat_id: str, owed: list[inbox.Owed]) -> None:
        """Send the chat's replies in order, each until delivered or finally failed."""
        for reply in owed:
            await self._deliver(platform, chat_id, reply)

    async def _deliver(self, platform: str, chat_id: str, owed: inbox.Owed) -> None:
        channel = self.channels[platform]
        reply = reply_from_json(owed.reply)
        while True:
            wait = (owed.next_attempt_at - self._clock()).total_seconds()
            if wait > 0:
                await self._sleep_leased(platform, chat_id, wait)
            await self.gate.acquire(platform, chat_id)
            delivery = await self._attempt(channel, chat_id, reply, owed)
            owed.attempts += 1
            owed.maybe_delivered += int(delivery.maybe_delivered)
            owed.parts_done += delivery.parts_sent if not delivery.delivered else 0   # a retry sends the rest
            if delivery.delivered:
                await self._outcomes.record(inbox.Finished(owed, SENT))
                return
            detail = f"{delivery.outcome.value}: {delivery.detail}"
            if delivery.retryable:
                wait = delivery.retry_after if delivery.retry_after else backoff(owed.attempts, self._backoff_base)
                next_at = self._clock() + timedelta(seconds=wait)
                if next_at <= owed.deadline_at:
                    log.info("reply %s not delivered (%s), retrying in %.1f s", owed.id, detail, wait)
                    owed.next_attempt_at = next_at
                    continue
                detail = f"deadline passed; last: {detail}"
            log.warning("reply %s not delivered, given up (%s)", owed.id, detail)
            await self._outcomes.record(inbox.Finished(owed, FAILED, detail))
            return

    async def _attempt(self, channel: Channel, chat_id: str, reply: Reply, owed: inbox.Owed) -> Delivery:
        """One attempt: a reply that replaces a menu edits the message holding it; an edit
        refused (too old, deleted, a poll, too long for one message) becomes a new message.
        "Not modified" (the same menu tapped twice) is the channel's success."""
        edits = owed.reply.get(EDITS)
        if edits is not None:
            delivery = await channel.edit(chat_id, edits, reply)
            if delivery.outcome is not Outcome.PERMANENT:
                return delivery             # edited, or retried as an edit (429, 5xx)
            log.info("menu %s not edited (%s): sent as a new message", edits, delivery.detail)
            owed.reply = {**owed.reply, EDITS: None}      # the retries send it too
        if owed.parts_done:
            return await channel.send(chat_id, reply, skip_parts=owed.parts_done)
        return await channel.send(chat_id, reply)

    async def _prune_now_and_then(self) -> None:
        now = self._clock()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        try:
            await inbox.prune(self._sessions, now)
        except Exception:       # housekeeping must never cost a reply
            log.exception("pruning the inbox and reply outbox failed")

    # -- lifecycle ---------------------------------------------------------------------

    def start_sweeping(self) -> None:
        """Every ``SWEEP_SECONDS``, a worker for each chat with work and none running here."""
        async def sweep() -> None:
            while True:
                await asyncio.sleep(SWEEP_SECONDS)
                try:
                    await self.resume()
                except Exception:
                    log.exception("sweeping for chats with work failed")

        self._sweeper = asyncio.create_task(sweep(), name="chat-sweeper")

    @property
    def busy(self) -> bool:
        """Some chat has work in hand."""
        return bool(self._workers)

    async def idle(self) -> None:
        """Wait until no chat has work in hand (tests, benchmarks)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def close(self, drain_seconds: float = DRAIN_SECONDS) -> None:
        """Take no new work; give the workers ``drain_seconds`` to finish what they hold (a send
        cut off in flight may be delivered and then sent again), then stop them. What they had
        not finished stays in the database for the next start."""
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        workers = list(self._workers.values())
        if workers:
            _, pending = await asyncio.wait(workers, timeout=drain_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        await self._inbox.close()


class _Rehearsal:
    """The channel of `ChatDispatcher.rehearse`: every reply "delivered", nothing sent."""

    limits = None

    def __init__(self, platform: str):
        self.platform = platform

    async def send(self, chat_id: str, reply: Reply, **_) -> Delivery:
        return Delivery.ok()

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> Delivery:
        return Delivery.ok()

    async def aclose(self) -> None:
        return None
