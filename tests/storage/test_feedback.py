"""/gopy through the real pipeline and database: what the resident types is the feedback."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.pipeline import FloodControl, Pipeline

from bot.storage import DbDialogStore
from bot.storage.models import DialogState, Feedback, Resident
from handlers import feedback
from handlers.forms import INVALID_BUTTON
from retrieval.searcher import Hit, SearchResult
from storage_helpers import Chat, button, buttons, count, snapshot

TEXT = "Đề nghị phường tổ chức thêm buổi giới thiệu về nhà ở xã hội cho người lao động."
PLAIN = "Cán bộ phường tiếp dân rất tận tình, mong giữ được như vậy."      # names no topic


async def _stored(db) -> list[tuple[str, str]]:
    async with db.sessions() as s:
        return [(f.topic, f.text) for f in (await s.scalars(select(Feedback).order_by(Feedback.id))).all()]


async def _step(db, user_id: str = "u1") -> str | None:
    return (await DbDialogStore(db.sessions).state("telegram", user_id)).get("step")


async def test_text_typed_after_gopy_is_the_feedback_and_the_topic_comes_after(chat, db):
    user = chat("u1")
    (ask,) = await user.say("/gopy")
    assert "viết góp ý" in ask.text and "/huy" in ask.text
    (menu,) = await user.say(PLAIN)                           # the feedback itself: kept, then the topic
    assert menu.text == feedback.ASK_TOPIC
    data = [b.data for b in buttons(menu)]
    assert sum(d.split(":")[-1].startswith("m") for d in data) == 11
    labels = [b.label for b in buttons(menu)]
    assert any("Bộ tiêu chí Chủ nghĩa xã hội" in label for label in labels)
    assert any("Bộ tiêu chí con người Xã hội chủ nghĩa" in label for label in labels)
    assert "Chủ đề khác" in labels and "❌ Hủy" in labels
    assert all(len(d.encode()) <= 64 for d in data)
    (preview,) = await user.press(button([menu], "Chủ đề khác").data)
    assert PLAIN in preview.text and "Chủ đề: Khác" in preview.text
    assert await count(db, Feedback) == 0                     # nothing before "Gửi"
    (thanks,) = await user.press(button([preview], "Gửi").data)
    assert "Cảm ơn" in thanks.text
    assert await _stored(db) == [("khac", PLAIN)]


async def test_gopy_with_text_keeps_it_and_suggests_the_model_it_names(chat, deps, db):
    user = chat("u1")
    async with db.sessions.begin() as s:                      # the resident gave a ward in /dangky
        s.add(Resident(platform="telegram", platform_user_id="u1", ward="Phường Lê Chân"))
    (preview,) = await user.say(f"/gopy {TEXT}")
    model6 = deps.knowledge.catalog.models[5]
    assert f"Chủ đề: Mô hình 6: {model6.title}{feedback.GUESSED}" in preview.text
    assert f"Nội dung: «{TEXT}»" in preview.text
    send = button([preview], "Gửi").data
    (thanks,) = await user.press(send)
    assert "Cảm ơn" in thanks.text
    async with db.sessions() as s:
        (row,) = (await s.scalars(select(Feedback))).all()
    assert (row.topic, row.ward, row.platform, row.text) == (f"mohinh:{model6.id}", "Phường Lê Chân", "telegram", TEXT)
    assert row.topic_label == f"Mô hình 6: {model6.title}"
    assert row.created_at.tzinfo is not None
    # A second tap on "Gửi" (or a replay of it) stores nothing more.
    (again,) = await user.press(send)
    assert again.text == feedback.ALREADY_SENT
    assert await count(db, Feedback) == 1
    assert await count(db, DialogState) == 0


async def test_the_suggested_topic_can_be_changed(chat, db):
    user = chat("u1")
    (preview,) = await user.say(f"/gopy {TEXT}")
    (menu,) = await user.press(button([preview], "Đổi chủ đề").data)
    (preview,) = await user.press(button([menu], "Bộ tiêu chí con người").data)
    assert feedback.GUESSED not in preview.text and TEXT in preview.text
    await user.press(button([preview], "Gửi").data)
    assert await _stored(db) == [("tieuchi:III", TEXT)]


async def test_a_criteria_group_is_suggested_from_the_closest_passage(deps, db):
    criteria = [p for p in deps.knowledge.corpus.passages if p.id.startswith("phu-luc-1-bo-tieu-chi.III.")]

    class CriteriaSearcher:
        async def search(self, question: str, k: int = 5) -> SearchResult:
            return SearchResult(question, question, [Hit(criteria[0], 0.9, 0.9, 0.9)], 0.9, True)

    user = Chat(Pipeline(replace(deps, searcher=CriteriaSearcher()), flood=FloodControl(1000, 60)), "u1")
    (preview,) = await user.say("/gopy Cần thêm tiêu chí về ứng xử nơi công cộng cho thanh niên.")
    assert "Chủ đề: Bộ tiêu chí con người Xã hội chủ nghĩa" in preview.text and feedback.GUESSED in preview.text


@pytest.mark.parametrize("step", ["text", "topic", "confirm"])
@pytest.mark.parametrize("how", ["/huy", "button"])
async def test_cancel_at_every_step_stores_nothing(chat, db, step, how):
    user = chat("u1")
    replies = await user.say("/gopy")
    if step in ("topic", "confirm"):
        replies = await user.say(PLAIN)
    if step == "confirm":
        replies = await user.press(button(replies, "Chủ đề khác").data)
    assert await _step(db) == step
    (cancelled,) = await (user.say("/huy") if how == "/huy" else user.press(button(replies, "Hủy").data))
    assert cancelled.text == feedback.CANCELLED
    assert await count(db, Feedback) == 0
    assert await count(db, DialogState) == 0
    # The dialog is over: free text is a question again.
    (answer,) = await user.say("Mô hình chính quyền thân thiện là gì?")
    assert answer.text.startswith("Theo văn bản:")
    assert await count(db, Feedback) == 0


async def test_edit_rewrites_the_text_and_keeps_a_chosen_topic(chat, db):
    user = chat("u1")
    (preview,) = await user.say(f"/gopy {TEXT}")
    (menu,) = await user.press(button([preview], "Đổi chủ đề").data)
    (preview,) = await user.press(button([menu], "7. Thành phố âm nhạc").data)
    (ask,) = await user.press(button([preview], "Sửa nội dung").data)
    assert "viết lại" in ask.text
    (preview,) = await user.say("Nội dung đã sửa lại cho rõ hơn.")
    assert "Chủ đề: Mô hình 7: Thành phố âm nhạc\n" in preview.text      # chosen, so kept
    await user.press(button([preview], "Gửi").data)
    async with db.sessions() as s:
        assert (await s.scalars(select(Feedback.text))).all() == ["Nội dung đã sửa lại cho rõ hơn."]


async def test_edit_guesses_the_topic_again_from_the_new_text(chat, db):
    user = chat("u1")
    (preview,) = await user.say(f"/gopy {TEXT}")                # guessed: model 6
    await user.press(button([preview], "Sửa nội dung").data)
    (preview,) = await user.say("Trường học xã hội chủ nghĩa cần thêm sân chơi.")
    assert "Chủ đề: Mô hình 10: Trường học xã hội chủ nghĩa (mình đoán" in preview.text


@pytest.mark.parametrize("text, expected", [
    ("", "chưa viết"),
    ("😀👍🎉", "bằng chữ"),
    ("!!! ??? ...", "bằng chữ"),
    ("góp ý " * 400, "dài 2.399 ký tự, mình chỉ nhận tối đa 1.500 ký tự"),
])
async def test_empty_emoji_or_huge_feedback_gets_a_friendly_reply(chat, db, text, expected):
    user = chat("u1")
    await user.say("/gopy")
    (reply,) = await user.say(text)
    assert expected in reply.text and "/huy" in reply.text
    assert await _step(db) == "text"
    assert await count(db, Feedback) == 0
    # Still writing: a proper message now goes on (to the topic).
    (menu,) = await user.say("Góp ý bằng chữ đàng hoàng.")
    assert menu.text == feedback.ASK_TOPIC


async def test_while_the_topic_is_asked_a_name_picks_it_and_more_words_are_more_feedback(chat, db):
    user = chat("u1")
    await user.say("/gopy")
    await user.say(PLAIN)
    (menu,) = await user.say("abc")                            # neither a topic nor feedback
    assert menu.text.startswith("Mình chưa nhận ra chủ đề «abc»") and buttons(menu)
    (menu,) = await user.say("Và đề nghị thêm ghế chờ ở bộ phận một cửa.")
    assert menu.text.startswith(feedback.ADDED)
    (preview,) = await user.say("nha o xa hoi")                # typed without diacritics
    assert "Chủ đề: Mô hình 6: Nhà ở xã hội chủ nghĩa tại Hải Phòng" in preview.text
    await user.say("gửi")                                      # typed instead of choosing «Gửi»
    assert await _stored(db) == [("mohinh:" + (await _model_id(user, 6)),
                                  PLAIN + "\nVà đề nghị thêm ghế chờ ở bộ phận một cửa.")]


async def _model_id(user, number: int) -> str:
    return user.pipeline.deps.knowledge.catalog.models[number - 1].id


async def test_at_the_confirmation_typed_words_choose_and_more_text_is_added(chat, db):
    user = chat("u1")
    await user.say(f"/gopy {TEXT}")
    (preview,) = await user.say("?")
    assert preview.text.startswith(feedback.CONFIRM_HINT) and TEXT in preview.text
    (preview,) = await user.say("Nhất là cho công nhân ở các khu công nghiệp.")
    assert preview.text.startswith(feedback.ADDED)
    assert f"«{TEXT}\nNhất là cho công nhân ở các khu công nghiệp.»" in preview.text
    for courtesy in ("cam on ban", "xin chào"):            # courtesies are not more feedback ("ok" sends)
        (preview,) = await user.say(courtesy)
        assert preview.text.startswith(feedback.NOT_ADDED) and courtesy not in preview.text
    (ask,) = await user.say("sửa")
    assert "viết lại" in ask.text
    await user.say("Nội dung mới.")
    (cancelled,) = await user.say("thôi")
    assert cancelled.text == feedback.CANCELLED and await count(db, Feedback) == 0


async def test_a_photo_with_a_caption_gives_its_caption_and_a_bare_photo_keeps_the_dialog(chat, db):
    user = chat("u1")
    await user.say("/gopy")
    (reply,) = await user.send("photo")                         # nothing to read: the dialog stays
    assert "chưa xem được hình ảnh" in reply.text and "gửi góp ý" in reply.text and "/huy" in reply.text
    assert await _step(db) == "text"
    (menu,) = await user.send("photo", caption=PLAIN)
    assert "ảnh" in menu.text and menu.text.endswith(feedback.ASK_TOPIC)
    (preview,) = await user.press(button([menu], "Chủ đề khác").data)
    await user.press(button([preview], "Gửi").data)
    assert await _stored(db) == [("khac", PLAIN)]


async def test_personal_data_in_feedback_is_masked_when_stored(chat, db):
    user = chat("u1")
    text = "Đường ngập, gọi tôi 0912 345 678 hoặc an.nguyen@example.vn, CCCD 031095001234."
    (menu,) = await user.say(f"/gopy {text}")
    (preview,) = await user.press(button([menu], "Chủ đề khác").data)
    assert text in preview.text                                 # the resident sees what they wrote...
    assert "che đi khi lưu" in preview.text                     # ...and is told what will be kept
    await user.press(button([preview], "Gửi").data)
    assert await _stored(db) == [("khac", "Đường ngập, gọi tôi [số điện thoại] hoặc [email], CCCD [số CCCD/CMND].")]


async def test_tampered_or_stale_buttons_change_nothing(chat, db):
    user = chat("u1")
    await user.say("/gopy")
    (menu,) = await user.say(PLAIN)
    token = button([menu], "Chủ đề khác").data.split(":")[1]
    before = await snapshot(db)
    for data in [
        "fb:zzzzzz:t:k",                     # another dialog's token
        f"fb:{token}:t:m99",                 # no such model
        f"fb:{token}:t:cIX",                 # no such criteria group
        f"fb:{token}:send",                  # not at the confirm step
        f"fb:{token}:edit",
        f"fb:{token}:topic",
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
    (reply,) = await chat("u2").press(button([menu], "Chủ đề khác").data)
    assert reply.text == INVALID_BUTTON
