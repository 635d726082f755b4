"""/quyenriengtu, /xoadulieu and the official-only views."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.messages import utcnow
from bot.router import STALE_BUTTON
from bot.storage import repo
from bot.storage.models import AnswerLog, DialogState, Feedback, Official, Resident, InboxQuestion
from handlers import officials, privacy
from handlers.forms import INVALID_BUTTON
from storage_helpers import button, buttons, count, snapshot


async def _active_resident(user) -> None:
    """Subscribe, ask (one answered and rated, one declined), give feedback."""
    await user.say("/dangky")
    (groups,) = await user.say("Kiến An")
    (groups,) = await user.press(button([groups], "Cư dân").data)
    await user.press(button([groups], "Xong").data)
    replies = await user.say("Nhà ở xã hội là gì?")
    await user.press(button(replies, "Hữu ích").data)
    await user.say("Giá vé xem bóng đá?")
    await user.say("/gopy")
    topics = await user.say("Cảm ơn các cán bộ phường.")
    await user.press(button(await user.press(button(topics, "Chủ đề khác").data), "Gửi").data)


async def _rows_of(db, user_id: str) -> int:
    async with db.sessions() as s:
        resident = await repo.find_resident(s, "telegram", user_id)
        if resident is None:
            return 0
        total = 1
        for model in (AnswerLog, Feedback, InboxQuestion):
            total += await s.scalar(select(func.count()).select_from(model).where(model.resident_id == resident.id))
        return total


async def test_privacy_for_a_stranger_explains_and_creates_nothing(chat, db):
    replies = await chat("u1").say("/quyenriengtu")
    assert "Quyền riêng tư" in replies[0].text and "/xoadulieu" in replies[0].text
    assert replies[1].text == privacy.NOTHING_STORED
    (reply,) = await chat("u1").say("/xoadulieu")
    assert reply.text == privacy.NOTHING_TO_DELETE
    assert await count(db, Resident) == 0 and await count(db, DialogState) == 0


async def test_privacy_shows_the_residents_own_data(chat, db):
    await _active_resident(chat("u1"))
    replies = await chat("u1").say("/quyenriengtu")
    summary = replies[1].text
    for expected in ("Tên hiển thị: Tên u1", "Phường/xã: Phường Kiến An", "Đang nhận tin của Phường Kiến An",
                     "nhóm: Cư dân", "Câu hỏi đã gửi: 2 (đã đánh giá 1; chưa trả lời được 1)", "Góp ý: 1"):
        assert expected in summary, expected
    assert button(replies, "Xóa dữ liệu").data == "xoa:ask"


async def test_delete_removes_everything_of_that_resident_once(chat, db):
    await _active_resident(chat("u1"))
    await _active_resident(chat("u2"))
    others = await _rows_of(db, "u2")
    user = chat("u1")
    await user.say("/gopy")                                      # an open dialog is data too
    (confirm,) = await user.press("xoa:ask")
    assert confirm.text == privacy.CONFIRM
    yes = button([confirm], "Xóa hết").data
    (reply,) = await user.press(yes)
    assert reply.text == privacy.DELETED
    assert await _rows_of(db, "u1") == 0
    async with db.sessions() as s:
        assert (await s.scalars(select(DialogState.platform_user_id))).all() == []
    assert await _rows_of(db, "u2") == others                   # nobody else's data

    # A second tap, or the old button replayed after new data exists, deletes nothing more.
    (reply,) = await user.press(yes)
    assert reply.text == privacy.STALE_CONFIRM
    await user.say("Nhà ở xã hội là gì?")
    before = await snapshot(db)
    (reply,) = await user.press(yes)
    assert reply.text == privacy.STALE_CONFIRM
    assert await snapshot(db) == before and await _rows_of(db, "u1") == 2


async def test_keep_and_cancel_leave_the_data(chat, db):
    await _active_resident(chat("u1"))
    user = chat("u1")
    before = await snapshot(db)
    (confirm,) = await user.say("/xoadulieu")
    (reply,) = await user.press(button([confirm], "Giữ lại").data)
    assert reply.text == privacy.KEPT
    (confirm,) = await user.say("/xoadulieu")
    (reply,) = await user.say("/huy")
    assert reply.text == privacy.KEPT
    (reply,) = await user.press(button([confirm], "Xóa hết").data)   # cancelled request's button
    assert reply.text == privacy.STALE_CONFIRM
    # Another resident replaying someone's confirm deletes nothing either.
    (confirm,) = await user.say("/xoadulieu")
    (reply,) = await chat("u2").press(button([confirm], "Xóa hết").data)
    assert reply.text in (privacy.STALE_CONFIRM, privacy.NOTHING_TO_DELETE)
    await user.say("/huy")
    assert await snapshot(db) == before
    for data in ["xoa:", "xoa:abc", "xoa:abc:maybe", "xoa:abc:yes:1", "xoa:ask:yes"]:
        (reply,) = await user.press(data)
        assert reply.text in (INVALID_BUTTON, privacy.STALE_CONFIRM), data
    assert await snapshot(db) == before


async def test_residents_are_refused_official_views_and_change_nothing(chat, db):
    await _active_resident(chat("u1"))
    async with db.sessions() as s:
        question_id = (await s.scalars(select(InboxQuestion.id))).one()
    async with db.sessions.begin() as s:                         # an official on another platform
        await repo.add_official(s, "zalo", "u1", "official", None, utcnow())
    before = await snapshot(db)
    resident = chat("u1")                                       # same id, but on Telegram: not an official
    for reply in [*(await resident.say("/thongke")), *(await resident.press("adm:fb")),
                  *(await resident.press("adm:un")), *(await resident.press(f"adm:done:{question_id}"))]:
        assert reply.text == officials.REFUSAL
        assert not buttons(reply)
    assert await snapshot(db) == before
    async with db.sessions() as s:
        assert (await s.get(InboxQuestion, question_id)).status == "new"
    # Not listed in /help either.
    (help_reply,) = await resident.say("/help")
    assert "/thongke" not in help_reply.text and "/gopy" in help_reply.text


async def test_officials_see_stats_lists_and_resolve_questions(chat, db):
    await _active_resident(chat("u1"))
    async with db.sessions.begin() as s:
        await repo.add_official(s, "telegram", "boss", "official", "Cán bộ phường", utcnow())
    official = chat("boss")
    (stats,) = await official.say("/thongke")
    assert "Câu hỏi: 2 (trả lời được 1, chưa trả lời được 1)" in stats.text
    assert "Góp ý theo chủ đề:\n• Khác: 1" in stats.text
    assert "Phường Kiến An: 1 / 1 / 1" in stats.text
    (feedback_list,) = await official.press("adm:fb")
    assert "Cảm ơn các cán bộ phường." in feedback_list.text and "Phường Kiến An" in feedback_list.text
    (questions,) = await official.press("adm:un")
    assert "Giá vé xem bóng đá?" in questions.text
    done = button([questions], "Đã xử lý").data
    (reply,) = await official.press(done)
    qid = int(done.rsplit(":", 1)[1])
    assert reply.text == officials.RESOLVED.format(id=qid)
    (reply,) = await official.press(done)
    assert reply.text == officials.NOT_OPEN.format(id=qid)
    (reply,) = await official.press("adm:un")
    assert reply.text == officials.NO_UNANSWERED
    for data in ["adm:", "adm:done:", "adm:done:x", "adm:drop", "adm:done:1:2"]:
        (reply,) = await official.press(data)
        assert reply.text == INVALID_BUTTON, data
    assert await count(db, Official) == 1


async def test_unknown_callbacks_get_a_friendly_reply(chat, db):
    before = await snapshot(db)
    for data in ["zzz:1", "", ":", "admin:all", "x" * 64]:
        (reply,) = await chat("u1").press(data)
        assert reply.text == STALE_BUTTON, data
    assert await snapshot(db) == before
