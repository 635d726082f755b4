"""/gopy through the real pipeline and database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.storage import DbDialogStore
from bot.storage.models import DialogState, Feedback, Resident
from handlers import feedback
from handlers.forms import INVALID_BUTTON
from storage_helpers import button, buttons, count, snapshot

TEXT = "Đề nghị phường tổ chức thêm buổi giới thiệu về nhà ở xã hội cho người lao động."


async def _to_confirm(user) -> list:
    replies = await user.say("/gopy")
    replies = await user.press(button(replies, "6. Nhà ở").data)
    return await user.say(TEXT)


async def test_topic_menu_offers_the_11_models_criteria_groups_and_other(chat, deps):
    (menu,) = await chat("u1").say("/gopy")
    labels = [b.label for b in buttons(menu)]
    data = [b.data for b in buttons(menu)]
    assert sum(d.split(":")[-1].startswith("m") for d in data) == 11
    assert any("Bộ tiêu chí Chủ nghĩa xã hội" in label for label in labels)
    assert any("Bộ tiêu chí con người Xã hội chủ nghĩa" in label for label in labels)
    assert "Chủ đề khác" in labels and "❌ Hủy" in labels
    assert all(len(d.encode()) <= 64 for d in data)


async def test_feedback_is_stored_once_with_topic_ward_platform_and_time(chat, deps, db):
    user = chat("u1")
    async with db.sessions.begin() as s:                      # the resident gave a ward in /dangky
        s.add(Resident(platform="telegram", platform_user_id="u1", ward="Phường Lê Chân"))
    replies = await _to_confirm(user)
    assert "Nhà ở xã hội" in replies[0].text and TEXT in replies[0].text
    assert await count(db, Feedback) == 0                     # nothing before "Gửi"
    send = button(replies, "Gửi").data
    (thanks,) = await user.press(send)
    assert "Cảm ơn" in thanks.text
    async with db.sessions() as s:
        (row,) = (await s.scalars(select(Feedback))).all()
    model6 = deps.knowledge.catalog.models[5]
    assert (row.topic, row.ward, row.platform, row.text) == (f"mohinh:{model6.id}", "Phường Lê Chân", "telegram", TEXT)
    assert row.topic_label == f"Mô hình 6: {model6.title}"
    assert row.created_at.tzinfo is not None
    # A second tap on "Gửi" (or a replay of it) stores nothing more.
    (again,) = await user.press(send)
    assert again.text == feedback.ALREADY_SENT
    assert await count(db, Feedback) == 1
    assert await count(db, DialogState) == 0


async def test_criteria_group_and_other_topics(chat, db):
    user = chat("u1")
    menu = await user.say("/gopy")
    await user.press(button(menu, "Bộ tiêu chí con người").data)
    await user.press(button(await user.say("Cần thêm tiêu chí về ứng xử nơi công cộng."), "Gửi").data)
    menu = await user.say("/gopy")
    await user.press(button(menu, "Chủ đề khác").data)
    await user.press(button(await user.say("Bot trả lời nhanh, cảm ơn."), "Gửi").data)
    async with db.sessions() as s:
        topics = (await s.scalars(select(Feedback.topic).order_by(Feedback.id))).all()
    assert topics == ["tieuchi:III", "khac"]


@pytest.mark.parametrize("step", ["topic", "text", "confirm"])
@pytest.mark.parametrize("how", ["/huy", "button"])
async def test_cancel_at_every_step_stores_nothing(chat, db, step, how):
    user = chat("u1")
    replies = await user.say("/gopy")
    if step in ("text", "confirm"):
        replies = await user.press(button(replies, "Chủ đề khác").data)
    if step == "confirm":
        replies = await user.say(TEXT)
    (cancelled,) = await (user.say("/huy") if how == "/huy" else user.press(button(replies, "Hủy").data))
    assert cancelled.text == feedback.CANCELLED
    assert await count(db, Feedback) == 0
    assert await count(db, DialogState) == 0
    # The dialog is over: free text is a question again, and /huy now has nothing to cancel.
    (answer,) = await user.say("Mô hình chính quyền thân thiện là gì?")
    assert answer.text.startswith("Theo văn bản:")
    assert await count(db, Feedback) == 0


async def test_edit_rewrites_the_text_before_sending(chat, db):
    user = chat("u1")
    replies = await _to_confirm(user)
    replies = await user.press(button(replies, "Sửa").data)
    assert "viết lại" in replies[0].text
    replies = await user.say("Nội dung đã sửa lại cho rõ hơn.")
    await user.press(button(replies, "Gửi").data)
    async with db.sessions() as s:
        assert (await s.scalars(select(Feedback.text))).all() == ["Nội dung đã sửa lại cho rõ hơn."]


@pytest.mark.parametrize("text, expected", [
    ("", "chưa viết"),
    ("😀👍🎉", "bằng chữ"),
    ("!!! ??? ...", "bằng chữ"),
    ("góp ý " * 400, "dài quá"),
])
async def test_empty_emoji_or_huge_feedback_gets_a_friendly_reply(chat, db, text, expected):
    user = chat("u1")
    await user.press(button(await user.say("/gopy"), "Chủ đề khác").data)
    (reply,) = await user.say(text)
    assert expected in reply.text
    assert (await DbDialogStore(db.sessions).state("telegram", "u1"))["step"] == "text"
    assert await count(db, Feedback) == 0
    # Still writing: a proper message now goes to confirmation.
    (confirm,) = await user.say("Góp ý bằng chữ đàng hoàng.")
    assert "Gửi" in [b.label.split()[-1] for b in buttons(confirm)]


async def test_topic_can_be_typed_by_name(chat, db):
    user = chat("u1")
    await user.say("/gopy")
    (reply,) = await user.say("nha o xa hoi")
    assert "Nhà ở xã hội" in reply.text
    (reply,) = await user.say("???")                           # now writing the feedback
    assert "bằng chữ" in reply.text


async def test_tampered_or_stale_buttons_change_nothing(chat, db):
    user = chat("u1")
    menu = await user.say("/gopy")
    token = button(menu, "Chủ đề khác").data.split(":")[1]
    before = await snapshot(db)
    for data in [
        "fb:zzzzzz:t:k",                     # another dialog's token
        f"fb:{token}:t:m99",                 # no such model
        f"fb:{token}:t:cIX",                 # no such criteria group
        f"fb:{token}:send",                  # not at the confirm step
        f"fb:{token}:edit",
        f"fb:{token}:t:k:extra",
        f"fb:{token}:",
        "fb:",
        "fb",
        f"fb:{token}:cancel:now",
        "fb:" + "x" * 70,
    ]:
        (reply,) = await user.press(data)
        assert reply.text in (INVALID_BUTTON, feedback.ALREADY_SENT), data
    assert await snapshot(db) == before
    # Another resident pressing this resident's button cannot touch their dialog.
    (reply,) = await chat("u2").press(button(menu, "Chủ đề khác").data)
    assert reply.text == INVALID_BUTTON
    assert await snapshot(db) == before
