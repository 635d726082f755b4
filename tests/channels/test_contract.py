"""The channel contract, the same for every registered messenger, against its fake server.

One attempt per send, never a retry or a sleep; the verdict raw (`Delivery`).
"""

from __future__ import annotations

import aiohttp
import pytest

from bot.channels import registry
from bot.channels.delivery import Outcome
from bot.messages import Button, Reply
from tests.channels.fakes import FAKES


@pytest.fixture(params=registry.names())
async def fake(request):
    assert request.param in FAKES, f"platform {request.param} has no fake in tests/channels/fakes.py"
    fake = FAKES[request.param]()
    async with aiohttp.ClientSession() as session:
        fake.channel = await fake.start(session)
        try:
            yield fake
        finally:
            await fake.channel.aclose()
            await fake.close()


async def test_a_reply_is_delivered_once(fake):
    delivery = await fake.channel.send(fake.chat_id, Reply("Xin chào bạn"))
    assert delivery.outcome is Outcome.DELIVERED
    assert delivery.parts_sent == 1 and len(delivery.message_ids) == 1
    assert fake.texts() == ["Xin chào bạn"]


async def test_rate_limit_says_how_long_to_wait(fake):
    fake.rate_limited(3)
    delivery = await fake.channel.send(fake.chat_id, Reply("Xin chào"))
    assert delivery.outcome is Outcome.RETRY_AFTER
    assert delivery.retry_after > 0
    assert fake.texts() == []
    assert (await fake.channel.send(fake.chat_id, Reply("Xin chào"))).delivered   # no sleeping inside


async def test_server_error_is_transient_and_maybe_delivered(fake):
    fake.server_error()
    delivery = await fake.channel.send(fake.chat_id, Reply("Xin chào"))
    assert delivery.outcome is Outcome.TRANSIENT
    assert delivery.maybe_delivered            # a 5xx may come after the platform delivered it
    assert fake.texts() == []


async def test_delivered_then_error_cannot_be_told_apart(fake):
    fake.delivered_then_error()
    delivery = await fake.channel.send(fake.chat_id, Reply("Xin chào"))
    assert delivery.outcome is Outcome.TRANSIENT and delivery.maybe_delivered
    assert fake.texts() == ["Xin chào"]


async def test_timeout_is_transient_and_maybe_delivered(fake):
    fake.timeout()
    delivery = await fake.channel.send(fake.chat_id, Reply("Xin chào"))
    assert delivery.outcome is Outcome.TRANSIENT and delivery.maybe_delivered


async def test_a_chat_that_cannot_be_reached(fake):
    expected = fake.unreachable()
    delivery = await fake.channel.send(fake.chat_id, Reply("Xin chào"))
    assert delivery.outcome is expected
    assert not delivery.retryable


async def test_long_text_goes_out_in_parts_in_order(fake):
    limit = fake.channel.limits.text_limit
    words = [f"từ{i}" for i in range(limit // 2)]          # about 2.5 limits of text
    delivery = await fake.channel.send(fake.chat_id, Reply(" ".join(words)))
    assert delivery.delivered and delivery.parts_sent >= 3
    texts = fake.texts()
    assert len(texts) == delivery.parts_sent == len(delivery.message_ids)
    assert all(len(t) <= limit for t in texts)
    assert " ".join(texts).split() == words


async def test_the_first_failed_part_stops_the_reply(fake):
    limit = fake.channel.limits.text_limit
    fake.fail_part(2)
    delivery = await fake.channel.send(fake.chat_id, Reply(" ".join(["chữ"] * limit)))
    assert delivery.outcome is Outcome.TRANSIENT
    assert delivery.parts_sent == 1 and len(fake.texts()) == 1


async def test_buttons_are_shown(fake):
    reply = Reply.with_buttons("Chọn một mục:", [Button("Mô hình", "m:1"), Button("Tiêu chí", "t:1")])
    assert (await fake.channel.send(fake.chat_id, reply)).delivered
    (text,) = fake.texts()
    assert text.startswith("Chọn một mục:")
    if not fake.channel.limits.buttons:        # numbered choices instead
        assert "1. Mô hình" in text and "2. Tiêu chí" in text


async def test_edit_in_place_or_a_clear_refusal(fake):
    sent = await fake.channel.send(fake.chat_id, Reply("Trang 1"))
    edited = await fake.channel.edit(fake.chat_id, sent.message_ids[-1], Reply("Trang 2"))
    if fake.channel.limits.can_edit:
        assert edited.delivered and fake.edited() == ["Trang 2"]
    else:
        assert edited.outcome is Outcome.PERMANENT and fake.texts() == ["Trang 1"]


async def test_a_photo_link_goes_with_the_text(fake):
    url = "https://haiphong.gov.vn/anh.jpg"
    assert (await fake.channel.send(fake.chat_id, Reply("Thông báo", preview_url=url))).delivered
    if fake.channel.limits.buttons:            # Telegram: the large preview above the text
        (call,) = fake.api.calls_to("sendMessage", fake.chat_id)
        assert call.params["link_preview_options"] == {"url": url, "prefer_large_media": True,
                                                       "show_above_text": True}
    else:
        assert url in fake.texts()[0]


async def test_the_rest_of_a_long_reply_goes_out_on_the_next_attempt(fake):
    limit = fake.channel.limits.text_limit
    words = [f"từ{i}" for i in range(limit // 2)]
    fake.fail_part(2)
    failed = await fake.channel.send(fake.chat_id, Reply(" ".join(words)))
    rest = await fake.channel.send(fake.chat_id, Reply(" ".join(words)), skip_parts=failed.parts_sent)
    assert rest.delivered and failed.parts_sent + rest.parts_sent >= 3
    assert " ".join(fake.texts()).split() == words         # every part once, in order


async def test_a_sending_process_opens_every_enabled_channel(tmp_path):
    """What a standalone broadcast worker or the console calls: `open_channels`."""
    from pydantic import SecretStr

    from bot.channels.messengers import open_channels
    from bot.settings import Settings, TelegramSettings
    from tests.fakes.telegram_api import FakeTelegramAPI

    async with FakeTelegramAPI() as api:
        settings = Settings(_env_file=None, data_dir=tmp_path,
                            telegram=TelegramSettings(token=SecretStr(api.token), base_url=api.base_url))
        async with open_channels(settings, None) as channels:
            assert sorted(channels) == ["telegram"]               # Zalo is not configured
            assert (await channels["telegram"].send("77", Reply("Thông báo"))).delivered
        assert api.texts(77) == ["Thông báo"]
