"""/thongbao through the real pipeline and database (SQLite and PostgreSQL):
composing, previewing, scheduling, cancelling, and the official-only checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.broadcast import outbox
from bot.broadcast.schedule import VN
from bot.messages import utcnow
from bot.settings import TelegramSettings, ZaloSettings
from bot.storage import repo
from bot.storage.broadcast_models import Broadcast, BroadcastRecipient
from bot.storage.models import DialogState
from handlers import broadcast
from handlers.forms import INVALID_BUTTON
from handlers.officials import REFUSAL
from tests.broadcast.helpers import add_subscribers
from tests.storage.storage_helpers import button, count, snapshot

@pytest.fixture
def settings(settings):
    """A deployment on Telegram and Zalo (the platform menu offers the configured messengers)."""
    return settings.model_copy(update={
        "telegram": TelegramSettings(token=SecretStr("123:compose-test"), base_url="http://127.0.0.1:9/bot"),
        "zalo": ZaloSettings(app_id="compose-test", oa_secret_key=SecretStr("oa-secret"))})


TEXT = "Mời bà con dự họp tổ dân phố lúc 19 giờ tối thứ Bảy tại nhà văn hóa."


async def _official(db, user_id="off1", platform="telegram") -> None:
    async with db.sessions.begin() as s:
        await repo.add_official(s, platform, user_id, "official", None, utcnow())


async def _compose_to_preview(user, text=TEXT, wards=("Lê Chân", "Kiến An"), groups=("Cư dân",),
                              platform="Cả hai"):
    (ask,) = await user.say("/thongbao")
    assert "nội dung thông báo" in ask.text
    (menu,) = await user.say(text)
    for ward in wards:
        (menu,) = await user.press(button([menu], ward).data)
    (groups_menu,) = await user.press(button([menu], "Tiếp" if wards else "Tất cả phường/xã").data)
    for group in groups:
        (groups_menu,) = await user.press(button([groups_menu], group).data)
    (platforms,) = await user.press(button([groups_menu], "Tiếp").data)
    (preview,) = await user.press(button([platforms], platform).data)
    return preview


async def _broadcasts(db) -> list[Broadcast]:
    async with db.sessions() as s:
        return list((await s.scalars(select(Broadcast).order_by(Broadcast.id))).all())


async def test_official_composes_previews_and_sends_now_once(chat, db):
    await _official(db)
    await add_subscribers(db, [f"t{i}" for i in range(5)], ward="Phường Lê Chân")
    await add_subscribers(db, [f"z{i}" for i in range(3)], platform="zalo", ward="Phường Kiến An",
                          groups=("cu_dan", "doan_vien"))
    await add_subscribers(db, [f"o{i}" for i in range(4)], ward="Phường Hải An")          # other ward
    await add_subscribers(db, [f"c{i}" for i in range(2)], ward="Phường Lê Chân", groups=("can_bo",))
    await add_subscribers(db, ["gone"], ward="Phường Lê Chân", active=False)
    user = chat("off1")
    preview = await _compose_to_preview(user, TEXT + "\nẢnh: https://example.org/hop.jpg")
    assert "📢 THÔNG BÁO" in preview.text and TEXT in preview.text
    assert "Ảnh kèm theo: https://example.org/hop.jpg" in preview.text
    assert "Phường Lê Chân, Phường Kiến An" in preview.text and "Nhóm: Cư dân" in preview.text
    assert "Telegram và Zalo" in preview.text
    assert "Số người nhận hiện tại: 8." in preview.text                 # 5 + 3; not Hải An, cán bộ, inactive

    send_now = button([preview], "Gửi ngay").data
    (created,) = await user.press(send_now)
    assert created.text.startswith("✅ Đã lên lịch gửi thông báo #1 ngay bây giờ")
    assert button([created], "Hủy thông báo #1").data == "tbx:1"
    (again,) = await user.press(send_now)                                  # double tap / replay
    assert again.text == INVALID_BUTTON
    (b,) = await _broadcasts(db)
    assert (b.text, b.photo_url, b.status) == (TEXT, "https://example.org/hop.jpg", "scheduled")
    assert b.segment == {"wards": ["Phường Lê Chân", "Phường Kiến An"], "groups": ["cu_dan"],
                         "platforms": ["telegram", "zalo"]}
    assert (b.created_by, b.report_platform, b.report_chat_id) == ("telegram:off1", "telegram", "chat-off1")
    assert b.scheduled_at - b.created_at < timedelta(seconds=1)
    assert await count(db, DialogState) == 0

    # Materialised when it starts: later subscribers are not added mid-send, a second start adds nothing.
    assert await outbox.start_broadcast(db.sessions, b.id, utcnow()) == 8
    await add_subscribers(db, ["late"], ward="Phường Lê Chân")
    assert await outbox.start_broadcast(db.sessions, b.id, utcnow()) is None
    assert await count(db, BroadcastRecipient) == 8


async def test_typed_schedule_in_vietnam_time_and_presets(chat, db):
    await _official(db)
    user = chat("off1")
    preview = await _compose_to_preview(user, wards=(), platform="Telegram")
    (ask,) = await user.press(button([preview], "Hẹn giờ khác").data)
    assert "giờ Việt Nam" in ask.text
    (bad,) = await user.say("mai nhé")
    assert "chưa hiểu thời điểm" in bad.text
    (created,) = await user.say("gửi lúc 14:30 25/12")
    assert "lúc 14:30 25/12/" in created.text and "(giờ Việt Nam)" in created.text
    (b,) = await _broadcasts(db)
    local = b.scheduled_at.astimezone(VN)
    assert (local.hour, local.minute, local.day, local.month) == (14, 30, 25, 12)
    assert b.segment["platforms"] == ["telegram"]

    preview = await _compose_to_preview(user, wards=(), groups=("Đoàn viên", "Cán bộ"), platform="Zalo")
    (created,) = await user.press(button([preview], "8:00 sáng mai").data)
    b2 = (await _broadcasts(db))[-1]
    local = b2.scheduled_at.astimezone(VN)
    assert (local.hour, local.minute) == (8, 0) and local.date() == (utcnow().astimezone(VN) + timedelta(days=1)).date()
    assert b2.segment == {"wards": [], "groups": ["doan_vien", "can_bo"], "platforms": ["zalo"]}


async def test_composing_validates_text_wards_and_groups(chat, db):
    await _official(db)
    user = chat("off1")
    await user.say("/thongbao")
    (reply,) = await user.say("x" * 5000)
    assert "dài 5.000 ký tự, mình chỉ nhận tối đa 1.800 ký tự" in reply.text   # its real length, one limit
    (reply,) = await user.say("Họp dân\nẢnh: ftp://bad")
    assert "http" in reply.text
    (menu,) = await user.say(TEXT)
    (reply,) = await user.press(button([menu], "Tiếp").data)
    assert reply.text.startswith(broadcast.NEED_A_WARD)
    (menu,) = await user.say("kien an")                                      # typed ward
    assert "Đã chọn: Phường Kiến An" in menu.text
    (groups,) = await user.press(button([menu], "Tiếp").data)
    (reply,) = await user.press(button([groups], "Tiếp").data)
    assert reply.text == broadcast.NEED_A_GROUP
    (reply,) = await user.press(button([groups], "Hủy").data)
    assert reply.text == broadcast.CANCELLED_DIALOG
    assert await _broadcasts(db) == []


async def test_text_can_come_with_the_command_and_keeps_its_paragraphs(chat, db):
    await _official(db)
    user = chat("off1")
    (menu,) = await user.say("/thongbao Họp tổ dân phố\n\nTối thứ Bảy, 19 giờ, tại nhà văn hóa.")
    assert menu.text.startswith(broadcast.ASK_WARDS)
    (groups,) = await user.press(button([menu], "Tất cả phường/xã").data)
    (groups,) = await user.press(button([groups], "Cư dân").data)
    (platforms,) = await user.press(button([groups], "Tiếp").data)
    (preview,) = await user.press(button([platforms], "Zalo").data)
    assert "Họp tổ dân phố\n\nTối thứ Bảy, 19 giờ, tại nhà văn hóa." in preview.text
    assert "tất cả phường/xã/đặc khu" in preview.text


async def test_cancel_by_command_and_button_once(chat, db):
    await _official(db)
    await add_subscribers(db, ["t1", "t2"])
    user = chat("off1")
    preview = await _compose_to_preview(user, wards=(), platform="Telegram")
    (created,) = await user.press(button([preview], "Sau 1 giờ").data)
    (listing,) = await user.say("/thongbao ds")
    assert "#1 • đã lên lịch" in listing.text and button([listing], "Hủy #1").data == "tbx:1"
    (done,) = await user.press(button([created], "Hủy thông báo #1").data)
    assert done.text == "⛔ Đã hủy thông báo #1. " + broadcast.CANCEL_DETAIL_SCHEDULED
    (again,) = await user.say("/thongbao huy 1")
    assert again.text == broadcast.ALREADY_OVER.format(id=1)
    (missing,) = await user.say("/thongbao huy 99")
    assert missing.text == broadcast.NOT_FOUND.format(id=99)

    # A running broadcast: pending rows are never sent.
    preview = await _compose_to_preview(user, wards=(), platform="Telegram")
    await user.press(button([preview], "Gửi ngay").data)
    assert await outbox.start_broadcast(db.sessions, 2, utcnow()) == 2
    (done,) = await user.say("/thongbao huy 2")
    assert "Đã gửi 0/2 trước khi hủy" in done.text
    async with db.sessions() as s:
        c = await outbox.counts(s, 2)
    assert (c.cancelled, c.pending) == (2, 0)
    assert [b.status for b in await _broadcasts(db)] == ["cancelled", "cancelled"]


async def test_members_are_refused_everything_and_nothing_changes(chat, db):
    await _official(db)
    official, member = chat("off1"), chat("member")
    preview = await _compose_to_preview(official, wards=(), platform="Telegram")
    send_now = button([preview], "Gửi ngay").data
    official_token = send_now.split(":")[1]
    (created,) = await official.press(button([preview], "Sau 1 giờ").data)
    before = await snapshot(db)

    (reply,) = await member.say("/thongbao")
    assert reply.text == REFUSAL
    for data in (send_now, f"tb:{official_token}:cancel", "tbx:1", "tb:abc:at:now"):
        (reply,) = await member.press(data)
        assert reply.text == REFUSAL, data
    for command in ("/thongbao huy 1", "/thongbao ds"):
        (reply,) = await member.say(command)
        assert reply.text == REFUSAL
    assert await snapshot(db) == before                   # no broadcast, dialog or cancellation
    (b,) = await _broadcasts(db)
    assert b.status == "scheduled"

    # An official whose role is withdrawn mid-dialog is refused at the next step.
    await official.say("/thongbao")
    async with db.sessions.begin() as s:
        await repo.remove_official(s, "telegram", "off1")
    (reply,) = await official.say(TEXT)
    assert reply.text == REFUSAL
    assert await count(db, DialogState) == 0


async def test_thongbao_is_hidden_from_residents_menu(deps):
    assert "thongbao" not in [c.name for c in deps.router.public_commands()]


def test_schedule_parsing():
    from bot.broadcast.schedule import parse_iso, parse_when, preset_time

    now = datetime(2026, 1, 5, 1, 0, tzinfo=timezone.utc)                 # 08:00 in Hải Phòng
    assert parse_when("gửi lúc 14:30 25/12", now) == datetime(2026, 12, 25, 7, 30, tzinfo=timezone.utc)
    assert parse_when("14h30", now) == datetime(2026, 1, 5, 7, 30, tzinfo=timezone.utc)
    assert parse_when("7:00", now) == datetime(2026, 1, 6, 0, 0, tzinfo=timezone.utc)   # passed: tomorrow
    assert parse_when("8:00 31/02", now) is None and parse_when("25:00", now) is None
    assert preset_time("m8", now) == datetime(2026, 1, 6, 1, 0, tzinfo=timezone.utc)
    assert parse_iso("2026-01-05T09:00") == datetime(2026, 1, 5, 2, 0, tzinfo=timezone.utc)
