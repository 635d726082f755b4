"""Helpers for the broadcast tests and bench/broadcast.py: subscribers in bulk,
fake servers with random faults, settings pointing at them."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import SecretStr
from sqlalchemy import insert, select

from bot.settings import BroadcastSettings, Settings, TelegramSettings, ZaloSettings
from bot.storage import Database
from bot.storage.models import Resident, Subscription, SubscriptionGroup, utcnow
from tests.fakes.telegram_api import Call, Fault, FakeTelegramAPI, _error_body
from tests.fakes.zalo_api import FakeZaloAPI


async def add_subscribers(db: Database, chat_ids: Iterable[str], *, platform: str = "telegram",
                          ward: str = "Phường Lê Chân", groups: Sequence[str] = ("cu_dan",),
                          active: bool = True, batch: int = 2000) -> list[str]:
    """Residents with a subscription each (chat id = user id), inserted in bulk."""
    chat_ids = [str(c) for c in chat_ids]
    now = utcnow()
    for start in range(0, len(chat_ids), batch):
        chunk = chat_ids[start:start + batch]
        async with db.sessions.begin() as session:
            await session.execute(insert(Resident), [
                {"platform": platform, "platform_user_id": c, "display_name": None, "ward": ward,
                 "created_at": now, "updated_at": now} for c in chunk])
            ids = dict((await session.execute(
                select(Resident.platform_user_id, Resident.id)
                .where(Resident.platform == platform, Resident.platform_user_id.in_(chunk))
            )).all())
            await session.execute(insert(Subscription), [
                {"resident_id": ids[c], "platform": platform, "chat_id": c, "ward": ward, "active": active,
                 "created_at": now, "updated_at": now} for c in chunk])
            sub_ids = dict((await session.execute(
                select(Subscription.chat_id, Subscription.id)
                .where(Subscription.platform == platform, Subscription.chat_id.in_(chunk))
            )).all())
            await session.execute(insert(SubscriptionGroup), [
                {"subscription_id": sub_ids[c], "group_code": g} for c in chunk for g in groups])
    return chat_ids


class RandomFaultTelegramAPI(FakeTelegramAPI):
    """The fake Bot API answering a share of sendMessage calls with 429 or 500, at
    random; a share of those 500s comes *after* the message was delivered (the
    one fault a Bot API client cannot tell from a lost message)."""

    def __init__(self, *args, rate_limited: float = 0.0, server_errors: float = 0.0,
                 delivered_then_500: float = 0.0, retry_after: int = 1, seed: int = 5, **kwargs):
        super().__init__(*args, **kwargs)
        self.p429, self.p500, self.p_after, self.retry_after = rate_limited, server_errors, delivered_then_500, \
            retry_after
        self.rng = random.Random(seed)
        self.delivered_then_failed: list[Call] = []
        self._fail_after: Counter = Counter()

    def fail_after_delivery(self, chat_id: int | str, times: int = 1) -> None:
        """The next ``times`` sendMessage calls to ``chat_id`` are delivered, then answered 500."""
        self._fail_after[str(chat_id)] += times

    async def _answer(self, call: Call):
        after = call.method == "sendMessage" and (
            self._fail_after[call.chat_id] > 0 or (self.p_after and self.rng.random() < self.p_after))
        status, payload = await super()._answer(call)
        if status == 200 and after:
            self._fail_after[call.chat_id] = max(0, self._fail_after[call.chat_id] - 1)
            self.delivered_then_failed.append(call)
            return 500, _error_body(500, "Internal Server Error")
        return status, payload

    def _take_fault(self, call: Call) -> Fault | None:
        queued = super()._take_fault(call)
        if queued is not None or call.method != "sendMessage":
            return queued
        roll = self.rng.random()
        if roll < self.p429:
            return Fault.rate_limited(self.retry_after)
        if roll < self.p429 + self.p500:
            return Fault.server_error()
        return None


def deliveries(api: FakeTelegramAPI, exclude: Iterable[str] = ()) -> Counter:
    """Messages delivered per chat: successful sendMessage calls, and those delivered then answered 500."""
    skip = set(map(str, exclude))
    delivered = [*api.calls_to("sendMessage"), *getattr(api, "delivered_then_failed", ())]
    return Counter(c.chat_id for c in delivered if c.chat_id not in skip)


def broadcast_settings(base: Settings, *, telegram: FakeTelegramAPI | None = None, zalo=None,
                       send_timeout_seconds: float = 2.0, **broadcast: object) -> Settings:
    update: dict[str, object] = {"send_timeout_seconds": send_timeout_seconds, "broadcast": BroadcastSettings(**{
        "poll_seconds": 0.05, "progress_seconds": 0.2, "backoff_base_seconds": 0.05,
        "backoff_max_seconds": 0.5, **broadcast})}
    if telegram is not None:
        update["telegram"] = TelegramSettings(token=SecretStr(telegram.token), base_url=telegram.base_url)
    if zalo is not None:
        update["zalo"] = ZaloSettings(
            app_id=zalo.app_id, oa_secret_key=SecretStr("oa-secret"), app_secret=SecretStr(zalo.app_secret),
            access_token=SecretStr(zalo.access_token), refresh_token=SecretStr(zalo.refresh_token),
            api_base_url=zalo.base_url, oauth_base_url=zalo.base_url)
    return base.model_copy(update=update)


class PromotionZaloAPI(FakeZaloAPI):
    """The fake Zalo OA API with the promotion endpoint: followers outside the
    7-day window can get a promotion message while the OA's quota lasts
    (-211 after), non-followers cannot (-213)."""

    def __init__(self, *args, quota: int = 1000, non_followers: Iterable[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.quota = quota
        self.non_followers = set(non_followers)
        self.promotions: list[tuple[str, dict]] = []      # (user id, payload) delivered
        self.promotion_answers: list[tuple[str, int]] = []  # (user id, error code) of every request

    async def start(self) -> "PromotionZaloAPI":
        from aiohttp import web

        from tests.fakes.zalo_api import REFRESH_PATH, SEND_PATH

        app = web.Application()
        app.router.add_post(SEND_PATH, self._send)
        app.router.add_post(REFRESH_PATH, self._refresh)
        app.router.add_post("/v3.0/oa/message/promotion", self._promote)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"   # type: ignore[union-attr]
        return self

    async def _promote(self, request):
        from aiohttp import web

        body = await request.json()
        user_id = str(body["recipient"]["user_id"])
        payload = body["message"]["attachment"]["payload"]
        if request.headers.get("access_token") != self.access_token or not self.access_valid:
            code = -216
        elif user_id in self.non_followers:
            code = -213
        elif self.quota <= 0:
            code = -211
        elif payload.get("template_type") != "promotion" or not payload.get("elements"):
            code = -201
        else:
            code = 0
            self.quota -= 1
            self.promotions.append((user_id, payload))
        self.promotion_answers.append((user_id, code))
        if code:
            return web.json_response({"error": code, "message": "injected"})
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": f"p{len(self.promotions)}", "user_id": user_id}})
