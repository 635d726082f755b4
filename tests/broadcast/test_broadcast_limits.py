"""Rate limits and backoff, on a fake clock (no sleeping)."""

from __future__ import annotations

import random

from bot.broadcast.outbox import backoff
from bot.broadcast.ratelimit import GLOBAL_429S, PlatformLimiter, PlatformLimits, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_holds_the_rate_and_refunds():
    clock = Clock()
    bucket = TokenBucket(30, burst=5, clock=clock)
    taken = 0
    while clock.now < 1010.0:
        wait = bucket.try_take()
        if wait:
            clock.now += wait
        else:
            taken += 1
    assert 300 <= taken <= 306                     # 30/s for 10 s, plus the burst
    bucket.give_back()
    assert bucket.try_take() == 0                  # a refunded token is usable at once
    assert TokenBucket(0).try_take() == 0          # rate 0: no limit


async def test_isolated_429_pauses_the_chat_a_flood_pauses_the_platform():
    clock = Clock()
    limiter = PlatformLimiter(PlatformLimits(30, 1, 1.0), clock=clock, sleep=clock.sleep)
    await limiter.acquire("a")
    assert 0.99 <= limiter.chat_wait("a") <= 1.0 and limiter.chat_wait("b") == 0     # 1 msg/s per chat
    for _ in range(19):
        limiter.delivered()
    assert limiter.rate_limited("c", 5.0) is False                    # one chat's limit
    assert limiter.chat_wait("c") == 5.0 and limiter.paused_for == 0
    paused = [limiter.rate_limited(f"x{i}", 2.0) for i in range(GLOBAL_429S - 1)]
    assert paused[-1] is True and limiter.paused_for == 2.0 and limiter.pauses == 1
    before = clock.now
    await limiter.acquire("d")                                         # waits out the pause
    assert clock.now - before >= 2.0
    assert limiter.rate_limited("z", 60.0, platform_wide=True) and limiter.paused_for == 60.0


def test_backoff_is_exponential_with_jitter_and_capped():
    rng = random.Random(1)
    for attempt, ceiling in ((1, 2), (2, 4), (3, 8), (9, 300), (30, 300)):
        for _ in range(50):
            assert ceiling / 2 <= backoff(attempt, 2.0, 300.0, rng) <= ceiling
