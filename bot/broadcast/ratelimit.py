"""Per-platform sending limits for broadcasts: a token bucket, a per-chat
spacing, and pauses when the platform says "too many requests".

Telegram allows about 30 messages per second per bot and one per second per
chat; Zalo's quota depends on the OA. A token is spent when a message goes
out and given back when the platform did not take it (5xx, timeout, 429):
the limit is on messages delivered, and a failed request is not one.

A 429 pauses the chat it was for (``retry_after``). It pauses the whole
platform when it looks global: Telegram's flood control answers 429 to
everything, so when ``GLOBAL_429S`` of the last ``WINDOW`` answers are 429s
the platform waits out the ``retry_after``. Isolated 429s (one chat's
limit) then do not stall the other chats: at a 5% background rate of 429s,
8 in 20 happens about once in 40,000 429s (6 in 20: once in 500, which
cost the benchmark three needless pauses per run), while a real flood,
where nearly every answer is a 429, trips it within 8 answers. Zalo's -32
("limit per minute") is always platform-wide.

The limits are per process; several worker processes sharing one bot must
split the rate between them (see `BroadcastSettings`).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW = 20
GLOBAL_429S = 8
EPSILON = 1e-9
CHAT_MEMORY = 50_000           # chats remembered for spacing before pruning


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; rate 0 means no limit."""

    def __init__(self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic):
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._clock = clock
        self._tokens = float(self.burst)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self) -> float:
        """Take a token and return 0, or return the seconds until one is due."""
        if self.rate <= 0:
            return 0.0
        self._refill()
        if self._tokens >= 1.0 - EPSILON:            # float dust must not cost a sleep
            self._tokens = max(0.0, self._tokens - 1.0)
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def give_back(self) -> None:
        if self.rate > 0:
            self._refill()
            self._tokens = min(self.burst, self._tokens + 1.0)


@dataclass
class PlatformLimits:
    per_second: float
    burst: int
    chat_interval: float


class PlatformLimiter:
    """Everything that decides when the next message to a platform may go."""

    def __init__(self, limits: PlatformLimits, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = asyncio.sleep):
        self.limits = limits
        self.bucket = TokenBucket(limits.per_second, limits.burst, clock)
        self._clock = clock
        self._sleep = sleep
        self._chat_ready: dict[str, float] = {}
        self._paused_until = 0.0
        self._recent: deque[bool] = deque(maxlen=WINDOW)    # True: a 429
        self.pauses = 0                                      # platform-wide pauses so far

    # -- asking

    def chat_wait(self, chat_id: str) -> float:
        """Seconds until ``chat_id`` may get a message (its spacing or its 429 pause)."""
        return max(0.0, self._chat_ready.get(chat_id, 0.0) - self._clock())

    async def acquire(self, chat_id: str | None = None) -> None:
        """Wait for the platform (pause, then a token) and reserve ``chat_id``'s slot."""
        while True:
            now = self._clock()
            if now < self._paused_until:
                await self._sleep(self._paused_until - now)
                continue
            wait = self.bucket.try_take()
            if wait <= 0:
                break
            await self._sleep(wait)
        if chat_id is not None and self.limits.chat_interval > 0:
            self._remember(chat_id, self._clock() + self.limits.chat_interval)

    # -- telling

    def delivered(self) -> None:
        self._recent.append(False)

    def not_delivered(self) -> None:
        """The platform did not take the message (5xx, timeout): the token is not spent."""
        self.bucket.give_back()

    def rate_limited(self, chat_id: str | None, retry_after: float, platform_wide: bool = False) -> bool:
        """A 429 for ``chat_id``; True when the whole platform is paused because of it."""
        now = self._clock()
        self.bucket.give_back()
        self._recent.append(True)
        if chat_id is not None:
            self._remember(chat_id, now + retry_after)
        if platform_wide or sum(self._recent) >= GLOBAL_429S:
            if now + retry_after > self._paused_until:
                self._paused_until = now + retry_after
                self.pauses += 1
            self._recent.clear()
            return True
        return False

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    def _remember(self, chat_id: str, ready_at: float) -> None:
        if ready_at > self._chat_ready.get(chat_id, 0.0):
            self._chat_ready[chat_id] = ready_at
        if len(self._chat_ready) > CHAT_MEMORY:
            now = self._clock()
            self._chat_ready = {c: t for c, t in self._chat_ready.items() if t > now}
