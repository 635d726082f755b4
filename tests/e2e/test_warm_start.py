"""Warm start and honest readiness: `civicbot run` (bot.runner.serve) against the fake messengers.

Until the model and index are warm, /healthz says "starting" (503), /readyz
says which dependency is not there yet, Telegram is not polled (nor the
webhook registered) and the webhooks answer 503; then the messengers start
and the first update is answered. The warm-up is held on an event here, so
the "starting" state can be looked at as long as needed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time

import aiohttp
import pytest
from pydantic import SecretStr

from bot import runner
from bot.app import build_deps, close_deps
from bot.channels.zalo.webhook import WEBHOOK_PATH as ZALO_PATH
from bot.channels.zalo.webhook import signature
from bot.readiness import Readiness
from bot.settings import HttpSettings, TelegramSettings, ZaloSettings
from tests.fakes.zalo_api import FakeZaloAPI

pytestmark = pytest.mark.filterwarnings("ignore:.*`retry_after`:telegram.warnings.PTBDeprecationWarning")

CHAT = 515151
QUESTION = "11 mô hình trọng tâm gồm những mô hình nào?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Serving:
    """`serve()` in a task, with the deps and warm-up under the test's control."""

    def __init__(self, settings, hash_searcher, knowledge, monkeypatch):
        self.settings = settings
        self.port = settings.http.port
        self.url = f"http://127.0.0.1:{self.port}"
        self.release = asyncio.Event()
        self.warmed = False
        self.built = []
        self.readiness = Readiness()
        self.fail_warm_up: Exception | None = None

        def fast_deps(settings):
            self.built.append(build_deps(settings, searcher=hash_searcher, knowledge=knowledge))
            return self.built[-1]

        async def held_warm_up(deps, pipeline=None):
            await self.release.wait()
            if self.fail_warm_up is not None:
                raise self.fail_warm_up
            await deps.searcher.search("Nghị quyết 05", k=1)
            self.warmed = True

        monkeypatch.setattr(runner, "build_deps", fast_deps)
        monkeypatch.setattr(runner, "warm_up", held_warm_up)

    async def __aenter__(self) -> "Serving":
        self.task = asyncio.create_task(runner.serve(self.settings, self.readiness))
        self.http = aiohttp.ClientSession()
        for _ in range(500):                       # until the port is open
            try:
                async with self.http.get(self.url + "/healthz"):
                    break
            except aiohttp.ClientConnectionError:
                assert not self.task.done(), self.task.exception()
                await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.close()
        if not self.task.done():
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.wait_for(self.task, 15)
        for deps in self.built:
            await close_deps(deps)

    async def get(self, path: str) -> tuple[int, dict]:
        async with self.http.get(self.url + path) as response:
            return response.status, await response.json()

    async def ready(self) -> None:
        self.release.set()
        for _ in range(500):
            if self.readiness.ready:
                return
            assert not self.task.done(), self.task.exception()
            await asyncio.sleep(0.02)
        raise AssertionError("never ready")


@pytest.fixture
def telegram_settings(telegram_api, e2e_settings):
    return e2e_settings.model_copy(update={
        "telegram": TelegramSettings(token=SecretStr(telegram_api.token), base_url=telegram_api.base_url),
        "http": HttpSettings(host="127.0.0.1", port=_free_port()),
    })


async def test_polling_starts_only_once_warm_and_health_says_starting_until_then(
        telegram_api, telegram_settings, hash_searcher, knowledge, monkeypatch):
    telegram_api.push_update(telegram_api.message_update(CHAT, QUESTION))    # waiting at Telegram
    async with Serving(telegram_settings, hash_searcher, knowledge, monkeypatch) as bot:
        assert await bot.get("/healthz") == (503, {"status": "starting"})
        status, body = await bot.get("/readyz")
        assert status == 503 and body["status"] == "starting"
        assert body["checks"]["database"]["ok"] and body["checks"]["index"]["ok"]
        assert body["checks"]["telegram"] == {"ok": False, "detail": "polling, not started"}
        await asyncio.sleep(0.3)
        assert telegram_api.calls_to("getUpdates") == [] and telegram_api.calls_to("getMe") == []
        assert telegram_api.calls_to("sendMessage") == []

        await bot.ready()
        assert bot.warmed
        assert await bot.get("/healthz") == (200, {"status": "ok"})
        (answer,) = await telegram_api.wait_for("sendMessage", 1, chat_id=CHAT)
        assert "«" in answer.text and "Chính quyền thân thiện" in answer.text
        status, body = await bot.get("/readyz")
        assert status == 200 and body["status"] == "ready"
        assert set(body["checks"]) == {"database", "index", "model", "telegram"}
        assert all(check["ok"] for check in body["checks"].values()), body
        assert body["checks"]["telegram"]["detail"] == "polling, token accepted"
        assert [c["command"] for c in telegram_api.commands][:2] == ["start", "help"]


async def test_webhook_is_registered_only_once_warm(telegram_api, telegram_settings, hash_searcher, knowledge,
                                                    monkeypatch):
    port = telegram_settings.http.port
    settings = telegram_settings.model_copy(update={"telegram": telegram_settings.telegram.model_copy(update={
        "webhook_url": f"http://127.0.0.1:{port}/telegram/webhook",
        "webhook_secret": SecretStr("warm-start-secret")})})
    async with Serving(settings, hash_searcher, knowledge, monkeypatch) as bot:
        update = telegram_api.message_update(CHAT, QUESTION)
        status = await telegram_api.deliver_webhook(update, url=bot.url + "/telegram/webhook",
                                                    secret="warm-start-secret")
        assert status == 503                                         # Telegram will deliver it again
        assert telegram_api.calls_to("setWebhook") == []
        await bot.ready()
        assert telegram_api.calls_to("setWebhook")
        assert await telegram_api.deliver_webhook(update) == 200     # the redelivery
        (answer,) = await telegram_api.wait_for("sendMessage", 1, chat_id=CHAT)
        assert "«" in answer.text and "Chính quyền thân thiện" in answer.text


async def test_zalo_webhooks_wait_for_the_warm_up_and_readyz_reports_the_token(
        e2e_settings, hash_searcher, knowledge, monkeypatch):
    async with FakeZaloAPI(app_id="app", app_secret="s") as api:
        settings = e2e_settings.model_copy(update={
            "zalo": ZaloSettings(app_id="app", oa_secret_key=SecretStr("oa-secret"), app_secret=SecretStr("s"),
                                 access_token=SecretStr(api.access_token),
                                 refresh_token=SecretStr(api.refresh_token),
                                 api_base_url=api.base_url, oauth_base_url=api.base_url),
            "http": HttpSettings(host="127.0.0.1", port=_free_port()),
            "broadcast": e2e_settings.broadcast.model_copy(update={"worker": False}),
        })
        async with Serving(settings, hash_searcher, knowledge, monkeypatch) as bot:
            event = {"app_id": "app", "event_name": "user_send_text", "sender": {"id": "z1"},
                     "recipient": {"id": "oa"}, "message": {"text": QUESTION, "msg_id": "z-1"},
                     "timestamp": str(int(time.time() * 1000))}
            body = json.dumps(event).encode()
            headers = {"X-ZEvent-Signature": signature("app", body, event["timestamp"], "oa-secret")}

            async def post() -> int:
                async with bot.http.post(bot.url + ZALO_PATH, data=body, headers=headers) as response:
                    return response.status

            assert await post() == 503
            assert (await bot.get("/readyz"))[1]["checks"]["zalo"] == {"ok": False, "detail": "not started"}
            await bot.ready()
            assert await post() == 200
            for _ in range(200):
                if api.texts_to("z1"):
                    break
                await asyncio.sleep(0.02)
            assert "Chính quyền thân thiện" in api.texts_to("z1")[0]
            status, report = await bot.get("/readyz")
            assert status == 200 and report["checks"]["zalo"] == {"ok": True, "detail": "access token present"}


async def test_a_failing_dependency_makes_readyz_say_which(telegram_api, telegram_settings, hash_searcher,
                                                          knowledge, monkeypatch):
    async with Serving(telegram_settings, hash_searcher, knowledge, monkeypatch) as bot:
        await bot.ready()
        db = bot.built[0].db
        await db.dispose()

        def unreachable():
            raise ConnectionRefusedError("database unreachable")

        with monkeypatch.context() as patch:
            patch.setattr(db, "sessions", unreachable)
            status, body = await bot.get("/readyz")
        assert status == 503 and body["status"] == "degraded"
        assert body["checks"]["database"] == {"ok": False,
                                              "detail": "ConnectionRefusedError: database unreachable"}
        assert body["checks"]["telegram"]["ok"]
        assert await bot.get("/healthz") == (200, {"status": "ok"})      # alive: it is a dependency


async def test_a_failed_warm_up_stops_the_bot_cleanly(telegram_api, telegram_settings, hash_searcher, knowledge,
                                                      monkeypatch):
    async with Serving(telegram_settings, hash_searcher, knowledge, monkeypatch) as bot:
        bot.fail_warm_up = RuntimeError("model files unreadable")
        bot.release.set()
        with pytest.raises(RuntimeError, match="model files unreadable"):
            await asyncio.wait_for(bot.task, 15)
    assert telegram_api.calls_to("getUpdates") == []


async def test_a_stop_signal_during_the_warm_up_shuts_down(telegram_api, telegram_settings, hash_searcher,
                                                          knowledge, monkeypatch):
    async with Serving(telegram_settings, hash_searcher, knowledge, monkeypatch) as bot:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(bot.task, 15)
        assert bot.task.exception() is None
    assert telegram_api.calls_to("getMe") == []
