"""A conversation that never drops the resident: ways out, expiry, non-text messages,
personal data. Through the real pipeline and database (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.pipeline import FloodControl, Pipeline
from bot.storage import DbDialogStore, repo
from bot.storage.export import export_rows, write_rows
from bot.storage.models import AnswerLog, DialogState, Feedback, InboxQuestion, ProcessedDelivery
from bot.storage.quiz_models import QuizRound
from handlers import feedback, media, privacy, subscription
from knowledge.quiz_schedule import BankLoader, QuestionBank
from storage_helpers import Chat, button, buttons, count, snapshot

PHONE_TEXT = "Nhà ở xã hội ở đâu, gọi giúp tôi 0912 345 678 hoặc email an.nguyen@example.vn?"
MASKED = "Nhà ở xã hội ở đâu, gọi giúp tôi [số điện thoại] hoặc email [email]?"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed_chat(deps, db, clock):
    """Residents whose dialogs age with ``clock``."""
    timed = replace(deps, dialogs=DbDialogStore(db.sessions, clock=clock), clock=clock)
    pipeline = Pipeline(timed, flood=FloodControl(1000, 60))
    return lambda user_id: Chat(pipeline, user_id)


async def test_a_dialog_left_too_long_says_so_once_when_the_resident_comes_back(timed_chat, db, clock):
    user = timed_chat("u1")
    await user.say("/gopy")
    await user.say("Đề nghị lắp thêm đèn đường ở tổ dân phố 5.")
    clock.now += timedelta(hours=7)
    replies = await user.say("Mô hình chính quyền thân thiện là gì?")
    assert replies[0].text == (
        "Phần gửi góp ý bạn làm dở trước đó đã quá lâu nên mình đã hủy, chưa lưu gì cả. "
        "Khi cần, bạn gõ /gopy để làm lại nhé.")
    assert replies[1].text.startswith("Theo văn bản:")           # and the question is answered
    assert await count(db, DialogState) == 0
    replies = await user.say("Mô hình chính quyền thân thiện là gì?")
    assert len(replies) == 1 and replies[0].text.startswith("Theo văn bản:")   # said once


async def test_an_open_dialog_is_not_reported_as_expired(timed_chat, clock):
    user = timed_chat("u1")
    await user.say("/gopy")
    clock.now += timedelta(hours=5)
    (menu,) = await user.say("Đề nghị lắp thêm đèn đường ở tổ dân phố 5.")
    assert menu.text == feedback.ASK_TOPIC


@pytest.mark.parametrize("kind", ["voice", "photo", "sticker", "location", "file", "video", "unsupported"])
async def test_every_kind_of_message_gets_one_short_answer(chat, db, kind):
    (reply,) = await chat("u1").send(kind)
    assert reply.text.startswith(media.CANNOT_READ.get(kind, media.UNKNOWN_KIND))
    assert reply.text.endswith(media.READS_TEXT)
    assert len(reply.text) < 250
    assert await count(db, AnswerLog) == 0                        # nothing was searched or logged


async def test_a_voice_note_in_a_dialog_keeps_it_open_and_shows_the_way_out(chat, db):
    user = chat("u1")
    await user.say("/dangky")
    (reply,) = await user.send("voice")
    assert reply.text == (media.CANNOT_READ["voice"] + " "
                          + media.DIALOG_OPEN.format(about="đăng ký nhận tin"))
    assert (await DbDialogStore(db.sessions).current("telegram", "u1")) == "dangky"
    (reply,) = await user.say("/huy")
    assert reply.text == subscription.CANCELLED


async def test_a_photo_caption_is_read_as_the_question(chat):
    (reply,) = await chat("u1").send("photo", caption="Mô hình chính quyền thân thiện là gì?")
    assert reply.text.startswith("Theo văn bản:")


async def test_every_dialog_step_offers_a_way_out(chat, db):
    """Each step's message names /huy or carries a cancel choice, and /huy always closes the dialog."""
    user = chat("u1")
    steps = [await user.say("/gopy"), await user.say("Đề nghị lắp thêm đèn đường ở tổ dân phố 5.")]
    steps.append(await user.press(button(steps[-1], "Chủ đề khác").data))
    steps += [await user.say("/dangky"), await user.say("Lê Chân")]
    steps.append(await user.press(button(steps[-1], "Đoàn viên").data))
    steps.append(await user.press(button(steps[-1], "Xong").data))
    for replies in steps:
        assert any("/huy" in r.text or any("Hủy" in b.label for b in buttons(r)) for r in replies), replies
    (reply,) = await user.say("/huy")
    assert reply.text == subscription.CANCELLED
    async with db.sessions.begin() as s:
        await repo.ensure_resident(s, "telegram", "u1", None, datetime.now(timezone.utc))
    await user.say("/xoadulieu")
    (reply,) = await user.say("hả?")                               # the confirmation is asked again
    assert reply.text.startswith(privacy.CONFIRM_HINT) and "/huy" in reply.text
    (reply,) = await user.say("/huy")
    assert reply.text == privacy.KEPT


async def test_typed_yes_confirms_the_deletion(chat, db):
    user = chat("u1")
    await user.say("Nhà ở xã hội là gì?")
    await user.say("/xoadulieu")
    (reply,) = await user.say("Có")
    assert reply.text == privacy.DELETED
    assert await count(db, AnswerLog) == 0


async def test_huy_ends_an_open_quiz_round(deps, db, knowledge):
    quizzing = replace(deps, quiz_bank=BankLoader(QuestionBank.build(knowledge)))
    user = Chat(Pipeline(quizzing, flood=FloodControl(1000, 60)), "u1")
    menu = await user.say("/quiz")
    await user.press(button(menu, "11 mô hình").data)
    replies = await user.say("/huy")
    assert "Đã dừng bài đố vui" in replies[0].text
    async with db.sessions() as s:
        assert (await s.scalars(select(QuizRound.status))).all() != ["open"]
    (reply,) = await user.say("/huy")                              # nothing in progress now
    assert reply.text == subscription.NOTHING_TO_CANCEL


async def test_personal_data_is_masked_in_storage_exports_and_officials_views(chat, db):
    user = chat("u1")
    await user.say(PHONE_TEXT)                                     # a question
    await user.say("Giá vé bóng đá, liên hệ 0987654321")           # declined: the unanswered list
    await user.say(f"/gopy {PHONE_TEXT}")
    await user.say("gửi")
    async with db.sessions() as s:
        assert (await s.scalars(select(AnswerLog.question))).all() == [MASKED, "Giá vé bóng đá, liên hệ [số điện thoại]"]
        assert (await s.scalars(select(Feedback.text))).all() == [MASKED]
        assert (await s.scalars(select(InboxQuestion.question))).all() == [
            "Giá vé bóng đá, liên hệ [số điện thoại]"]


async def test_kept_contact_details_are_still_masked_for_officials_and_exports(deps, db, tmp_path):
    keeping = replace(deps, settings=deps.settings.model_copy(update={
        "privacy": deps.settings.privacy.model_copy(update={"keep_contact_details": True})}))
    user = Chat(Pipeline(keeping, flood=FloodControl(1000, 60)), "u1")
    (about,) = (await user.say("/quyenriengtu"))[:1]
    assert privacy.CONTACT_DETAILS_KEPT in about.text
    await user.say("Giá vé bóng đá, liên hệ 0987654321")
    await user.say(f"/gopy {PHONE_TEXT}")
    await user.say("gửi")
    async with db.sessions() as s:
        assert (await s.scalars(select(Feedback.text))).all() == [PHONE_TEXT]       # kept, as the setting says
    async with db.sessions.begin() as s:
        await repo.add_official(s, "telegram", "boss", "official", None, datetime.now(timezone.utc))
    official = Chat(Pipeline(keeping, flood=FloodControl(1000, 60)), "boss")
    (listing,) = await official.press("adm:fb")
    (questions,) = await official.press("adm:un")
    assert MASKED in listing.text and "0912" not in listing.text
    assert "[số điện thoại]" in questions.text and "0987654321" not in questions.text
    async with db.sessions() as s:
        for kind in ("feedback", "unanswered"):
            out = io.StringIO()
            write_rows(await export_rows(s, kind, "secret"), kind, "csv", out)
            rows = list(csv.DictReader(io.StringIO(out.getvalue())))
            assert rows and "0912" not in out.getvalue() and "0987654321" not in out.getvalue()
            assert "an.nguyen@example.vn" not in out.getvalue()


async def test_privacy_page_says_contact_details_are_masked_by_default(chat):
    replies = await chat("u1").say("/quyenriengtu")
    assert privacy.CONTACT_DETAILS_MASKED in replies[0].text


async def test_the_warm_up_rehearsal_leaves_nothing_behind(pipeline, deps, db):
    from bot.app import warm_up

    before = await snapshot(db)
    await warm_up(deps, pipeline)
    assert await snapshot(db) == before
    assert await count(db, ProcessedDelivery) == 0
