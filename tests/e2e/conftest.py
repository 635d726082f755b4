"""Shared end-to-end fixtures: real deps (knowledge, router, pipeline, database)
with the fast hash searcher (`knowledge`, `hash_searcher` from tests/conftest.py),
the fake Telegram Bot API, and the real Telegram adapter served by our aiohttp
app in polling or webhook mode.

    async def test_something(telegram_bot):            # runs in both modes
        await telegram_bot.say(42, "/start")
        (reply,) = await telegram_bot.replies(42)

Extension points for other suites: override `e2e_settings` (e.g. a database
URL) or `telegram_deps` (e.g. a fake clock, other stores) in a test module, and every
Telegram fixture picks it up; `start_telegram_bot(mode, deps=...)` starts
more bots in one test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.app import build_deps, close_deps
from bot.deps import Deps
from bot.settings import Settings
from tests.e2e.telegram_harness import TelegramHarness
from tests.fakes.telegram_api import FakeTelegramAPI


@pytest.fixture
def e2e_settings(tmp_path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data")


@pytest.fixture
async def telegram_deps(e2e_settings, hash_searcher, knowledge) -> AsyncIterator[Deps]:
    """Real deps (router, database in tmp_path, knowledge) with the hash searcher."""
    deps = build_deps(e2e_settings, searcher=hash_searcher, knowledge=knowledge)
    yield deps
    await close_deps(deps)


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


StartBot = Callable[..., Awaitable[TelegramHarness]]


@pytest.fixture
async def start_telegram_bot(telegram_api, telegram_deps) -> AsyncIterator[StartBot]:
    """Factory: ``await start_telegram_bot("webhook")``; every bot is stopped at teardown."""
    started: list[TelegramHarness] = []

    async def start(mode: str = "polling", deps: Deps | None = None, **options) -> TelegramHarness:
        harness = await TelegramHarness.start(telegram_api, deps or telegram_deps, mode, **options)
        started.append(harness)
        return harness

    yield start
    for harness in reversed(started):
        await harness.close()


@pytest.fixture(params=["polling", "webhook"])
async def telegram_bot(request, start_telegram_bot) -> TelegramHarness:
    """The adapter in each mode in turn."""
    return await start_telegram_bot(request.param)


@pytest.fixture
async def telegram_polling_bot(start_telegram_bot) -> TelegramHarness:
    return await start_telegram_bot("polling")


@pytest.fixture
async def telegram_webhook_bot(start_telegram_bot) -> TelegramHarness:
    return await start_telegram_bot("webhook")
