"""The shared sending limiter (bot/channels/limits.py) and backoff.

In memory on a fake clock (no sleeping); on PostgreSQL with several
limiters on separate engines, the way separate processes share it: the
admission times (the database's clock) never put more than the limit in
any window, whatever the number of limiters.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from bot.broadcast.outbox import backoff
from bot.channels.limits import (
    MemoryRateLimiter, PostgresRateLimiter, Priority, Rate, WindowState, decide, default_rates,
)
from bot.storage import Database
from tests.broadcast.conftest import fresh_database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_rates_come_from_the_registry_and_settings_override_them():
    rates = default_rates({"zalo": 8})
    assert rates["telegram"] == Rate(30.0, 1.0) and rates["zalo"] == Rate(8.0, 1.0)
    with pytest.raises(ValueError):
        default_rates({"viber": 10})


def _one_sender(lateness: float, seconds: float = 20.0) -> list[float]:
    rate, state, now, times = Rate(30.0), WindowState(), 0.0, []
    rng = random.Random(3)
    while now < seconds:
        wait = decide(state, 0.0, now, rate, Priority.BROADCAST, margin=0.03)
        if wait:
            now += wait + rng.choice([0.0, 0.0, 0.0, lateness * rng.random()])    # some wake-ups are late
        else:
            times.append(now)
    return times


def test_a_late_sender_never_squeezes_an_extra_message_into_a_window():
    """Admission is at the moment of sending: lateness only delays, it never compresses."""
    assert most_in_any_window(_one_sender(lateness=0.2), 1.0) <= 30
    punctual = _one_sender(lateness=0.0)
    assert most_in_any_window(punctual, 1.0) <= 30 and len(punctual) / 20.0 >= 0.95 * 30


async def test_many_lanes_hold_the_limit_and_the_rate():
    clock = Clock()
    limiter = MemoryRateLimiter({"telegram": Rate(30.0, 1.0)}, clock=clock, sleep=clock.sleep)

    async def lane(n: int) -> None:
        for i in range(40):
            assert await limiter.acquire("telegram", f"{n}-{i}", Priority.BROADCAST) == 0

    await asyncio.gather(*(lane(n) for n in range(8)))
    times = [t for _, t in limiter.admissions]
    assert len(times) == 320 and most_in_any_window(times, 1.0) <= 30
    assert 320 / (max(times) - min(times)) >= 0.95 * 30


async def test_a_chat_waits_its_interval_and_a_long_wait_is_returned_not_slept():
    clock = Clock()
    limiter = MemoryRateLimiter({"telegram": Rate(30.0, 1.0)}, clock=clock, sleep=clock.sleep)
    assert await limiter.acquire("telegram", "a", Priority.BROADCAST) == 0
    wait = await limiter.acquire("telegram", "a", Priority.BROADCAST, max_wait=0.5)
    assert 0.9 < wait <= 1.0                                    # not taken: the caller hands the row back
    assert await limiter.acquire("telegram", "b", Priority.BROADCAST, max_wait=0.5) == 0
    await limiter.penalize("telegram", "c", 5.0)                 # one chat's 429
    assert await limiter.acquire("telegram", "c", Priority.BROADCAST, max_wait=1) == pytest.approx(5.0, abs=0.1)
    assert await limiter.paused_for("telegram") == 0
    await limiter.penalize("telegram", None, 3.0, platform_wide=True)    # a flood: everyone waits
    assert await limiter.paused_for("telegram") == pytest.approx(3.0)
    assert await limiter.acquire("telegram", "d", Priority.BROADCAST, max_wait=1) == pytest.approx(3.0)
    before = clock.now
    assert await limiter.acquire("telegram", "d", Priority.REPLY) == 0          # a reply waits it out
    assert clock.now - before >= 3.0


def test_a_waiting_reply_keeps_broadcasts_back():
    rate, state = Rate(2.0), WindowState()
    assert decide(state, 0.0, 0.0, rate, Priority.BROADCAST, 0.0) == 0
    assert decide(state, 0.0, 0.3, rate, Priority.BROADCAST, 0.0) == 0            # the window (2) is full
    assert decide(state, 0.0, 0.5, rate, Priority.REPLY, 0.0) == pytest.approx(0.5)  # the reply must wait...
    # ...and a broadcast asking when the window opens again does not take its place:
    assert decide(state, 0.0, 1.0, rate, Priority.BROADCAST, 0.0) > 0
    assert decide(state, 0.0, 1.0, rate, Priority.REPLY, 0.0) == 0


async def test_replies_go_first_while_a_broadcast_saturates_the_platform():
    clock = Clock()
    limiter = MemoryRateLimiter({"telegram": Rate(10.0)}, clock=clock, sleep=clock.sleep)
    order: list[str] = []

    async def broadcast_lane(n: int) -> None:
        for i in range(30):
            await limiter.acquire("telegram", None, Priority.BROADCAST)
            order.append("b")

    async def replies() -> None:
        await clock.sleep(1.0)
        for _ in range(5):
            await limiter.acquire("telegram", None, Priority.REPLY)
            order.append("r")

    await asyncio.gather(*(broadcast_lane(n) for n in range(4)), replies())
    first_reply = order.index("r")
    # Once the replies arrive, they take the next places: no broadcast between them.
    assert order[first_reply:first_reply + 5] == ["r"] * 5


@pytest.mark.postgres
async def test_limiters_on_separate_engines_share_one_window_on_postgres(pg_url):
    """Three 'processes' (engines), 8 lanes each, 20 msg/s: never more than 20 in a second."""
    db = await fresh_database(pg_url)
    engines = [Database.from_url(pg_url) for _ in range(3)]
    try:
        limiters = [PostgresRateLimiter(e.engine, {"telegram": Rate(20.0, 1.0)}, margin=0.0) for e in engines]

        async def lane(limiter, n: int) -> None:
            for i in range(5):
                assert await limiter.acquire("telegram", f"{n}-{i}", Priority.BROADCAST) == 0

        await asyncio.gather(*(lane(lim, k * 10 + n) for k, lim in enumerate(limiters) for n in range(8)))
        times = [t for lim in limiters for _, t in lim.admissions]
        assert len(times) == 120
        assert most_in_any_window(times, 1.0) <= 20
        # The chat spacing is shared too: a chat written by one is refused by another.
        assert await limiters[0].acquire("telegram", "same", Priority.BROADCAST) == 0
        assert await limiters[1].acquire("telegram", "same", Priority.BROADCAST, max_wait=0.1) > 0.5
        # A reply that must wait keeps the other processes' broadcasts back (zalo: a fresh window).
        for limiter in limiters:
            limiter.rates["zalo"] = Rate(2.0)
        assert await limiters[0].acquire("zalo", None, Priority.BROADCAST) == 0
        assert await limiters[0].acquire("zalo", None, Priority.BROADCAST) == 0
        reply_wait = await limiters[1].acquire("zalo", None, Priority.REPLY, max_wait=0)
        broadcast_wait = await limiters[2].acquire("zalo", None, Priority.BROADCAST, max_wait=0)
        assert 0 < reply_wait < broadcast_wait
        await limiters[2].penalize("telegram", None, 30.0, platform_wide=True)
        assert await limiters[0].paused_for("telegram") > 29
    finally:
        for e in engines:
            await e.dispose()
        await db.dispose()


def test_backoff_is_exponential_with_jitter_and_capped():
    rng = random.Random(1)
    for attempt, ceiling in ((1, 2), (2, 4), (3, 8), (9, 300), (30, 300)):
        for _ in range(50):
            assert ceiling / 2 <= backoff(attempt, 2.0, 300.0, rng) <= ceiling
