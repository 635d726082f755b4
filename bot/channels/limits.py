"""One sending limit per platform, shared by every process that sends for the bot.

    limiter = limiter_for(db, rates)                     # one per process
    await limiter.acquire("telegram", chat_id)           # a chat reply: first in line
    wait = await limiter.acquire("telegram", chat_id, Priority.BROADCAST, max_wait=2.0)
    if wait: ...                                         # not admitted: hand the row back for ``wait`` s
    await limiter.penalize("telegram", chat_id, 3.0)     # the platform said 429, retry_after 3

The rule is a sliding window over the moments messages were *admitted*: a
platform allowing ``per_second`` messages gets at most ``n = floor(per_second)``
(at least 1) in any window of ``n / per_second`` seconds (1 s for Telegram's
30/s), plus a small ``margin`` so that the few milliseconds between admission
and the request reaching the platform cannot squeeze 31 messages into one of
its seconds. Admission happens at the moment of sending, never for a slot in
the future: a lane that wakes up late only sends later, it never compresses
the messages after it (a token bucket or a slot schedule would). Messages are
also kept at least half an interval apart, so the window fills evenly rather
than in one burst. One chat gets one message per ``chat_interval`` seconds.

Where the window lives:

* PostgreSQL: one row per platform (``rate_limit_state``: the last ``n``
  admission times, a pause after a flood 429, a "replies are waiting" mark)
  locked with ``SELECT … FOR UPDATE`` for the few milliseconds of the
  decision, and one row per recently written chat (``rate_limit_chats``).
  Times are the database's clock, so processes on several hosts agree.
  Any number of bot replicas and broadcast workers then share one limit.
* SQLite: the bot is one process; the same window lives in memory.

Replies first: a reply that has to wait marks the platform "replies waiting"
for that long, and broadcasts are not admitted while the mark stands, so a
resident's answer takes the next free place instead of queuing behind an
announcement to 10,000 people. Broadcasts get what replies leave.

A 429 is told with `penalize`: the chat waits ``retry_after``; a platform-wide
one (Telegram's flood control, Zalo's -32) pauses every sender of the platform.
"""

from __future__ import annotations

import asyncio
import enum
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import text

from bot.channels import registry

DEFAULT_MARGIN_SECONDS = 0.03       # admission → arrival at the platform, with room to spare
REPLIES_WAITING_GRACE = 0.1         # how long past its wait a waiting reply keeps broadcasts back
CHAT_MEMORY_SECONDS = 120.0         # chat rows older than this are pruned (PostgreSQL)
PRUNE_EVERY = 500                   # admissions between two prunes


class Priority(enum.IntEnum):
    REPLY = 0                       # an answer to a resident: first in line
    BROADCAST = 1                   # an announcement: when no reply is waiting


@dataclass(frozen=True)
class Rate:
    """What the platform allows: ``per_second`` for the whole bot (0: no limit), and chat spacing."""

    per_second: float
    chat_interval: float = 0.0

    @property
    def window_size(self) -> int:
        return max(1, math.floor(self.per_second))

    @property
    def window_seconds(self) -> float:
        return self.window_size / self.per_second

    @property
    def min_gap(self) -> float:
        return 0.5 / self.per_second


def default_rates(overrides: Mapping[str, float] | None = None,
                  chat_overrides: Mapping[str, float] | None = None) -> dict[str, Rate]:
    """Every registered platform's documented limits, with settings' overrides applied."""
    overrides, chat_overrides = overrides or {}, chat_overrides or {}
    unknown = (set(overrides) | set(chat_overrides)) - set(registry.names())
    if unknown:
        raise ValueError(f"rate limits for unknown platform(s): {', '.join(sorted(unknown))}")
    return {
        name: Rate(float(overrides.get(name, registry.get(name).limits.per_second)),
                   float(chat_overrides.get(name, registry.get(name).limits.chat_interval_seconds)))
        for name in registry.names()
    }


@dataclass
class WindowState:
    """One platform's window, as stored (memory or the database row)."""

    sends: list[float] = field(default_factory=list)   # admission times, oldest first, at most n
    paused_until: float = 0.0
    replies_waiting_until: float = 0.0


def decide(state: WindowState, chat_ready: float, now: float, rate: Rate, priority: Priority,
           margin: float) -> float:
    """0 and ``state`` updated with this admission, or the seconds to wait (``state`` unchanged
    except for the "replies waiting" mark). Pure: both backends run exactly this."""
    due = max(state.paused_until, chat_ready)
    if rate.per_second > 0:
        n = rate.window_size
        if len(state.sends) >= n:
            due = max(due, state.sends[-n] + rate.window_seconds + margin)
        if state.sends:
            due = max(due, state.sends[-1] + rate.min_gap)
    if priority is Priority.BROADCAST and state.replies_waiting_until > now:
        due = max(due, state.replies_waiting_until)
    wait = due - now
    if wait > 0:
        if priority is Priority.REPLY and chat_ready <= now:
            # Waiting on the platform, not its own chat: keep broadcasts back meanwhile.
            state.replies_waiting_until = max(state.replies_waiting_until, due + REPLIES_WAITING_GRACE)
        return wait
    if rate.per_second > 0:
        state.sends = (state.sends + [now])[-rate.window_size:]
    return 0.0


class RateLimiter:
    """The shared limit (see the module docstring). Subclasses keep the window somewhere."""

    def __init__(self, rates: Mapping[str, Rate], margin: float = DEFAULT_MARGIN_SECONDS, sleep=asyncio.sleep):
        self.rates = dict(rates)
        self.margin = margin
        self._sleep = sleep
        # (platform, admission time on the store's clock) of this process's last
        # admissions: what tests and the bench check the window against.
        self.admissions: deque[tuple[str, float]] = deque(maxlen=100_000)
        # In this process, one waiter per platform and priority asks the store at a
        # time: the others would only be told to wait too.
        self._turns: dict[tuple[str, Priority], asyncio.Lock] = {}
        self.pauses = 0                      # platform-wide pauses this process asked for

    def rate(self, platform: str) -> Rate:
        return self.rates.get(platform) or Rate(0.0)

    async def acquire(self, platform: str, chat_id: str | None, priority: Priority = Priority.REPLY,
                      max_wait: float = math.inf) -> float:
        """Wait for the right to send one message now; 0.0 once granted.

        A wait longer than ``max_wait`` is not waited out: its length is returned
        and nothing is taken (a broadcast lane hands its row back instead).
        """
        turn = self._turns.setdefault((platform, priority), asyncio.Lock())
        while True:
            async with turn:
                while True:
                    wait, chat_bound = await self._try(platform, chat_id, priority)
                    if wait <= 0:
                        return 0.0
                    if wait > max_wait:
                        return wait
                    if chat_bound:
                        break              # only this chat waits: let the others go meanwhile
                    await self._sleep(wait)
            await self._sleep(wait)

    async def penalize(self, platform: str, chat_id: str | None, retry_after: float,
                       platform_wide: bool = False) -> None:
        """The platform answered "too many requests": the chat (or every chat) waits ``retry_after``."""
        if platform_wide:
            self.pauses += 1
        await self._penalize(platform, chat_id, max(0.0, retry_after), platform_wide)

    async def paused_for(self, platform: str) -> float:
        """Seconds the whole platform is still paused (0 when it is not)."""
        return await self._paused_for(platform)

    # -- the store

    async def _try(self, platform: str, chat_id: str | None, priority: Priority) -> tuple[float, bool]:
        """0 when admitted (and recorded), else (seconds to wait, whether only the chat is waited for)."""
        raise NotImplementedError

    async def _penalize(self, platform: str, chat_id: str | None, seconds: float, platform_wide: bool) -> None:
        raise NotImplementedError

    async def _paused_for(self, platform: str) -> float:
        raise NotImplementedError


class MemoryRateLimiter(RateLimiter):
    """The window in this process (SQLite: the bot is one process; tests)."""

    def __init__(self, rates: Mapping[str, Rate], margin: float = DEFAULT_MARGIN_SECONDS,
                 clock=time.monotonic, sleep=asyncio.sleep):
        super().__init__(rates, margin, sleep)
        self._clock = clock
        self._states: dict[str, WindowState] = {}
        self._chats: dict[tuple[str, str], float] = {}

    async def _try(self, platform, chat_id, priority):
        now = self._clock()
        state = self._states.setdefault(platform, WindowState())
        key = (platform, chat_id or "")
        chat_ready = self._chats.get(key, 0.0)
        wait = decide(state, chat_ready, now, self.rate(platform), priority, self.margin)
        if wait > 0:
            return wait, chat_ready >= now + wait
        if wait == 0:
            self.admissions.append((platform, now))
        if wait == 0 and chat_id is not None and self.rate(platform).chat_interval > 0:
            self._chats[key] = now + self.rate(platform).chat_interval
            if len(self._chats) > 50_000:
                self._chats = {k: t for k, t in self._chats.items() if t > now}
        return 0.0, False

    async def _penalize(self, platform, chat_id, seconds, platform_wide):
        now = self._clock()
        if platform_wide:
            state = self._states.setdefault(platform, WindowState())
            state.paused_until = max(state.paused_until, now + seconds)
        elif chat_id is not None:
            key = (platform, chat_id)
            self._chats[key] = max(self._chats.get(key, 0.0), now + seconds)

    async def _paused_for(self, platform):
        state = self._states.get(platform)
        return max(0.0, state.paused_until - self._clock()) if state else 0.0


_TRY = text("SELECT wait, now_s, chat_bound FROM rate_limit_try(:platform, :chat_id, :reply, :size, :window, "
            ":min_gap, :chat_interval, :margin, :grace)")
_NEW_STATE = text("INSERT INTO rate_limit_state (platform, sends, paused_until, replies_waiting_until) "
                  "VALUES (:platform, '{}', 0, 0) ON CONFLICT (platform) DO NOTHING")
_PAUSE = text("UPDATE rate_limit_state SET paused_until = GREATEST(paused_until, "
              "extract(epoch FROM clock_timestamp()) + :seconds) WHERE platform = :platform")
_SET_CHAT = text("INSERT INTO rate_limit_chats (platform, chat_id, ready_at) VALUES (:platform, :chat_id, "
                 "extract(epoch FROM clock_timestamp()) + :seconds) ON CONFLICT (platform, chat_id) DO UPDATE "
                 "SET ready_at = GREATEST(rate_limit_chats.ready_at, EXCLUDED.ready_at)")
_PAUSED_FOR = text("SELECT paused_until - extract(epoch FROM clock_timestamp()) FROM rate_limit_state "
                   "WHERE platform = :platform")
_PRUNE_CHATS = text("DELETE FROM rate_limit_chats WHERE ready_at < extract(epoch FROM clock_timestamp()) - :age")


class PostgresRateLimiter(RateLimiter):
    """The window in PostgreSQL, shared by every process and host (see the module docstring).

    The decision is `decide`'s rule run by the database function
    ``rate_limit_try`` (migration 0011_shared_limits), in one statement: the
    platform's row stays locked from that statement to the commit right after.
    """

    def __init__(self, engine, rates: Mapping[str, Rate], margin: float = DEFAULT_MARGIN_SECONDS):
        super().__init__(rates, margin)
        self._engine = engine
        self._admitted = 0

    async def _try(self, platform, chat_id, priority):
        rate = self.rate(platform)
        limited = rate.per_second > 0
        async with self._engine.connect() as conn:
            row = (await conn.execute(_TRY, {
                "platform": platform, "chat_id": chat_id, "reply": priority is Priority.REPLY,
                "size": rate.window_size if limited else 0,
                "window": rate.window_seconds if limited else 0.0,
                "min_gap": rate.min_gap if limited else 0.0, "chat_interval": rate.chat_interval,
                "margin": self.margin, "grace": REPLIES_WAITING_GRACE})).one()
            if row.wait <= 0:
                self._admitted += 1
                if self._admitted % PRUNE_EVERY == 0:
                    await conn.execute(_PRUNE_CHATS, {"age": CHAT_MEMORY_SECONDS})
            await conn.commit()
        if row.wait > 0:
            return row.wait, row.chat_bound
        self.admissions.append((platform, row.now_s))
        return 0.0, False

    async def _penalize(self, platform, chat_id, seconds, platform_wide):
        async with self._engine.connect() as conn:
            if platform_wide:
                await conn.execute(_NEW_STATE, {"platform": platform})
                await conn.execute(_PAUSE, {"platform": platform, "seconds": seconds})
            elif chat_id is not None:
                await conn.execute(_SET_CHAT, {"platform": platform, "chat_id": chat_id, "seconds": seconds})
            await conn.commit()

    async def _paused_for(self, platform):
        async with self._engine.connect() as conn:
            left = await conn.scalar(_PAUSED_FOR, {"platform": platform})
        return max(0.0, left or 0.0)


def limiter_for(db, rates: Mapping[str, Rate], margin: float = DEFAULT_MARGIN_SECONDS) -> RateLimiter:
    """The shared limiter for ``db`` (a `bot.storage.Database`): in the database on
    PostgreSQL, in memory on SQLite (one process)."""
    if db.dialect == "postgresql":
        return PostgresRateLimiter(db.engine, rates, margin)
    return MemoryRateLimiter(rates, margin)


def sending_limiter(db, broadcast) -> RateLimiter:
    """The limiter the settings' broadcast section (rates, chat intervals, margin) describes:
    chat replies and the broadcast worker of one process share one instance."""
    return limiter_for(db, default_rates(broadcast.rates, broadcast.chat_intervals), broadcast.limit_margin_seconds)
