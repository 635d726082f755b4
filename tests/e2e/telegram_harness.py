"""The real Telegram adapter, served by our real aiohttp app, against the fake Bot API.

Used by the e2e fixtures (tests/e2e/conftest.py) and by
bench/telegram_throughput.py, so both exercise exactly what `civicbot run`
starts: `build_http_app()` + `Messengers.install()` + the app's lifecycle.

    harness = await TelegramHarness.start(api, deps, mode="webhook")
    await harness.say(42, "11 mô hình là gì?")
    await harness.idle()                      # every update answered
    api.texts(42)
    await harness.close()
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr

from bot.deps import Deps
from bot.pipeline import Pipeline
from bot.channels.messengers import Messengers
from bot.channels.telegram.adapter import TELEGRAM_INBOUND, WEBHOOK_PATH, TelegramInbound
from bot.runner import build_http_app
from bot.settings import HttpSettings, Settings, TelegramSettings
from tests.fakes.telegram_api import Call, FakeTelegramAPI

WEBHOOK_SECRET = "e2e-webhook-secret_0123456789"


def telegram_settings(api: FakeTelegramAPI, base: Settings, mode: str, port: int,
                      secret: str = WEBHOOK_SECRET) -> Settings:
    webhook = mode == "webhook"
    return base.model_copy(update={
        "telegram": TelegramSettings(
            token=SecretStr(api.token),
            base_url=api.base_url,
            webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}" if webhook else None,
            webhook_secret=SecretStr(secret) if webhook else None,
        ),
        "http": HttpSettings(host="127.0.0.1", port=port),
    })


@dataclass
class TelegramHarness:
    api: FakeTelegramAPI
    inbound: TelegramInbound
    messengers: Messengers
    pipeline: Pipeline
    settings: Settings
    mode: str
    url: str                                   # our HTTP server, e.g. http://127.0.0.1:PORT
    runner: web.AppRunner
    client: aiohttp.ClientSession
    _closed: bool = field(default=False, repr=False)

    @classmethod
    async def start(cls, api: FakeTelegramAPI, deps: Deps, mode: str = "polling", *,
                    pipeline: Pipeline | None = None, poll_timeout: float = 5.0) -> "TelegramHarness":
        assert mode in ("polling", "webhook")
        # Bind first: the webhook URL given to setWebhook needs the port.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        settings = telegram_settings(api, deps.settings, mode, port)
        deps = replace(deps, settings=settings)     # the harness's settings, for the pipeline made here
        pipeline = pipeline or Pipeline(deps)
        app = build_http_app()
        messengers = Messengers(pipeline, settings, inbound_options={"poll_timeout": poll_timeout})
        messengers.install(app)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()                 # starts Telegram (getMe, setMyCommands, polling/setWebhook)
        await web.SockSite(runner, sock).start()
        return cls(api, app[TELEGRAM_INBOUND], messengers, pipeline, settings, mode,
                   f"http://127.0.0.1:{port}", runner, aiohttp.ClientSession())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.client.close()
        await self.runner.cleanup()          # stops Telegram and the dispatcher via their lifecycles

    # -- talking to the bot

    async def deliver(self, update: dict) -> int | None:
        """Hand ``update`` to the bot the way Telegram would in this mode.

        Webhook mode: the HTTP status our server answered (must be 200).
        """
        if self.mode == "polling":
            self.api.push_update(update)
            return None
        status = await self.api.deliver_webhook(update)
        assert status == 200, f"webhook answered {status}"
        return status

    async def say(self, chat_id: int, text: str | None, **fields: Any) -> dict:
        update = self.api.message_update(chat_id, text, **fields)
        await self.deliver(update)
        return update

    async def press(self, chat_id: int, data: str | None, **fields: Any) -> dict:
        update = self.api.callback_update(chat_id, data, **fields)
        await self.deliver(update)
        return update

    async def post_webhook(self, body: bytes, headers: dict[str, str]) -> int:
        """A raw POST to our webhook route (for forged or malformed requests)."""
        async with self.client.post(self.url + WEBHOOK_PATH, data=body, headers=headers) as response:
            await response.read()
            return response.status

    async def replies(self, chat_id: int, count: int = 1, timeout: float = 10.0) -> list[Call]:
        return await self.api.wait_for("sendMessage", count, chat_id=chat_id, timeout=timeout)

    async def idle(self, timeout: float = 15.0) -> None:
        """Wait until every update handed over so far is fully answered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while quiet < 3:                     # idle on three checks in a row
            if loop.time() > deadline:
                raise AssertionError("the Telegram adapter did not go idle")
            quiet = quiet + 1 if self._is_idle() else 0
            await asyncio.sleep(0.01)

    def _is_idle(self) -> bool:
        dispatcher = self.messengers.dispatcher
        working = dispatcher is not None and dispatcher.busy
        return self.api.unserved_updates() == 0 and not self.inbound.in_hand and not working
