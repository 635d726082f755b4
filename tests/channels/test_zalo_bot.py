"""The Zalo Bot Platform messenger (bot/channels/zalo_bot) against the fake Bot API
(tests/fakes/zalo_bot_api.py): inbound mapping of each event kind, the outcome of
each kind of send failure, the webhook's secret, long polling in order across a
restart, and a resident's whole session in polling and webhook mode.
"""

from __future__ import annotations

import asyncio
import socket
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select

from bot.app import build_deps, close_deps
from bot.channels import registry
from bot.channels.delivery import Outcome
from bot.channels.dispatch import ChatDispatcher
from bot.channels.zalo_bot import build_channel, start_inbound
from bot.channels.zalo_bot.api import ZaloBotAPI
from bot.channels.zalo_bot.channel import ZaloBotChannel
from bot.channels.zalo_bot.inbound import WEBHOOK_PATH, add_inbound, incoming_from
from bot.channels.zalo_bot.settings import ZaloBotSettings
from bot.messages import Button, Incoming, Reply
from bot.pipeline import FloodControl, Pipeline
from bot.settings import Settings
from tests.fakes.zalo_bot_api import Fault, FakeZaloBotAPI

SECRET = "webhook-secret-123"
QUESTION = "Nghị quyết 05 thực hiện trong giai đoạn nào?"
LIMITS = registry.get("zalo_bot").limits


@pytest.fixture
async def api() -> AsyncIterator[FakeZaloBotAPI]:
    async with FakeZaloBotAPI(max_poll_seconds=5.0) as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def bot_settings(api: FakeZaloBotAPI, webhook_url: str | None = None, token: str | None = None) -> ZaloBotSettings:
    return ZaloBotSettings(token=SecretStr(token or api.token), base_url=api.base_url,
                           webhook_url=webhook_url, webhook_secret=SecretStr(SECRET) if webhook_url else None)


# -- settings and registry -----------------------------------------------------------------

def test_the_settings_section_comes_from_the_environment(monkeypatch):
    assert not registry.get("zalo_bot").enabled(Settings(_env_file=None))
    monkeypatch.setenv("CIVICBOT_ZALO_BOT__TOKEN", "123:abc")
    monkeypatch.setenv("CIVICBOT_ZALO_BOT__WEBHOOK_URL", "https://bot.example.vn/zalo_bot/webhook")
    monkeypatch.setenv("CIVICBOT_ZALO_BOT__WEBHOOK_SECRET", "s" * 8)
    settings = Settings(_env_file=None)
    spec = registry.get("zalo_bot")
    assert spec.label == "Zalo Bot" and spec.enabled(settings) and settings.zalo_bot.mode == "webhook"
    assert "123:abc" not in repr(settings.zalo_bot) and spec in registry.enabled(settings)


def test_a_webhook_without_a_proper_secret_is_a_settings_error():
    with pytest.raises(ValueError, match="webhook_secret"):
        ZaloBotSettings(token=SecretStr("1:x"), webhook_url="https://x.vn/zalo_bot/webhook")
    with pytest.raises(ValueError, match="webhook_secret"):
        ZaloBotSettings(token=SecretStr("1:x"), webhook_url="https://x.vn/zalo_bot/webhook",
                        webhook_secret=SecretStr("short"))


# -- inbound: each event kind ------------------------------------------------------------

def update(event: str, text: str | None = None, *, chat: str = "c1", sender: str = "c1", **message) -> dict:
    body = {"message_id": "m-" + event, "date": 1749632637199,
            "from": {"id": sender, "display_name": "Lan", "is_bot": False},
            "chat": {"id": chat, "chat_type": "PRIVATE" if chat == sender else "GROUP"}, **message}
    if text is not None:
        body["text"] = text
    return {"event_name": event, "message": body}


def test_a_text_message_becomes_a_normalised_incoming():
    decomposed = unicodedata.normalize("NFD", "Nghị quyết 05 là gì?")
    msg = incoming_from(update("message.text.received", decomposed + "\u200b"))
    assert msg == Incoming(msg.platform, "c1", "c1", "Nghị quyết 05 là gì?", message_id="m-message.text.received",
                           display_name="Lan", received_at=msg.received_at, text_lines="Nghị quyết 05 là gì?")
    assert msg.platform == "zalo_bot" and msg.media == ""


@pytest.mark.parametrize("event, fields, media, text", [
    ("message.image.received", {"photo": "https://z/p.jpg", "caption": "Đèn hỏng ngõ 5"}, "photo", "Đèn hỏng ngõ 5"),
    ("message.image.received", {"photo": "https://z/p.jpg"}, "photo", ""),
    ("message.sticker.received", {"sticker": "0e078a2fb66a5f34067b", "url": "https://z/s.png"}, "sticker", ""),
    ("message.voice.received", {"voice_url": "https://z/v.aac"}, "voice", ""),
    ("message.unsupported.received", {}, "unsupported", ""),
    ("message.video.received", {"url": "https://z/v.mp4"}, "unsupported", ""),    # a kind Zalo adds later
])
def test_what_the_bot_cannot_read_becomes_media(event, fields, media, text):
    msg = incoming_from(update(event, **fields))
    assert (msg.media, msg.text, msg.chat_id, msg.callback_data) == (media, text, "c1", None)


def test_a_group_message_keeps_chat_and_sender_apart_and_empty_text_is_answered():
    msg = incoming_from(update("message.text.received", "chào", chat="g1", sender="u7"))
    assert (msg.chat_id, msg.user_id) == ("g1", "u7")
    assert incoming_from(update("message.text.received", "  ")).media == "unsupported"


@pytest.mark.parametrize("raw", [
    {}, {"event_name": "message.text.received"}, {"event_name": "x", "message": "text"},
    {"event_name": "message.text.received", "message": {"text": "hi"}},               # no chat, no sender
    update("message.text.received", "hi") | {"message": update("message.text.received", "hi")["message"]
                                              | {"from": {"id": "b", "is_bot": True}}},
    ["not", "an", "object"], None, "update",
])
def test_what_is_not_a_persons_message_is_not_handed_on(raw):
    assert incoming_from(raw) is None


def test_odd_field_types_give_a_polite_answer_not_an_exception():
    odd = {"event_name": 7, "message": {"chat": {"id": 5}, "from": [], "text": ["x"], "message_id": {}}}
    msg = incoming_from(odd)
    assert (msg.chat_id, msg.user_id, msg.text, msg.media, msg.message_id) == ("5", "5", "", "unsupported", None)


# -- outbound: outcomes against the fake ---------------------------------------------------

@pytest.fixture
def channel(api, session) -> ZaloBotChannel:
    return ZaloBotChannel(ZaloBotAPI(api.base_url, api.token, session, timeout=1.0), LIMITS)


MENU = Reply.with_buttons("Bạn chọn một mục:", [Button("Mô hình 1", "m:1"), Button("Mô hình 2", "m:2")],
                          [Button("⬅️ Quay lại", "back", full_label="⬅️ Quay lại danh sách")])


async def test_a_menu_goes_out_as_numbered_choices_and_a_number_stays_text(api, session):
    channel = ZaloBotChannel(ZaloBotAPI(api.base_url, api.token, session), LIMITS)
    delivery = await channel.send("c1", MENU)
    assert delivery.delivered and delivery.parts_sent == 1 and delivery.message_ids == (api.sent[0].message_id,)
    assert api.texts_to("c1") == ["Bạn chọn một mục:\n\n1. Mô hình 1\n2. Mô hình 2\n3. ⬅️ Quay lại danh sách"
                                  "\n(Trả lời bằng số để chọn.)"]
    # The core numbers a reply's choices on from those the chat still holds (bot/choices.py).
    await channel.send("c1", replace(MENU, numbered_from=4))
    assert api.texts_to("c1")[-1].startswith("Bạn chọn một mục:\n\n4. Mô hình 1\n5. Mô hình 2\n6. ⬅️")
    # The answer is read by the core, not here: "2" reaches it as text.
    msg = incoming_from(update("message.text.received", " 2 "))
    assert msg.text == "2" and msg.callback_data is None


async def test_a_long_reply_is_split_at_the_limit_and_a_link_goes_below_the_text(channel, api):
    text = "\n\n".join(f"Đoạn {i}: " + "chữ " * 120 for i in range(12))          # ~5,900 characters
    delivery = await channel.send("c1", Reply(text, preview_url="https://haiphong.gov.vn/tin/1"))
    parts = api.texts_to("c1")
    assert delivery.delivered and delivery.parts_sent == len(parts) == len(delivery.message_ids) == 3
    assert all(1 <= len(p) <= 2000 for p in parts) and "".join(parts).count("Đoạn") == 12
    assert parts[-1].endswith("\n\nhttps://haiphong.gov.vn/tin/1")


@pytest.mark.parametrize("fault, outcome, maybe_delivered, went_out", [
    (Fault.rate_limited(7), Outcome.RETRY_AFTER, False, False),
    (Fault.server_error(502), Outcome.TRANSIENT, True, False),
    (Fault.not_json(), Outcome.TRANSIENT, True, False),
    (Fault.error_after_delivery(), Outcome.TRANSIENT, True, True),
    (Fault.timeout(3.0), Outcome.TRANSIENT, True, True),          # the channel gives up after 1 s
    (Fault.blocked(), Outcome.BLOCKED, False, False),
    (Fault.bad_request(), Outcome.PERMANENT, False, False),
])
async def test_each_failure_has_its_outcome(channel, api, fault, outcome, maybe_delivered, went_out):
    api.add_fault(fault, method="sendMessage", chat_id="c1")
    delivery = await channel.send("c1", Reply("Xin chào"))
    assert (delivery.outcome, delivery.maybe_delivered, delivery.parts_sent) == (outcome, maybe_delivered, 0)
    assert bool(api.texts_to("c1")) is went_out
    if outcome is Outcome.RETRY_AFTER:
        assert delivery.retry_after == 7 and delivery.platform_wide
    assert (await channel.send("c1", Reply("Lần nữa"))).delivered                  # one attempt, no retry inside


async def test_a_wrong_token_and_an_unreachable_api_are_told_apart(api, session):
    refused = ZaloBotChannel(ZaloBotAPI(api.base_url, "1:wrong", session), LIMITS)
    assert (await refused.send("c1", Reply("x"))).outcome is Outcome.PERMANENT
    with socket.socket() as s:                      # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/bot"
    unreachable = ZaloBotChannel(ZaloBotAPI(closed, api.token, session), LIMITS)
    delivery = await unreachable.send("c1", Reply("x"))
    assert delivery.outcome is Outcome.TRANSIENT and not delivery.maybe_delivered
    assert api.sent == []


async def test_the_second_part_failing_stops_the_reply_and_says_what_went_out(channel, api):
    api.add_fault(Fault.answer_normally(), method="sendMessage")
    api.add_fault(Fault.rate_limited(2), method="sendMessage")
    delivery = await channel.send("c1", Reply("\n\n".join(["chữ " * 400] * 3)))
    assert delivery.outcome is Outcome.RETRY_AFTER and delivery.parts_sent == 1
    assert delivery.message_ids == (api.sent[0].message_id,) and len(api.sent) == 1


async def test_a_menu_cannot_be_edited_in_place_and_an_empty_reply_is_not_sent(channel, api):
    assert (await channel.edit("c1", "m1", MENU)).outcome is Outcome.PERMANENT
    assert (await channel.send("c1", Reply("  "))).outcome is Outcome.PERMANENT      # Zalo wants 1-2,000
    assert api.calls == []


async def test_build_channel_takes_the_runners_session(api, session):
    settings = Settings(_env_file=None, zalo_bot=bot_settings(api))
    channel = build_channel(settings, session)
    assert channel.platform == "zalo_bot" and channel.limits == LIMITS
    assert (await channel.send("c9", Reply("Xin chào"))).delivered
    await channel.aclose()
    assert not session.closed
    with pytest.raises(SystemExit, match="CIVICBOT_ZALO_BOT__TOKEN"):
        build_channel(Settings(_env_file=None), session)


# -- inbound: a served app ---------------------------------------------------------------

@dataclass
class Served:
    """An aiohttp app with the Zalo Bot inbound side, on a random port."""

    api: FakeZaloBotAPI
    settings: ZaloBotSettings
    accept: "Accepting"
    poll_options: dict = field(default_factory=dict)
    runner: web.AppRunner | None = None
    check: object = None
    sock: socket.socket | None = None

    async def start(self) -> "Served":
        app = web.Application()
        inbound = add_inbound(app, self.accept, self.settings, **self.poll_options)
        self.check = inbound.check
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()                     # runs the lifecycle: getMe, setWebhook / polling
        await web.SockSite(self.runner, self.sock or listening_socket()[0]).start()
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()


def listening_socket() -> tuple[socket.socket, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}{WEBHOOK_PATH}"


class Accepting:
    """A stand-in for the durable inbox: records what it stored, fails when told to."""

    def __init__(self, failures: int = 0):
        self.stored: list[Incoming] = []
        self.attempts = 0
        self.failures = failures
        self.changed = asyncio.Event()

    async def __call__(self, msg: Incoming) -> None:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise RuntimeError("database unavailable")
        self.stored.append(msg)
        self.changed.set()

    async def wait(self, count: int) -> list[Incoming]:
        async def until() -> None:
            while len(self.stored) < count:
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(until(), 20)
        return self.stored


@pytest.fixture
async def webhook_app(api) -> AsyncIterator[Served]:
    sock, url = listening_socket()
    served = await Served(api, bot_settings(api, url), Accepting(), sock=sock).start()
    yield served
    await served.stop()


async def test_the_webhook_is_registered_with_the_secret(webhook_app, api):
    assert api.webhook == {"url": webhook_app.settings.webhook_url, "secret_token": SECRET}
    check = webhook_app.check()
    assert check.ok and check.detail == "webhook, token accepted"


async def test_a_forged_or_missing_secret_is_refused_with_no_side_effect(webhook_app, api):
    event = api.update("c1", QUESTION)
    assert await api.deliver(event, secret="webhook-secret-124") == 403
    assert await api.deliver(event, secret=SECRET + "x") == 403
    assert await api.deliver(event, secret="") == 401
    assert webhook_app.accept.attempts == 0 and api.sent == []
    assert await api.deliver(event) == 200
    assert [m.text for m in webhook_app.accept.stored] == [QUESTION]


async def test_an_update_not_stored_is_not_acknowledged_and_its_redelivery_is(api):
    sock, url = listening_socket()
    served = await Served(api, bot_settings(api, url), Accepting(failures=1), sock=sock).start()
    try:
        event = api.update("c1", QUESTION)
        assert await api.deliver(event) == 500                     # Zalo may send it again…
        assert await api.deliver(event) == 200                     # …and this time it is stored
        assert await api.deliver(api.update("c1"), body=b"{not json") == 400
        assert [m.message_id for m in served.accept.stored] == [event["message"]["message_id"]]
    finally:
        await served.stop()


async def test_polling_takes_updates_in_order_without_loss_or_duplicates_across_a_restart(api):
    settings, accept = bot_settings(api), Accepting()
    sent = [api.update("c1", f"tin {i}") for i in range(5)]
    for event in sent[:3]:
        await api.push(event)
    served = await Served(api, settings, accept, {"poll_seconds": 1.0}).start()
    assert served.check().ok and served.check().detail == "polling, token accepted"
    await accept.wait(3)
    await served.stop()
    assert not served.check().ok
    for event in sent[3:]:                        # arrive while the bot is down
        await api.push(event)
    served = await Served(api, settings, accept, {"poll_seconds": 1.0}).start()
    await accept.wait(5)
    await served.stop()
    assert [m.text for m in accept.stored] == [f"tin {i}" for i in range(5)]
    assert [m.message_id for m in accept.stored] == [e["message"]["message_id"] for e in sent]
    assert api.queued == 0


async def test_an_update_arriving_during_shutdown_is_stored_not_dropped(api):
    accept = Accepting()
    served = await Served(api, bot_settings(api), accept, {"poll_seconds": 4.0}).start()
    while not any(c.status == 0 for c in api.calls_of("getUpdates")):       # a long poll is waiting
        await asyncio.sleep(0.01)
    stopping = asyncio.create_task(served.stop())
    await asyncio.sleep(0.05)
    late = api.update("c1", "tin cuối")
    await api.push(late)                          # the waiting call returns it during shutdown
    await stopping
    assert [m.message_id for m in accept.stored] == [late["message"]["message_id"]]


async def test_polling_backs_off_on_errors_and_keeps_an_update_it_could_not_store(api):
    api.add_fault(Fault.server_error(), method="getUpdates", times=2)
    api.add_fault(Fault.rate_limited(0), method="getUpdates")
    api.add_fault(Fault.not_json(), method="getUpdates")
    accept = Accepting(failures=2)
    await api.push(api.update("c1", "vẫn đến"))
    served = await Served(api, bot_settings(api), accept, {"poll_seconds": 1.0, "backoff_base": 0.01}).start()
    try:
        (stored,) = await accept.wait(1)
    finally:
        await served.stop()
    assert stored.text == "vẫn đến" and accept.attempts == 3
    assert [c.status for c in api.calls_of("getUpdates")][:5] == [502, 502, 429, 502, 200]


async def test_neither_the_token_nor_the_webhook_secret_is_ever_logged(api, session, caplog):
    caplog.set_level("DEBUG")
    sock, url = listening_socket()
    api.add_fault(Fault.server_error(), method="setWebhook")
    served = await Served(api, bot_settings(api, url), Accepting(failures=1), sock=sock).start()
    try:
        assert not served.check().ok and api.webhook == {}          # setWebhook failed…
        api.webhook = {"url": url, "secret_token": SECRET}          # (registered by an earlier run)
        assert await api.deliver(api.update("c1", "a")) == 500     # …the webhook still takes calls
        assert await api.deliver(api.update("c1", "b"), secret="wrong-secret") == 403
    finally:
        await served.stop()
    channel = ZaloBotChannel(ZaloBotAPI(api.base_url, api.token, session, timeout=0.5), LIMITS)
    for fault in (Fault.timeout(1.0), Fault.not_json(), Fault.bad_request()):
        api.add_fault(fault, method="sendMessage")
        assert not (await channel.send("c1", Reply("x"))).delivered
    assert caplog.text and api.token.split(":")[1] not in caplog.text and SECRET not in caplog.text


async def test_a_list_of_updates_in_one_answer_is_taken_in_order():
    from bot.channels.zalo_bot.api import Answer
    from bot.channels.zalo_bot.inbound import Poller

    class ListingAPI:                 # should Zalo ever answer with Telegram's shape
        def __init__(self):
            self.answers = [Answer(True, [update("message.text.received", "một"),
                                          update("message.text.received", "hai")])]

        async def call(self, method, payload=None, timeout=None):
            await asyncio.sleep(0.01)
            return self.answers.pop(0) if self.answers else Answer(False, status=200, error_code=408)

    accept = Accepting()
    poller = Poller(ListingAPI(), accept, poll_seconds=1.0)
    poller.start()
    await accept.wait(2)
    await poller.stop()
    assert [m.text for m in accept.stored] == ["một", "hai"]


async def test_a_refused_token_shows_in_the_readiness_check(api):
    served = await Served(api, bot_settings(api, token="1:revoked"), Accepting(),
                          {"poll_seconds": 1.0, "backoff_base": 0.01}).start()
    try:
        check = served.check()
        assert not check.ok and check.detail == "polling, token not accepted"
    finally:
        await served.stop()


# -- a resident's whole session, in polling and webhook mode ---------------------------------
#
# The resident's session runs through the durable message path (bot/channels/dispatch.py):
# each update is stored before Zalo gets its answer, processed once, and the replies go
# out through the reply outbox, as in `civicbot run`.

@pytest.fixture(scope="module")
def bank(knowledge):
    from knowledge.quiz_schedule import QuestionBank
    return QuestionBank.build(knowledge)


@dataclass
class ResidentBot:
    api: FakeZaloBotAPI
    mode: str
    pipeline: Pipeline
    chat: str = "resident-1"
    last: dict | None = None

    async def say(self, text: str | None, replies: int = 1, event: dict | None = None) -> list[str]:
        """Send ``text`` (or ``event``) as the resident; the ``replies`` messages it gets."""
        before = len(self.api.texts_to(self.chat))
        self.last = event or self.api.update(self.chat, text)
        await self._hand(self.last)
        texts = await self.api.wait_for_sent(before + replies, self.chat)
        return [s.text for s in texts[before:]]

    async def resend(self) -> None:
        await self._hand(self.last)

    async def _hand(self, event: dict) -> None:
        if self.mode == "webhook":
            assert await self.api.deliver(event) == 200
        else:
            await self.api.push(event)


@pytest.fixture(params=["polling", "webhook"])
async def resident_bot(request, api, hash_searcher, knowledge, bank, tmp_path) -> AsyncIterator[ResidentBot]:
    from knowledge.quiz_schedule import BankLoader

    sock, url = listening_socket()
    section = bot_settings(api, url if request.param == "webhook" else None)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", zalo_bot=section)
    deps = replace(build_deps(settings, searcher=hash_searcher, knowledge=knowledge), quiz_bank=BankLoader(bank))
    pipeline = Pipeline(deps, flood=FloodControl(1000, 60))
    async with aiohttp.ClientSession() as session:
        channel = build_channel(settings, session)

        dispatcher = ChatDispatcher(pipeline, {"zalo_bot": channel})
        app = web.Application()
        start_inbound(app, dispatcher.accept, settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        try:
            yield ResidentBot(api, request.param, pipeline)
        finally:
            await runner.cleanup()
            await dispatcher.close()
            await close_deps(deps)


async def test_a_residents_session_question_menu_feedback_quiz_subscription_deletion(resident_bot):
    from bot.storage.models import Resident, Subscription

    bot = resident_bot
    (answer,) = await bot.say(QUESTION)
    assert answer.startswith("Theo văn bản:") and "giai đoạn 2026" in answer
    assert "1. 👍 Hữu ích" in answer and "(Trả lời bằng số để chọn.)" in answer
    # The same update again (a webhook retry, a poll replayed after a crash) is not answered
    # again: the next message's answer is the next one out.
    await bot.resend()
    (menu,) = await bot.say("/mohinh")
    assert len(bot.api.texts_to(bot.chat)) == 2
    assert "11 mô hình trọng tâm" in menu and "\n1. " in menu and "bấm" not in menu
    (card,) = await bot.say("1")
    assert card.startswith("Mô hình 1/11:")

    assert "viết góp ý" in (await bot.say("/gopy"))[0]
    (topics,) = await bot.say("Đề nghị làm thêm sân chơi cho trẻ em, liên hệ 0987.654.321 nhé")
    assert "\n14. Chủ đề khác\n" in topics
    (preview,) = await bot.say("14")
    assert "Chủ đề: Khác" in preview and "1. ✅ Gửi" in preview
    (sticker,) = await bot.say(None, event=bot.api.update(bot.chat, event="message.sticker.received",
                                                          sticker="0e078a2fb66a5f34067b"))
    assert sticker.startswith("Mình chưa hiểu được nhãn dán") and "/huy" in sticker
    (thanks,) = await bot.say("1")
    assert thanks.startswith("Cảm ơn bạn! Góp ý của bạn về «Khác»")

    (quiz_menu,) = await bot.say("/quiz")
    assert "3. 11 mô hình" in quiz_menu
    intro, question = await bot.say("3", replies=2)
    assert intro.startswith("🎯 Bắt đầu") and question.startswith("Câu 1/10\n") and "6. ⏹ Dừng bài" in question
    feedback, second = await bot.say("2", replies=2)
    assert feedback.startswith(("✅", "❌")) and second.startswith("Câu 2/10")
    (summary, *_) = await bot.say("6")
    assert "Kết quả:" in summary

    (wards,) = await bot.say("/dangky")
    assert "1. Phường Hồng Bàng" in wards
    (groups,) = await bot.say("1")
    assert groups.startswith("Bạn đã chọn Phường Hồng Bàng.") and "1. ⬜ Cư dân" in groups
    (groups,) = await bot.say("1")
    assert "1. ✅ Cư dân" in groups and "4. Xong" in groups
    (done,) = await bot.say("4")
    assert done.startswith("Bạn đã đăng ký nhận tin của Phường Hồng Bàng cho nhóm: Cư dân.")

    async def rows(model) -> list:
        async with bot.pipeline.deps.db.sessions() as session:
            return list((await session.scalars(select(model))).all())
    assert [(s.platform, s.chat_id, s.ward) for s in await rows(Subscription)] == [
        ("zalo_bot", bot.chat, "Phường Hồng Bàng")]

    (confirm,) = await bot.say("/xoadulieu")
    assert "không thể hoàn tác" in confirm and "1. 🗑 Xóa hết\n2. Giữ lại" in confirm
    (deleted,) = await bot.say("1")
    assert deleted.startswith("Đã xóa toàn bộ dữ liệu của bạn.")
    assert await rows(Subscription) == [] and await rows(Resident) == []
