"""Q&A: every answer logged, declines kept in the question inbox, one rating per answer."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import AnswerLog, Resident, InboxQuestion
from handlers import ratings
from storage_helpers import button, buttons, count, snapshot


async def _answer_id(replies) -> int:
    data = button(replies, "Hữu ích").data
    kind, value, answer_id = data.split(":")
    assert (kind, value) == ("rate", "up") and len(data.encode()) <= 64
    return int(answer_id)


async def test_answers_are_logged_and_buttons_carry_the_log_id(chat, db, deps):
    replies = await chat("u1").say("Mô hình chính quyền thân thiện là gì?")
    answer_id = await _answer_id(replies)
    assert button(replies, "Chưa đúng").data == f"rate:down:{answer_id}"
    async with db.sessions() as s:
        row = await s.get(AnswerLog, answer_id)
        resident = await s.get(Resident, row.resident_id)
    assert row.question == "Mô hình chính quyền thân thiện là gì?"
    assert row.top_passage_id == deps.knowledge.corpus.passages[0].id
    assert row.confident is True and row.rating is None
    assert (resident.platform, resident.platform_user_id, resident.display_name) == ("telegram", "u1", "Tên u1")
    assert await count(db, InboxQuestion) == 0


async def test_first_rating_counts_later_taps_change_nothing(chat, db):
    user = chat("u1")
    answer_id = await _answer_id(await user.say("Nhà ở xã hội là gì?"))
    (reply,) = await user.press(f"rate:up:{answer_id}")
    assert reply.text == ratings.THANKS_UP
    (reply,) = await user.press(f"rate:down:{answer_id}")      # change of mind: ignored
    assert reply.text == ratings.ALREADY
    (reply,) = await user.press(f"rate:up:{answer_id}")        # replay
    assert reply.text == ratings.ALREADY
    async with db.sessions() as s:
        row = await s.get(AnswerLog, answer_id)
    assert row.rating == 1 and row.rated_at is not None


async def test_thumbs_down_is_stored_as_minus_one(chat, db):
    user = chat("u1")
    answer_id = await _answer_id(await user.say("Tiêu chí con người xã hội chủ nghĩa?"))
    (reply,) = await user.press(f"rate:down:{answer_id}")
    assert reply.text == ratings.THANKS_DOWN
    async with db.sessions() as s:
        assert (await s.get(AnswerLog, answer_id)).rating == -1


async def test_declined_questions_are_kept_as_unanswered_with_ward(chat, db):
    async with db.sessions.begin() as s:
        s.add(Resident(platform="zalo", platform_user_id="u9", ward="Xã An Lão"))
    replies = await chat("u9", "zalo").say("Lịch thi đấu bóng đá tuần này?")
    assert not any(b.data.startswith("rate:") for r in replies for b in buttons(r))   # no rating on a decline
    async with db.sessions() as s:
        (question,) = (await s.scalars(select(InboxQuestion))).all()
        (logged,) = (await s.scalars(select(AnswerLog))).all()
    assert (question.question, question.ward, question.platform) == ("Lịch thi đấu bóng đá tuần này?", "Xã An Lão", "zalo")
    assert question.answer_id == logged.id and logged.confident is False
    assert (question.status, question.origin, question.chat_id) == ("new", "declined", "chat-u9")


async def test_input_problems_are_not_logged(chat, db):
    user = chat("u1")
    await user.say("😀😀😀")
    await user.say("")
    assert await count(db, AnswerLog) == 0 and await count(db, Resident) == 0


async def test_nobody_else_can_rate_and_tampered_data_changes_nothing(chat, db):
    answer_id = await _answer_id(await chat("u1").say("Nhà ở xã hội là gì?"))
    declined_reply = await chat("u1").say("Thời tiết mai thế nào?")
    async with db.sessions() as s:
        declined_id = (await s.scalars(select(AnswerLog.id).where(AnswerLog.confident.is_(False)))).one()
    before = await snapshot(db)
    other = chat("u2")
    (reply,) = await other.press(f"rate:up:{answer_id}")        # someone else's answer
    assert reply.text == ratings.NOT_RATABLE
    for data in [f"rate:up:{answer_id + 1000}", f"rate:sideways:{answer_id}", f"rate:up:{answer_id}:x",
                 "rate:up:", "rate:up:-1", "rate:up:１", "rate:up:" + "9" * 40, "rate",
                 "rate:up:nghi-quyet-05-tin-tien-phong.p1"]:        # the old passage-id buttons
        (reply,) = await chat("u1").press(data)
        assert reply.text == ratings.NOT_RATABLE, data
    (reply,) = await chat("u1").press(f"rate:up:{declined_id}")  # declines have no rating
    assert reply.text == ratings.NOT_RATABLE
    assert await snapshot(db) == before
    assert declined_reply
