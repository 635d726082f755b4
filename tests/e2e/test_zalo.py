"""End to end over real HTTP: signed Zalo webhooks in, messages out through a fake OA API.

Our aiohttp app (the same `build_http_app` the bot serves) runs on a random
127.0.0.1 port with the Zalo webhook; the fake OA API (tests/fakes/zalo_api.py)
runs on another. Deps are real (knowledge base, router, pipeline) except for
the embedder: a deterministic hash embedder instead of the neural model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from bot.app import build_deps, close_deps
from bot.messages import Incoming, Reply
from bot.pipeline import Pipeline
from bot.platforms.base import ZALO_TEXT_LIMIT
from bot.channels.delivery import Outcome
from bot.channels.messengers import Messengers
from bot.channels.zalo.webhook import WEBHOOK_PATH, signature
from bot.channels.zalo import api as zalo_api_module
from bot.channels.zalo.api import FileTokenStore, SendStatus, TokenPair, fingerprint
from bot.storage.tokens import DbTokenStore
from bot.runner import build_http_app
from bot.settings import Settings, ZaloSettings
from tests.fakes.zalo_api import Fault, FakeZaloAPI

APP_ID = "fake-app"
OA_SECRET = "oa-secret-key"
APP_SECRET = "fake-app-secret"
QUESTION = "Nghị quyết 05 thực hiện trong giai đoạn nào?"


# -- fixtures ------------------------------------------------------------------

# `hash_searcher`, `knowledge` and `e2e_settings` come from tests/e2e/conftest.py.

@pytest.fixture
async def zalo_api():
    async with FakeZaloAPI(app_id=APP_ID, app_secret=APP_SECRET) as api:
        yield api


@pytest.fixture
def settings(e2e_settings, zalo_api) -> Settings:
    return e2e_settings.model_copy(update={
        "zalo": ZaloSettings(
            app_id=APP_ID,
            oa_secret_key=SecretStr(OA_SECRET),
            app_secret=SecretStr(APP_SECRET),
            access_token=SecretStr(zalo_api.access_token),
            refresh_token=SecretStr(zalo_api.refresh_token),
            api_base_url=zalo_api.base_url,
            oauth_base_url=zalo_api.base_url,
            max_event_age_seconds=300,
        ),
    })


@dataclass
class Bot:
    url: str
    messengers: Messengers
    pipeline: Pipeline
    http: aiohttp.ClientSession
    api: FakeZaloAPI

    async def post(self, event: dict | None = None, *, raw: bytes | None = None,
                   sig: str | None = None) -> aiohttp.ClientResponse:
        body = raw if raw is not None else json.dumps(event, ensure_ascii=False).encode()
        if sig is None:
            sig = signature(APP_ID, body, str(event["timestamp"]), OA_SECRET)
        async with self.http.post(self.url, data=body, headers={
            "X-ZEvent-Signature": sig, "Content-Type": "application/json",
        }) as resp:
            await resp.read()
            return resp

    @property
    def channel(self):
        return self.messengers.channels["zalo"]

    @property
    def client(self):
        return self.channel.client

    async def settle(self) -> None:
        await self.messengers.dispatcher.idle()


@pytest.fixture
async def bot(settings, hash_searcher, knowledge, zalo_api):
    deps = build_deps(settings, searcher=hash_searcher, knowledge=knowledge)
    pipeline = Pipeline(deps)
    app = build_http_app()
    messengers = Messengers(pipeline, settings)
    messengers.install(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    async with aiohttp.ClientSession() as http:
        yield Bot(f"http://127.0.0.1:{port}{WEBHOOK_PATH}", messengers, pipeline, http, zalo_api)
    await runner.cleanup()
    await close_deps(deps)


_serial = 0


def text_event(user_id: str, text: str, msg_id: str | None = None, timestamp: int | None = None) -> dict:
    global _serial
    _serial += 1
    return {
        "app_id": APP_ID,
        "user_id_by_app": f"app-{user_id}",
        "event_name": "user_send_text",
        "sender": {"id": user_id},
        "recipient": {"id": "oa-1"},
        "message": {"text": text, "msg_id": msg_id or f"msg-{_serial}"},
        # Zalo sends the timestamp as a string of milliseconds.
        "timestamp": str(timestamp if timestamp is not None else int(time.time() * 1000)),
    }


# -- the happy paths -----------------------------------------------------------

async def test_question_gets_quoted_answer(bot):
    resp = await bot.post(text_event("u1", QUESTION))
    assert resp.status == 200
    await bot.settle()
    texts = bot.api.texts_to("u1")
    assert len(texts) == 1
    assert texts[0].startswith("Theo văn bản:")
    assert "giai đoạn 2026" in texts[0] and "«" in texts[0]
    # A short answer with its rating choices is a list template: each choice an element
    # whose tap sends its number back, hidden, as if typed.
    (sent,) = [m for m in bot.api.sent if m.user_id == "u1"]
    title, *choices = sent.attachment["payload"]["elements"]
    assert title["title"] == "Theo văn bản:" and title["subtitle"].endswith("(Chạm vào một lựa chọn hoặc trả lời bằng số.)")
    assert [(c["title"], c["default_action"]) for c in choices] == [
        ("1. 👍 Hữu ích", {"type": "oa.query.hide", "payload": "1"}),
        ("2. 👎 Chưa đúng", {"type": "oa.query.hide", "payload": "2"})]


async def test_numbered_choice_opens_model_card(bot):
    await bot.post(text_event("u2", "/mohinh"))
    await bot.settle()
    menu = bot.api.texts_to("u2")
    assert len(menu) == 1 and "11 mô hình trọng tâm" in menu[0] and "\n1. " in menu[0]
    await bot.post(text_event("u2", "1"))
    await bot.settle()
    card = bot.api.texts_to("u2")[1]
    assert card.startswith("Mô hình 1/11:")
    # The card's own buttons ("🛠 Cách triển khai các mô hình", "⬅️ 11 mô hình") are now
    # choices 1 and 2: back to the list.
    await bot.post(text_event("u2", "2"))
    await bot.settle()
    assert "11 mô hình trọng tâm" in bot.api.texts_to("u2")[2]


async def test_follow_gets_welcome(bot):
    event = {"app_id": APP_ID, "event_name": "follow", "oa_id": "oa-1", "source": "oa_profile",
             "follower": {"id": "u-new"}, "timestamp": str(int(time.time() * 1000))}
    assert (await bot.post(event)).status == 200
    assert (await bot.post(event)).status == 200      # Zalo's retry of the same event
    await bot.settle()
    texts = bot.api.texts_to("u-new")
    assert len(texts) == 1 and texts[0].startswith("Xin chào!")


async def test_unfollow_is_acknowledged_and_sends_nothing(bot):
    event = {"app_id": APP_ID, "event_name": "unfollow", "oa_id": "oa-1",
             "follower": {"id": "u-gone"}, "timestamp": str(int(time.time() * 1000))}
    assert (await bot.post(event)).status == 200
    await bot.settle()
    assert bot.api.attempts == []


# -- what must be refused, with no side effect ---------------------------------

async def test_forged_signature_is_refused(bot):
    event = text_event("u3", QUESTION)
    body = json.dumps(event).encode()
    forged = signature(APP_ID, body, event["timestamp"], "not-the-secret")
    assert (await bot.post(raw=body, sig=forged)).status == 403
    assert (await bot.post(raw=body, sig="")).status == 403
    # A body altered after signing.
    good = signature(APP_ID, body, event["timestamp"], OA_SECRET)
    tampered = body.replace(b"u3", b"u4")
    assert (await bot.post(raw=tampered, sig=good)).status == 403
    await bot.settle()
    assert bot.api.attempts == []


async def test_stale_event_is_refused(bot):
    old = int((time.time() - 10 * 60) * 1000)
    assert (await bot.post(text_event("u5", QUESTION, timestamp=old))).status == 403
    future = int((time.time() + 10 * 60) * 1000)
    assert (await bot.post(text_event("u5", QUESTION, timestamp=future))).status == 403
    await bot.settle()
    assert bot.api.attempts == []
    # Nothing was recorded either: the same message, fresh, is answered.
    assert (await bot.post(text_event("u5", QUESTION, msg_id="msg-u5"))).status == 200
    await bot.settle()
    assert len(bot.api.texts_to("u5")) == 1


async def test_malformed_json_is_refused(bot):
    body = b'{"event_name": "user_send_text", "timestamp": '
    assert (await bot.post(raw=body, sig=signature(APP_ID, body, "", OA_SECRET))).status == 400
    body = b'["not", "an", "object"]'
    assert (await bot.post(raw=body, sig=signature(APP_ID, body, "", OA_SECRET))).status == 400
    body = b'{"event_name": "user_send_text"}'                     # no timestamp
    assert (await bot.post(raw=body, sig=signature(APP_ID, body, "", OA_SECRET))).status == 400
    await bot.settle()
    assert bot.api.attempts == []


async def test_unknown_event_is_acknowledged_and_ignored(bot):
    event = {"app_id": APP_ID, "event_name": "user_reacted_message", "sender": {"id": "u6"},
             "timestamp": str(int(time.time() * 1000))}
    assert (await bot.post(event)).status == 200
    oa_echo = text_event("u6", "tin nhắn của OA") | {"event_name": "oa_send_text"}
    assert (await bot.post(oa_echo)).status == 200
    await bot.settle()
    assert bot.api.attempts == []


async def test_redelivered_message_is_answered_once(bot):
    event = text_event("u7", QUESTION, msg_id="same-msg-id")
    assert (await bot.post(event)).status == 200
    assert (await bot.post(event)).status == 200               # Zalo's retry, same msg_id
    await bot.settle()
    assert (await bot.post(event)).status == 200               # and a late one
    await bot.settle()
    assert len(bot.api.texts_to("u7")) == 1


# -- tokens --------------------------------------------------------------------

async def test_expired_token_is_refreshed_and_persisted(bot, settings):
    bot.api.expire_access_token()
    await bot.post(text_event("u8", QUESTION))
    await bot.settle()
    texts = bot.api.texts_to("u8")
    assert len(texts) == 1 and texts[0].startswith("Theo văn bản:")
    assert len(bot.api.refreshes) == 1
    refresh = bot.api.refreshes[0]
    assert refresh == {"refresh_token": "refresh-0", "app_id": APP_ID, "grant_type": "refresh_token"}
    assert [a.outcome for a in bot.api.attempts] == ["error:-216", "sent"]
    assert bot.api.sent[0].access_token == "access-1"
    stored = await DbTokenStore(bot.pipeline.deps.db.sessions, "zalo").load()      # in the database
    assert (stored.access_token, stored.refresh_token) == ("access-1", "refresh-1")
    assert stored.seeded_from == fingerprint("refresh-0")


async def test_concurrent_sends_during_expiry_refresh_once(bot):
    bot.api.expire_access_token()
    bot.api.refresh_delay = 0.3          # the refresh is in flight while others hit -216
    users = [f"c{i}" for i in range(8)]
    await asyncio.gather(*(bot.post(text_event(u, QUESTION)) for u in users))
    await bot.settle()
    # Every answer really hit the expired token before the one refresh.
    assert sum(a.outcome == "error:-216" for a in bot.api.attempts) == len(users)
    results = await asyncio.gather(*(bot.channel.send(u, Reply("Thông báo thử.")) for u in users))
    assert all(r.delivered for r in results)
    assert len(bot.api.refreshes) == 1 and bot.api.refused_refreshes == []
    for u in users:
        assert len(bot.api.texts_to(u)) == 2


async def test_concurrent_direct_sends_refresh_once(bot):
    bot.api.expire_access_token()
    bot.api.refresh_delay = 0.2
    client = bot.client
    results = await asyncio.gather(*(client.send_text(f"d{i}", "Xin chào") for i in range(20)))
    assert {r.status for r in results} == {SendStatus.SENT}
    assert len(bot.api.refreshes) == 1 and client.refreshes == 1


async def test_refused_refresh_waits_and_readyz_says_so(bot):
    bot.api.expire_access_token()
    bot.api.refresh_token = "rotated-elsewhere"     # our refresh token is spent
    result = await bot.channel.send("u9", Reply("Xin chào"))
    # Not the message's fault: the outbox keeps it until its deadline (the OA may be re-authorised).
    assert result.outcome is Outcome.TRANSIENT and "-216" in result.detail
    assert len(bot.api.refused_refreshes) == 1 and bot.api.sent == []
    assert bot.client.token_health() == (False, "refresh token refused: re-authorise the OA")
    # Within the cool-down, a second send does not burn another refresh attempt.
    await bot.channel.send("u9", Reply("Xin chào"))
    assert len(bot.api.refused_refreshes) == 1


async def test_a_failed_refresh_is_retried_at_once(bot):
    bot.api.expire_access_token()
    bot.api.refresh_faults.extend([502, 500])      # the OAuth server hiccups twice
    assert (await bot.channel.send("u9", Reply("Xin chào"))).delivered
    assert len(bot.api.refreshes) == 1 and bot.client.token_health()[0]


async def test_a_refresh_failing_for_a_while_blocks_replies_for_seconds_not_a_minute(bot, monkeypatch):
    monkeypatch.setattr(zalo_api_module, "FAILING_COOLDOWN_SECONDS", (0.05, 0.1))
    monkeypatch.setattr(zalo_api_module, "REFRESH_RETRY_SECONDS", (0.0, 0.01))
    bot.api.expire_access_token()
    bot.api.refresh_faults.extend([500] * zalo_api_module.REFRESH_ATTEMPTS)
    result = await bot.channel.send("u9", Reply("Xin chào"))
    assert result.outcome is Outcome.TRANSIENT
    assert bot.client.token_health() == (False, "access token refresh failing")
    await asyncio.sleep(0.15)                       # the cool-down is over: the good refresh token works
    assert (await bot.channel.send("u9", Reply("Xin chào"))).delivered
    assert bot.client.token_health()[0] and len(bot.api.refreshes) == 1


async def test_stored_tokens_win_unless_settings_were_reauthorised(tmp_path, settings, zalo_api):
    store = FileTokenStore(tmp_path / "tokens.json")
    await store.save(TokenPair("access-stored", "refresh-stored", seeded_from=fingerprint("refresh-0")))
    from bot.channels.zalo.api import ZaloClient
    async with aiohttp.ClientSession() as session:
        client = ZaloClient(settings.zalo, session, store)
        await client.start()
        assert client.access_token == "access-stored"
        reauthorised = settings.zalo.model_copy(update={
            "access_token": SecretStr("access-new"), "refresh_token": SecretStr("refresh-new")})
        client = ZaloClient(reauthorised, session, store)
        await client.start()
        assert client.access_token == "access-new"
    assert "access-stored" not in repr(TokenPair("access-stored", "refresh-stored"))


# -- delivery failures ---------------------------------------------------------

async def test_out_of_window_is_recorded_not_retried(bot, caplog):
    bot.api.out_of_window.add("u10")
    with caplog.at_level(logging.INFO, logger="bot.channels"):
        await bot.post(text_event("u10", QUESTION))
        await bot.settle()
    assert [a.outcome for a in bot.api.attempts] == ["error:-230"]
    assert bot.api.sent == []
    assert any("7-day" in r.getMessage() and r.levelno == logging.INFO for r in caplog.records)
    result = await bot.channel.send("u10", Reply("Thông báo mới."))
    assert result.outcome is Outcome.OUTSIDE_WINDOW and "-230" in result.detail
    assert len(bot.api.attempts) == 2                      # one attempt each, no retries


async def test_injected_faults_map_to_results(bot):
    api, channel = bot.api, bot.channel
    api.inject("u11", Fault.http(502), Fault.zalo(-32), Fault.zalo(-201, "bad params"))
    assert (await channel.send("u11", Reply("a"))).outcome is Outcome.TRANSIENT
    limited = await channel.send("u11", Reply("b"))
    assert limited.outcome is Outcome.RETRY_AFTER and limited.retry_after == 60 and limited.platform_wide
    failed = await channel.send("u11", Reply("c"))
    assert failed.outcome is Outcome.PERMANENT and "-201" in failed.detail
    assert (await channel.send("u11", Reply("d"))).delivered
    assert api.texts_to("u11") == ["d"]
    assert len(api.attempts) == 4                          # one attempt per send, no retries


async def test_timeout_is_retry_later(bot):
    client = bot.client
    client._timeout = aiohttp.ClientTimeout(total=0.2)
    bot.api.inject("u12", Fault.timeout(1.0))
    result = await client.send_text("u12", "Xin chào")
    assert result.status is SendStatus.RETRY_LATER


# -- long replies and shutdown ---------------------------------------------------

async def test_long_reply_is_split_at_word_boundaries(bot):
    words = [f"từ{i % 97}" for i in range(1200)]
    long_text = " ".join(words)
    while len(long_text) < 4500:
        words.append("thêm")
        long_text = " ".join(words)
    long_text = long_text[:4500].rsplit(" ", 1)[0]
    assert 4400 < len(long_text) <= 4500

    async def long_answer(msg: Incoming, turn) -> list[Reply]:
        return [Reply(long_text)]

    bot.pipeline.deps.router.command("dai", "Câu trả lời dài (thử)", hidden=True)(long_answer)
    await bot.post(text_event("u13", "/dai"))
    await bot.settle()
    parts = bot.api.texts_to("u13")
    assert len(parts) == 3
    assert all(0 < len(p) <= ZALO_TEXT_LIMIT for p in parts)
    assert " ".join(parts).split() == long_text.split()      # no word cut, none lost
    assert all(p == p.strip() for p in parts)


async def serve_zalo(settings, deps) -> tuple[web.AppRunner, Messengers, str]:
    app = build_http_app()
    messengers = Messengers(Pipeline(deps), settings)
    messengers.install(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, messengers, f"http://127.0.0.1:{port}{WEBHOOK_PATH}"


async def post_event(url: str, event: dict) -> int:
    body = json.dumps(event).encode()
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=body, headers={
                "X-ZEvent-Signature": signature(APP_ID, body, event["timestamp"], OA_SECRET)}) as resp:
            return resp.status


async def test_shutdown_finishes_the_reply_in_flight(settings, hash_searcher, knowledge, zalo_api):
    deps = build_deps(settings, searcher=hash_searcher, knowledge=knowledge)
    runner, messengers, url = await serve_zalo(settings, deps)
    zalo_api.inject("u14", Fault.slow(0.3))                  # the reply is still in flight...
    assert await post_event(url, text_event("u14", QUESTION)) == 200
    await asyncio.sleep(0.1)
    await runner.cleanup()                                   # ...when the server stops
    await close_deps(deps)
    assert len(zalo_api.texts_to("u14")) == 1
    assert messengers.session.closed


async def test_an_acknowledged_event_is_answered_after_a_restart(settings, hash_searcher, knowledge, zalo_api):
    """Zalo is down when the bot stops: the reply waits in the database, and the next
    start sends it (once), as well as the answer to an event acknowledged meanwhile."""
    deps = build_deps(settings, searcher=hash_searcher, knowledge=knowledge)
    runner, messengers, url = await serve_zalo(settings, deps)
    messengers.drain_seconds = 0.2
    zalo_api.inject("u17", *[Fault.http(502)] * 3)
    assert await post_event(url, text_event("u17", QUESTION, msg_id="m-u17")) == 200
    while len(zalo_api.attempts) < 1:
        await asyncio.sleep(0.01)
    await runner.cleanup()
    assert zalo_api.texts_to("u17") == []
    runner, messengers, url = await serve_zalo(settings, deps)
    assert await post_event(url, text_event("u17", QUESTION, msg_id="m-u17")) == 200    # redelivered
    await messengers.dispatcher.idle()
    await runner.cleanup()
    await close_deps(deps)
    assert len(zalo_api.texts_to("u17")) == 1


async def test_numeric_timestamp_is_accepted_and_absurd_ones_refused(bot):
    event = text_event("u15", QUESTION)
    event["timestamp"] = int(event["timestamp"])             # a number instead of Zalo's string
    assert (await bot.post(event)).status == 200
    huge = text_event("u15", QUESTION) | {"timestamp": "9" * 5000}
    assert (await bot.post(huge, sig="mac=00")).status == 400
    await bot.settle()
    assert len(bot.api.texts_to("u15")) == 1


async def test_processes_sharing_the_database_refresh_once(bot, settings):
    """The bot and other processes (replicas, a broadcast worker) share the pair in the
    database: when the access token expires, one refresh token is spent, once."""
    from bot.channels.zalo.api import ZaloClient

    sessions = bot.pipeline.deps.db.sessions
    bot.api.refresh_delay = 0.2
    async with aiohttp.ClientSession() as session:
        others = [ZaloClient(settings.zalo, session, DbTokenStore(sessions, "zalo")) for _ in range(3)]
        for other in others:
            await other.start()
        await bot.client.start()
        bot.api.expire_access_token()
        results = await asyncio.gather(bot.client.send_text("u16", "một"),
                                       *(o.send_text("u16", f"hai {i}") for i, o in enumerate(others)))
    assert {r.status for r in results} == {SendStatus.SENT}
    assert len(bot.api.refreshes) == 1 and bot.api.refused_refreshes == []
    assert sum(c.refreshes for c in [bot.client, *others]) == 1


# -- every message gets an answer ------------------------------------------------

def media_event(user_id: str, event_name: str, text: str | None = None, **message) -> dict:
    event = text_event(user_id, text or "")
    event["event_name"] = event_name
    if text is None:
        del event["message"]["text"]
    event["message"].update(message)
    return event


async def test_every_kind_of_message_gets_one_answer_saying_what_the_bot_reads(bot):
    from handlers.media import CANNOT_READ, UNKNOWN_KIND

    image = {"attachments": [{"type": "image", "payload": {"url": "https://example.org/a.jpg"}}]}
    kinds = [("user_send_image", "photo"), ("user_send_gif", "photo"), ("user_send_sticker", "sticker"),
             ("user_send_audio", "voice"), ("user_send_video", "video"), ("user_send_file", "file"),
             ("user_send_location", "location"), ("user_send_business_card", None)]
    for n, (event_name, kind) in enumerate(kinds):
        await bot.post(media_event(f"m{n}", event_name, **image))
    await bot.settle()
    for n, (_, kind) in enumerate(kinds):
        (reply,) = bot.api.texts_to(f"m{n}")
        assert reply.startswith(CANNOT_READ[kind] if kind else UNKNOWN_KIND)
        assert "gõ câu hỏi" in reply
    # A photo with a caption: the caption is the question.
    await bot.post(media_event("m-cap", "user_send_image", QUESTION, **image))
    await bot.settle()
    (answer,) = bot.api.texts_to("m-cap")
    assert answer.startswith("Theo văn bản:")


async def test_a_sticker_after_a_menu_is_not_read_as_a_number(bot):
    await bot.post(text_event("m-menu", "/mohinh"))
    await bot.settle()
    await bot.post(media_event("m-menu", "user_send_sticker"))
    await bot.settle()
    assert bot.api.texts_to("m-menu")[1].startswith("Mình chưa hiểu được nhãn dán")


async def test_a_long_message_is_told_its_real_length_and_one_limit(bot):
    await bot.post(text_event("m-long", "chữ " * 1250))
    await bot.settle()
    (reply,) = bot.api.texts_to("m-long")
    assert reply.startswith("Câu hỏi của bạn dài 4.999 ký tự, mình chỉ nhận tối đa 1.000 ký tự.")
    assert "2000" not in reply and "2.000" not in reply


async def test_a_resident_gives_feedback_by_numbers_and_it_is_exported_masked(bot):
    from bot.storage.export import export_rows

    async def say(text: str | None = None, event: str = "user_send_text") -> str:
        before = len(bot.api.texts_to("fb"))
        await bot.post(media_event("fb", event, text) if event != "user_send_text" else text_event("fb", text))
        await bot.settle()
        (reply,) = bot.api.texts_to("fb")[before:]
        return reply

    assert "viết góp ý" in await say("/gopy")
    menu = await say("Đề nghị làm thêm sân chơi cho trẻ em, liên hệ 0987.654.321 nhé")
    assert "\n14. Chủ đề khác\n" in menu and "\n8. Mô hình 8: Cơ sở kinh doanh dịch vụ thân thiện với môi trường" in menu
    assert "bấm" not in menu and "nút" not in menu
    preview = await say("14")
    assert "Chủ đề: Khác" in preview and "1. ✅ Gửi" in preview
    assert (await say(event="user_send_sticker")).startswith("Mình chưa hiểu được nhãn dán")
    assert (await say("gửi đi")).startswith("Cảm ơn bạn! Góp ý của bạn về «Khác»")   # typed, not a number
    assert (await say("x " * 2500)).startswith("Câu hỏi của bạn dài 4.999 ký tự, mình chỉ nhận tối đa 1.000 ký tự.")
    async with bot.pipeline.deps.db.sessions() as session:
        (row,) = await export_rows(session, "feedback", "secret")
    assert row["text"] == "Đề nghị làm thêm sân chơi cho trẻ em, liên hệ [số điện thoại] nhé"


async def test_a_long_answer_cut_by_a_server_error_is_finished_without_repeating_parts(bot):
    async def long_answer(msg: Incoming, turn) -> list[Reply]:
        return [Reply(" ".join(f"từ{i}" for i in range(1500)))]

    bot.pipeline.deps.router.command("dai2", "Câu trả lời dài (thử)", hidden=True)(long_answer)
    bot.api.inject("u18", Fault.slow(0), Fault.http(502))        # part 2 fails once
    await bot.post(text_event("u18", "/dai2"))
    await bot.settle()
    parts = bot.api.texts_to("u18")
    assert " ".join(parts).split() == [f"từ{i}" for i in range(1500)]   # each part once, in order
