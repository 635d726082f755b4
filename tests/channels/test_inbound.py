"""Inbound sides: an update is acknowledged only once it is stored."""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import SecretStr

from bot.channels.telegram.adapter import POLL_ERROR_PAUSE_SECONDS, TelegramInbound
from bot.messages import Incoming
from bot.runner import build_http_app
from bot.settings import TelegramSettings
from tests.fakes.telegram_api import FakeTelegramAPI


class FlakyStore:
    """`accept` that fails the first ``failures`` times, as a database outage would."""

    def __init__(self, failures: int):
        self.failures = failures
        self.stored: list[Incoming] = []
        self.event = asyncio.Event()

    async def accept(self, msg: Incoming) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database unavailable")
        self.stored.append(msg)
        self.event.set()


async def test_polling_moves_the_offset_only_past_stored_updates():
    store = FlakyStore(failures=1)
    async with FakeTelegramAPI() as api:
        inbound = TelegramInbound(TelegramSettings(token=SecretStr(api.token), base_url=api.base_url),
                                  store.accept, poll_timeout=1)
        await inbound.start()
        try:
            api.push_update(api.message_update(42, "Xin chào"))
            await asyncio.wait_for(store.event.wait(), POLL_ERROR_PAUSE_SECONDS[0] + 10)
        finally:
            await inbound.stop()
    assert [m.text for m in store.stored] == ["Xin chào"]        # fetched again after the failure
    offsets = [c.params.get("offset") for c in api.calls_to("getUpdates")]
    assert offsets[0] is None and offsets[1] is None             # the first fetch was not confirmed
    assert offsets[-1] == int(store.stored[0].message_id) + 1    # confirmed once stored


async def test_a_webhook_update_that_cannot_be_stored_is_not_acknowledged(unused_tcp_port):
    store = FlakyStore(failures=1)
    async with FakeTelegramAPI() as api:
        url = f"http://127.0.0.1:{unused_tcp_port}/telegram/webhook"
        settings = TelegramSettings(token=SecretStr(api.token), base_url=api.base_url, webhook_url=url,
                                    webhook_secret=SecretStr("s3cret"))
        inbound = TelegramInbound(settings, store.accept)
        app = build_http_app()
        app.router.add_post("/telegram/webhook", inbound.handle_webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
        await inbound.start()
        try:
            update = api.message_update(42, "Xin chào")
            assert await api.deliver_webhook(update) == 503      # Telegram delivers it again...
            assert await api.deliver_webhook(update) == 200      # ... and then it is stored
        finally:
            await inbound.stop()
            await runner.cleanup()
    assert [m.text for m in store.stored] == ["Xin chào"]
