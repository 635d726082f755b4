"""End to end over real HTTP: the real Telegram adapter against a fake Bot API.

The adapter (python-telegram-bot's Bot inside) and the Telegram channel talk to the fake Bot
API (tests/fakes/telegram_api.py) on one random 127.0.0.1 port; in webhook
mode the fake posts updates to our aiohttp app (the bot's own
`build_http_app`, with /healthz) on another, with the secret token the
adapter registered via setWebhook, as Telegram does. Deps are real (router,
handlers, pipeline, database in tmp_path, knowledge base); only the embedder
is a fast hash embedder. Fixtures: tests/e2e/conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import unicodedata

import aiohttp
import pytest
from pydantic import SecretStr

from bot import runner
from bot.app import build_deps, close_deps
from bot.messages import Button, Incoming, Reply
from bot.pipeline import FLOOD_NOTICE
from bot.channels.delivery import Outcome
from bot.channels.telegram.adapter import ALLOWED_UPDATES, WEBHOOK_PATH, TelegramInbound
from bot.channels.telegram.channel import split_for_telegram
from bot.settings import HttpSettings, SettingsError, TelegramSettings
from handlers.media import CANNOT_READ
from handlers.qa import NOT_TEXT
from tests.e2e.telegram_harness import WEBHOOK_SECRET
from tests.fakes.telegram_api import SECRET_HEADER, Fault

# PTB itself warns when it builds a RetryAfter (the adapter reads either type).
pytestmark = pytest.mark.filterwarnings("ignore:.*`retry_after`:telegram.warnings.PTBDeprecationWarning")

CHAT = 424242
QUESTION = "11 mô hình trọng tâm gồm những mô hình nào?"


def button_rows(call) -> list[list[tuple[str, str]]]:
    return [[(b["text"], b["callback_data"]) for b in row] for row in call.buttons]


# -- the resident's conversation, in both modes -----------------------------------

async def test_start_then_question_gets_quoted_answer_with_rating_buttons(telegram_bot):
    await telegram_bot.say(CHAT, "/start")
    (welcome,) = await telegram_bot.replies(CHAT, 1)
    assert welcome.text.startswith("Xin chào!")
    assert ("11 mô hình", "m:list") in button_rows(welcome)[0]

    await telegram_bot.say(CHAT, QUESTION)
    answer = (await telegram_bot.replies(CHAT, 2))[1]
    assert answer.text.startswith("📄 Tin Tiền Phong về Nghị quyết 05 › 11 mô hình trọng tâm")   # the whole list
    assert "«" in answer.text and "11 mô hình trọng tâm" in answer.text
    rating = button_rows(answer)[-1]                 # under the models' own buttons
    assert [label for label, _ in rating] == ["👍 Hữu ích", "👎 Chưa đúng"]
    assert rating[0][1].startswith("rate:up:") and rating[1][1].startswith("rate:down:")
    assert answer.params["link_preview_options"] == {"is_disabled": True}


async def test_button_press_is_answered_and_routed(telegram_bot):
    api = telegram_bot.api
    await telegram_bot.say(CHAT, QUESTION)
    (answer,) = await telegram_bot.replies(CHAT, 1)
    up = button_rows(answer)[-1][0][1]

    pressed = await telegram_bot.press(CHAT, up)
    await api.wait_for("answerCallbackQuery", 1)
    await telegram_bot.replies(CHAT, 2)      # the rating handler's thanks
    (answered,) = api.calls_to("answerCallbackQuery")
    assert answered.params["callback_query_id"] == pressed["callback_query"]["id"]

    await telegram_bot.press(CHAT, "m:list")
    models = (await telegram_bot.replies(CHAT, 3))[2]
    assert models.text.startswith("Nghị quyết 05 triển khai 11 mô hình trọng tâm")
    await api.wait_for("answerCallbackQuery", 2)


async def test_same_update_delivered_twice_gets_one_answer(telegram_bot):
    update = telegram_bot.api.message_update(CHAT, QUESTION)
    await telegram_bot.deliver(update)
    await telegram_bot.deliver(update)        # Telegram retrying a delivery
    await telegram_bot.idle()
    assert len(telegram_bot.api.calls_to("sendMessage", CHAT)) == 1


async def test_mohinh_menu_is_an_inline_keyboard(telegram_bot):
    await telegram_bot.say(CHAT, "/mohinh")
    (menu,) = await telegram_bot.replies(CHAT, 1)
    rows = button_rows(menu)
    assert all(1 <= len(row) <= 2 for row in rows)
    assert [data for row in rows for _, data in row] == [f"mv:{n}" for n in range(1, 12)]   # browsed in place
    assert "1. " in menu.text and "11. " in menu.text


async def test_command_menu_published_in_vietnamese(telegram_bot):
    router = telegram_bot.pipeline.deps.router
    expected = [{"command": c.name, "description": c.description} for c in router.public_commands()]
    assert telegram_bot.api.commands == expected
    assert {"command": "mohinh", "description": "Xem 11 mô hình trọng tâm"} in expected
    assert all(c["command"] != "thongke" for c in telegram_bot.api.commands)   # hidden stays hidden


async def test_long_reply_is_split_at_a_word_boundary(telegram_bot):
    words = "Nghị quyết xây dựng mô hình chủ nghĩa xã hội gắn với con người Hải Phòng phường hạnh phúc".split()
    text = ""
    while len(text) < 5000:
        text += words[len(text) % len(words)] + " "
    text = text[:5000].rsplit(" ", 1)[0]

    async def long_reply(msg: Incoming, turn) -> list[Reply]:
        return [Reply.with_buttons(text, [Button("Xem tiếp", "m:list")])]

    telegram_bot.pipeline.deps.router.command("dai", "Thử tin dài", hidden=True)(long_reply)
    await telegram_bot.say(CHAT, "/dai")
    first, second = await telegram_bot.replies(CHAT, 2)
    await telegram_bot.idle()
    assert len(telegram_bot.api.calls_to("sendMessage", CHAT)) == 2
    assert len(first.text) <= 4096 and len(second.text) <= 4096
    assert text.startswith(first.text) and text[len(first.text)] == " "   # cut between words
    assert f"{first.text} {second.text}" == text
    assert first.buttons == [] and button_rows(second) == [[("Xem tiếp", "m:list")]]


async def test_flood_25_messages_get_20_answers_and_one_notice(telegram_bot):
    for n in range(25):
        await telegram_bot.say(CHAT, f"Câu hỏi {n + 1}: nhà ở xã hội là gì?")
    await telegram_bot.idle()
    texts = telegram_bot.api.texts(CHAT)
    assert len(texts) == 21
    assert FLOOD_NOTICE not in texts[:20]
    assert texts[20] == FLOOD_NOTICE


async def test_other_update_kinds_are_ignored_or_get_a_friendly_reply(telegram_bot, caplog):
    api = telegram_bot.api
    group = api.chat(-100777, "supergroup")
    bot_user = {"id": api.bot_id, "is_bot": True, "first_name": "Bot"}
    sticker = {"file_id": "stk", "file_unique_id": "stk-u", "type": "regular", "width": 512,
               "height": 512, "is_animated": False, "is_video": False, "emoji": "👍"}
    photo = [{"file_id": "ph", "file_unique_id": "ph-u", "width": 90, "height": 90}]
    updates = [
        api.message_update(CHAT, "câu hỏi đã sửa", kind="edited_message"),
        api.message_update(-100555, "tin của kênh", kind="channel_post", chat_type="channel"),
        api.message_update(group["id"], None, new_chat_members=[api.user(5)]),    # service message
        {"update_id": 900_000_001, "my_chat_member": {
            "chat": api.chat(CHAT), "from": api.user(CHAT), "date": 1_700_000_000,
            "old_chat_member": {"user": bot_user, "status": "member"},
            "new_chat_member": {"user": bot_user, "status": "kicked", "until_date": 0}}},
        api.poll_answer_update("poll-1", CHAT, [0]),
        {"update_id": 900_000_002, "some_future_update": {"x": 1}},
        api.callback_update(CHAT, None),                                         # a game button
        api.message_update(CHAT, None, sticker=sticker),
        api.message_update(CHAT, None, photo=photo),
        api.message_update(CHAT, QUESTION),
    ]
    for update in updates:
        await telegram_bot.deliver(update)
    await telegram_bot.idle()
    texts = api.texts(CHAT)
    assert texts[0].startswith(CANNOT_READ["sticker"]) and texts[1].startswith(CANNOT_READ["photo"])
    assert texts[2].startswith("📄") and "«" in texts[2] and len(texts) == 3
    assert api.texts(-100555) == [] and api.texts(group["id"]) == []
    assert len(api.calls_to("answerCallbackQuery")) == 1     # the spinner stops anyway
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


FILE = {"file_id": "f", "file_unique_id": "f-u"}


@pytest.mark.parametrize("fields, expected", [
    ({"voice": FILE | {"duration": 3}}, CANNOT_READ["voice"]),
    ({"audio": FILE | {"duration": 30}}, CANNOT_READ["voice"]),
    ({"video_note": FILE | {"length": 240, "duration": 5}}, CANNOT_READ["video"]),
    ({"video": FILE | {"width": 640, "height": 360, "duration": 5}}, CANNOT_READ["video"]),
    ({"animation": FILE | {"width": 320, "height": 240, "duration": 2}, "document": FILE}, CANNOT_READ["video"]),
    ({"location": {"latitude": 20.86, "longitude": 106.68}}, CANNOT_READ["location"]),
    ({"venue": {"location": {"latitude": 20.86, "longitude": 106.68}, "title": "UBND", "address": "Lê Chân"},
      "location": {"latitude": 20.86, "longitude": 106.68}}, CANNOT_READ["location"]),
    ({"document": FILE | {"file_name": "gop-y.pdf"}}, CANNOT_READ["file"]),
    ({"contact": {"phone_number": "0912345678", "first_name": "An"}}, "Mình chưa đọc được loại tin nhắn này."),
    ({"dice": {"emoji": "🎲", "value": 3}}, "Mình chưa đọc được loại tin nhắn này."),
])
async def test_every_kind_of_message_gets_one_answer(telegram_polling_bot, fields, expected):
    await telegram_polling_bot.say(CHAT, None, **fields)
    (reply,) = await telegram_polling_bot.replies(CHAT, 1)
    assert reply.text.startswith(expected) and "/help" in reply.text
    await telegram_polling_bot.idle()
    assert len(telegram_polling_bot.api.texts(CHAT)) == 1


async def test_a_photo_caption_is_the_question(telegram_polling_bot):
    photo = [{"file_id": "ph", "file_unique_id": "ph-u", "width": 90, "height": 90}]
    await telegram_polling_bot.say(CHAT, None, photo=photo, caption=QUESTION)
    (reply,) = await telegram_polling_bot.replies(CHAT, 1)
    assert "«" in reply.text and "Chính quyền thân thiện" in reply.text      # the list, quoted


async def test_an_update_the_library_cannot_read_does_not_stall_the_bot(telegram_bot, caplog):
    """Bot API and PTB out of step (here: a poll answer without the fields Bot API 9.6
    made required): the update is skipped, the ones after it are answered."""
    api = telegram_bot.api
    unreadable = api.poll_answer_update("poll-1", CHAT, [0])
    del unreadable["poll_answer"]["option_persistent_ids"]
    await telegram_bot.deliver(unreadable)             # webhook: 200, so Telegram does not retry it
    await telegram_bot.say(CHAT, QUESTION)
    await telegram_bot.replies(CHAT, 1)
    await telegram_bot.idle()
    assert len(api.texts(CHAT)) == 1
    assert any("unreadable, skipped" in r.getMessage() for r in caplog.records)
    if telegram_bot.mode == "polling":                 # and the batch was not fetched over and over
        assert len(api.calls_to("getUpdates")) < 10


async def test_control_characters_emoji_nfd_and_long_input_reach_the_shared_code(telegram_bot):
    await telegram_bot.say(CHAT, "11 mô hình\x00 trọng\u200b tâm 🙂 gồm\x07 những gì?")
    await telegram_bot.say(CHAT, unicodedata.normalize("NFD", "Nghị quyết 05 thực hiện trong giai đoạn nào?"))
    await telegram_bot.say(CHAT, "🚗🏠📦")
    await telegram_bot.say(CHAT, "hỏi " * 1200)
    await telegram_bot.idle()
    texts = telegram_bot.api.texts(CHAT)
    assert len(texts) == 4
    assert texts[0].startswith("📄") and "11. “Chi đoàn xã hội chủ nghĩa" in texts[0]    # the list, whole
    assert texts[1].startswith("Theo văn bản:")
    assert texts[2] == NOT_TEXT
    assert texts[3].startswith("Câu hỏi của bạn dài 4.799 ký tự, mình chỉ nhận tối đa 1.000 ký tự.")


async def test_healthz_on_the_same_server(telegram_bot):
    async with telegram_bot.client.get(telegram_bot.url + "/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


# -- mode-specific start-up ------------------------------------------------------

async def test_polling_mode_deletes_webhook_and_polls_for_messages_and_buttons(telegram_polling_bot):
    api = telegram_polling_bot.api
    await telegram_polling_bot.say(CHAT, "/start")
    await telegram_polling_bot.replies(CHAT, 1)
    assert api.calls_to("deleteWebhook") and not api.calls_to("setWebhook")
    assert api.allowed_updates == ALLOWED_UPDATES == ["message", "callback_query", "poll_answer"]
    async with telegram_polling_bot.client.post(telegram_polling_bot.url + WEBHOOK_PATH, data=b"{}") as r:
        assert r.status in (404, 405)                # no webhook route in polling mode


async def test_webhook_mode_registers_url_and_secret(telegram_webhook_bot):
    webhook = telegram_webhook_bot.api.webhook
    assert webhook["url"] == telegram_webhook_bot.url + WEBHOOK_PATH
    assert webhook["secret_token"] == WEBHOOK_SECRET
    assert webhook["allowed_updates"] == ["message", "callback_query", "poll_answer"]
    assert not telegram_webhook_bot.api.calls_to("getUpdates")


# -- the webhook's front door ----------------------------------------------------

async def test_forged_or_missing_secret_is_refused_without_side_effects(telegram_webhook_bot):
    api = telegram_webhook_bot.api
    update = api.message_update(CHAT, QUESTION)
    assert await api.deliver_webhook(update, secret="not-the-secret") == 403
    assert await api.deliver_webhook(update, secret=WEBHOOK_SECRET[:-1]) == 403
    assert await api.deliver_webhook(update, secret=None) == 403
    assert await api.deliver_webhook(update, secret="ﬀ-non-ascii") == 403
    await telegram_webhook_bot.idle()
    assert api.calls_to("sendMessage") == []
    # Nothing was recorded either: the genuine delivery of that update is answered.
    assert await api.deliver_webhook(update) == 200
    await telegram_webhook_bot.replies(CHAT, 1)


@pytest.mark.parametrize("body", [
    b"{not json", b"", b"[1, 2]", b'"text"', b'{"message": {}}', b'{"update_id": "7"}', b"\xff\xfe{}",
])
async def test_malformed_webhook_body_is_400(telegram_webhook_bot, body):
    headers = {SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"}
    assert await telegram_webhook_bot.post_webhook(body, headers) == 400
    await telegram_webhook_bot.idle()
    assert telegram_webhook_bot.api.calls_to("sendMessage") == []


async def test_webhook_answers_before_the_reply_is_sent(telegram_webhook_bot):
    api = telegram_webhook_bot.api
    api.pause("sendMessage")                       # the Bot API is slow to take our reply
    assert await api.deliver_webhook(api.message_update(CHAT, QUESTION)) == 200
    for _ in range(500):                           # the reply is on its way, held by the API
        if [c for c in api.calls if c.method == "sendMessage"]:
            break
        await asyncio.sleep(0.01)
    assert api.calls_to("sendMessage") == []
    api.resume("sendMessage")
    await telegram_webhook_bot.replies(CHAT, 1)


# -- sending when the Bot API pushes back ----------------------------------------

async def test_rate_limit_is_waited_out_and_the_reply_delivered(telegram_polling_bot):
    api = telegram_polling_bot.api
    api.add_fault(Fault.rate_limited(1), method="sendMessage", chat_id=CHAT)
    await telegram_polling_bot.say(CHAT, QUESTION)
    await telegram_polling_bot.replies(CHAT, 1)
    attempts = api.calls_to("sendMessage", CHAT, ok_only=False)
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 0.9


async def test_server_error_is_retried(telegram_polling_bot):
    api = telegram_polling_bot.api
    api.add_fault(Fault.server_error(502), method="sendMessage")
    await telegram_polling_bot.say(CHAT, QUESTION)
    await telegram_polling_bot.replies(CHAT, 1)
    assert [c.status for c in api.calls_to("sendMessage", CHAT, ok_only=False)] == [502, 200]


async def test_blocked_user_does_not_break_the_bot(telegram_polling_bot, caplog):
    api = telegram_polling_bot.api
    api.block(CHAT)
    await telegram_polling_bot.say(CHAT, QUESTION)
    await telegram_polling_bot.say(CHAT + 1, QUESTION)
    await telegram_polling_bot.replies(CHAT + 1, 1)
    await telegram_polling_bot.idle()
    assert [c.status for c in api.calls_to("sendMessage", CHAT, ok_only=False)] == [403]
    assert any("not delivered" in r.getMessage() for r in caplog.records)
    result = await telegram_polling_bot.messengers.send("telegram", str(CHAT), Reply("Thông báo"))
    assert result.outcome is Outcome.BLOCKED and not result.delivered


def test_split_for_telegram_counts_utf16_units():
    text = ("🙂 " * 1500).strip()                    # 2999 chars, 4499 UTF-16 units
    chunks = split_for_telegram(text)
    assert all(len(c.encode("utf-16-le")) // 2 <= 4096 for c in chunks)
    assert " ".join(chunks) == text


# -- configuration, secrets, shutdown ---------------------------------------------

async def test_token_never_reaches_the_logs(start_telegram_bot, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    bot = await start_telegram_bot("polling")
    await bot.say(CHAT, QUESTION)
    await bot.replies(CHAT, 1)
    await bot.close()
    token = bot.api.token
    assert any(r.name == "httpx" and "<redacted>" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert token not in record.getMessage()
        assert token not in (record.exc_text or "")
    assert token not in caplog.text


async def never_called(msg: Incoming) -> None:
    raise AssertionError("no update expected")


async def test_rejected_token_stops_start_up_with_a_clear_message(telegram_api):
    bad = "999:rejected-token"
    inbound = TelegramInbound(TelegramSettings(token=SecretStr(bad), base_url=telegram_api.base_url),
                              never_called)
    with pytest.raises(SettingsError) as raised:
        await inbound.start()
    await inbound.stop()
    assert "CIVICBOT_TELEGRAM__TOKEN" in str(raised.value) and bad not in str(raised.value)


def test_webhook_mode_requires_a_valid_secret():
    for secret in (None, "", "có dấu", "x" * 300):
        settings = TelegramSettings(token=SecretStr("1:t"), webhook_url="https://example.org/telegram/webhook",
                                    webhook_secret=SecretStr(secret) if secret is not None else None)
        with pytest.raises(SettingsError, match="WEBHOOK_SECRET"):
            TelegramInbound(settings, never_called)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_serve_runs_telegram_and_shuts_down_cleanly_on_signal(
        telegram_api, e2e_settings, hash_searcher, knowledge, monkeypatch, stop_signal):
    port = _free_port()
    settings = e2e_settings.model_copy(update={
        "telegram": TelegramSettings(token=SecretStr(telegram_api.token), base_url=telegram_api.base_url),
        "http": HttpSettings(host="127.0.0.1", port=port),
    })
    built = []

    def fast_deps(settings):
        built.append(build_deps(settings, searcher=hash_searcher, knowledge=knowledge))
        return built[-1]

    monkeypatch.setattr(runner, "build_deps", fast_deps)
    serving = asyncio.create_task(runner.serve(settings))
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(500):
                try:
                    async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                assert not serving.done(), serving.exception()
                await asyncio.sleep(0.02)
        telegram_api.push_update(telegram_api.message_update(CHAT, "/start"))
        await telegram_api.wait_for("sendMessage", 1, chat_id=CHAT)

        os.kill(os.getpid(), stop_signal)
        await asyncio.wait_for(serving, 15)
    finally:
        if not serving.done():
            serving.cancel()
        for deps in built:
            await close_deps(deps)
    last = [c for c in telegram_api.calls if c.method == "getUpdates"][-1]
    assert last.params.get("timeout") == 0          # the stored updates confirmed on the way out
    with pytest.raises(aiohttp.ClientConnectionError):
        async with aiohttp.ClientSession() as client:
            await client.get(f"http://127.0.0.1:{port}/healthz")


async def test_fake_api_parses_json_bodies_too(telegram_api):
    """PTB posts form fields; the fake also takes JSON, as the real API does."""
    url = f"{telegram_api.base_url}{telegram_api.token}/sendMessage"
    body = {"chat_id": CHAT, "text": "Xin chào", "reply_markup": {"inline_keyboard": [[
        {"text": "11 mô hình", "callback_data": "m:list"}]]}}
    async with aiohttp.ClientSession() as client:
        async with client.post(url, json=body) as response:
            payload = await response.json()
        async with client.post(url, data=json.dumps({**body, "text": "x" * 4097}),
                               headers={"Content-Type": "application/json"}) as response:
            too_long = await response.json()
    assert payload["ok"] and payload["result"]["chat"]["id"] == CHAT
    assert telegram_api.calls_to("sendMessage")[0].buttons[0][0]["callback_data"] == "m:list"
    assert too_long == {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}


# -- a resident's session: feedback kept, minds changed, non-text, long text, masked export ----------

FEEDBACK = "Đề nghị sửa đèn đường ngõ 12 Lê Chân, tối quá. Gọi tôi 0912 345 678 hoặc lan.tran@gmail.com."


async def test_a_resident_gives_feedback_changes_their_mind_and_it_is_exported_masked(telegram_polling_bot):
    from bot.storage.export import export_rows

    bot, api = telegram_polling_bot, telegram_polling_bot.api
    sent = 0

    async def next_reply(count: int = 1) -> list:
        nonlocal sent
        sent += count
        return (await bot.replies(CHAT, sent))[-count:]

    def data(call, label: str) -> str:
        return next(d for row in button_rows(call) for text, d in row if label in text)

    await bot.say(CHAT, "/gopy")
    (ask,) = await next_reply()
    await bot.say(CHAT, FEEDBACK)                                   # the feedback, straight away
    (menu,) = await next_reply()
    await bot.press(CHAT, data(menu, "Chủ đề khác"), message=api.sent(CHAT)[-1])
    (preview,) = await next_reply()
    assert FEEDBACK in preview.text and "che đi khi lưu" in preview.text
    await bot.press(CHAT, data(preview, "Đổi chủ đề"))              # changes their mind
    (menu,) = await next_reply()
    menu_message = api.sent(CHAT)[-1]
    await bot.say(CHAT, None, sticker={"file_id": "s", "file_unique_id": "su", "type": "regular", "width": 512,
                                       "height": 512, "is_animated": False, "is_video": False})
    await bot.say(CHAT, None, voice={"file_id": "v", "file_unique_id": "vu", "duration": 2})
    sticker, voice = await next_reply(2)
    assert sticker.text.startswith(CANNOT_READ["sticker"]) and "gửi góp ý dở" in sticker.text
    assert voice.text.startswith(CANNOT_READ["voice"]) and "/huy" in voice.text
    await bot.press(CHAT, data(menu, "7. Thành phố âm nhạc"), message=menu_message)
    (preview,) = await next_reply()
    assert "Chủ đề: Mô hình 7: Thành phố âm nhạc" in preview.text and FEEDBACK in preview.text
    await bot.press(CHAT, data(preview, "Gửi"))
    (thanks,) = await next_reply()
    assert thanks.text.startswith("Cảm ơn bạn!")
    await bot.say(CHAT, "chữ " * 1024)                              # as long as Telegram allows
    (too_long,) = await next_reply()
    assert too_long.text.startswith("Câu hỏi của bạn dài 4.095 ký tự, mình chỉ nhận tối đa 1.000 ký tự.")
    async with bot.pipeline.deps.db.sessions() as session:
        (row,) = await export_rows(session, "feedback", "secret")
    assert row["topic"].startswith("mohinh:") and row["text"] == (
        "Đề nghị sửa đèn đường ngõ 12 Lê Chân, tối quá. Gọi tôi [số điện thoại] hoặc [email].")
