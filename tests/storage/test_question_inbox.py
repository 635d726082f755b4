"""The question inbox (declines, and questions residents send on to officials) and the
per-chat context follow-ups use, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import select, text

from bot.deps import Deps
from bot.messages import utcnow
from bot.pipeline import FloodControl, Pipeline
from bot.storage import DbDialogStore, repo
from bot.storage.export import export_rows, pseudonym, write_rows
from bot.storage.models import ChatContextState, InboxQuestion, Resident
from bot.app import build_router
from handlers import conversation, privacy, qa
from storage_helpers import Chat, StubSearcher, button, buttons, count, make_settings, snapshot

DECLINED = "Lịch thi đấu bóng đá tuần này?"      # the stub searcher declines football


async def _forward_button(replies) -> str:
    data = button(replies, "Gửi câu hỏi này tới cán bộ").data
    assert data.startswith(f"{qa.FORWARD_PREFIX}:") and len(data.encode()) <= 64
    return data


async def test_a_decline_is_logged_and_sending_it_on_upgrades_the_same_row_once(chat, db):
    async with db.sessions.begin() as s:
        s.add(Resident(platform="zalo", platform_user_id="u9", ward="Xã An Lão"))
    resident = chat("u9", "zalo")
    replies = await resident.say(DECLINED)
    assert conversation.FORWARD_OFFER in replies[0].text
    forward = await _forward_button(replies)
    async with db.sessions() as s:
        (row,) = (await s.scalars(select(InboxQuestion))).all()
    assert (row.origin, row.status, row.platform, row.chat_id, row.ward, row.question) == (
        "declined", "new", "zalo", "chat-u9", "Xã An Lão", DECLINED)
    assert row.asked_at is None and row.answer_text is None

    (reply,) = await resident.press(forward)
    assert reply.text == qa.FORWARDED                       # the ward is known: no hint about /dangky
    async with db.sessions() as s:
        (row,) = (await s.scalars(select(InboxQuestion))).all()
    assert (row.origin, row.status, row.chat_id) == ("asked", "new", "chat-u9") and row.asked_at is not None

    before = await snapshot(db)
    (reply,) = await resident.press(forward)                # a second tap
    assert reply.text == qa.ALREADY_FORWARDED
    (reply,) = await chat("u2", "zalo").press(forward)      # someone else's question
    assert reply.text == qa.NOT_FORWARDABLE
    for data in ["hoi:", "hoi:abc", "hoi:-1", "hoi:" + "9" * 40, "hoi:99999"]:
        (reply,) = await resident.press(data)
        assert reply.text == qa.NOT_FORWARDABLE, data
    assert await snapshot(db) == before


async def test_sending_on_without_a_known_ward_suggests_giving_one(chat, db):
    user = chat("u1")
    (reply,) = await user.press(await _forward_button(await user.say(DECLINED)))
    assert reply.text.startswith(qa.FORWARDED) and "/dangky" in reply.text


async def test_answers_are_not_in_the_inbox_and_have_no_send_button(chat, db):
    replies = await chat("u1").say("Nhà ở xã hội là gì?")
    assert not any(b.data.startswith("hoi:") for r in replies for b in buttons(r))
    assert await count(db, InboxQuestion) == 0


async def test_privacy_counts_and_deletion_cover_the_inbox_and_the_chat_context(chat, db):
    user = chat("u1")
    await user.press(await _forward_button(await user.say(DECLINED)))
    await user.say("Tiêu chí con người xã hội chủ nghĩa gồm những nhóm nào?")   # a list: context kept
    await chat("u2").say(DECLINED)
    assert await count(db, ChatContextState) == 1
    summary = (await user.say("/quyenriengtu"))[1].text
    assert "chưa trả lời được 1, bạn đã gửi tới cán bộ 1" in summary

    (confirm,) = await user.say("/xoadulieu")
    await user.press(button([confirm], "Xóa hết").data)
    assert await count(db, InboxQuestion) == 1                    # u2's stays
    assert await count(db, ChatContextState) == 0
    async with db.sessions() as s:
        (left,) = (await s.scalars(select(InboxQuestion))).all()
        owner = await s.get(Resident, left.resident_id)
    assert owner.platform_user_id == "u2"


async def test_officials_marking_a_question_handled_sets_its_status(chat, db):
    await chat("u1").say(DECLINED)
    async with db.sessions.begin() as s:
        (question,) = await repo.open_unanswered(s)
        assert await repo.resolve_unanswered(s, question.id, utcnow(), by="telegram:42")
        assert not await repo.resolve_unanswered(s, question.id, utcnow())      # once
        assert await repo.open_unanswered(s) == []
    async with db.sessions() as s:
        row = await s.get(InboxQuestion, question.id)
    assert (row.status, row.answered_by) == ("answered", "telegram:42") and row.answered_at is not None


async def test_export_questions_is_pseudonymised_and_unanswered_keeps_only_open_ones(chat, db):
    first = chat("u1")
    await first.press(await _forward_button(await first.say(DECLINED)))
    await chat("u2", "zalo").say("Thời tiết mai thế nào?")
    async with db.sessions.begin() as s:
        zalo_row = (await s.scalars(select(InboxQuestion).where(InboxQuestion.platform == "zalo"))).one()
        await repo.resolve_unanswered(s, zalo_row.id, utcnow(), by="zalo:1", status="not_needed")
    async with db.sessions() as s:
        everything = await export_rows(s, "questions", "bí mật")
        still_open = await export_rows(s, "unanswered", "bí mật")
    assert [(r["nguoi_hoi"], r["origin"], r["status"]) for r in everything] == [
        (pseudonym("bí mật", "telegram", "u1"), "asked", "new"),
        (pseudonym("bí mật", "zalo", "u2"), "declined", "not_needed"),
    ]
    assert [r["question"] for r in still_open] == [DECLINED]
    for fmt in ("csv", "jsonl"):
        out = io.StringIO()
        write_rows(everything, "questions", fmt, out)
        dumped = out.getvalue()
        assert "u1" not in dumped and "chat-u1" not in dumped and "Tên u1" not in dumped and "zalo:1" not in dumped
        rows = (list(csv.DictReader(io.StringIO(dumped))) if fmt == "csv"
                else [json.loads(line) for line in dumped.splitlines()])
        assert [r["question"] for r in rows] == [DECLINED, "Thời tiết mai thế nào?"]


async def test_the_chat_context_is_shared_by_processes_and_expires(db, knowledge, tmp_path):
    """Two bot processes on one database: a follow-up may reach the other one."""
    now = [utcnow()]

    def process() -> Pipeline:
        deps = Deps(settings=make_settings(tmp_path), knowledge=knowledge, searcher=StubSearcher(knowledge),
                    router=build_router(), dialogs=DbDialogStore(db.sessions), db=db, clock=lambda: now[0])
        return Pipeline(deps, flood=FloodControl(1000, 60))

    first, second = Chat(process(), "u1"), Chat(process(), "u1")
    (listed,) = await first.say("bo tieu chi con nguoi xhcn gom nhung nhom nao")
    assert "6 nhóm" in listed.text
    (group,) = await second.say("còn nhóm 3 thì sao?")
    assert "Có khát vọng cống hiến, dám hy sinh vì lợi ích chung" in group.text
    (following,) = await first.say("tiêu chí tiếp theo")
    assert "Bản lĩnh, đổi mới sáng tạo, hội nhập" in following.text

    now[0] += timedelta(hours=2)                       # the resident comes back much later
    (reply,) = await second.say("tiêu chí tiếp theo")
    assert reply.text == conversation.NO_CONTEXT


async def test_migration_moves_the_unanswered_list_into_the_inbox_and_back(empty_db):
    await empty_db.upgrade("0004_quiz")
    async with empty_db.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO residents (id, platform, platform_user_id, ward, created_at, updated_at) "
            "VALUES (1, 'telegram', 'u1', 'Phường Lê Chân', :t, :t)"), {"t": utcnow()})
        await conn.execute(text(
            "INSERT INTO unanswered_questions (id, resident_id, platform, question, ward, confidence, created_at,"
            " resolved_at) VALUES (1, 1, 'telegram', 'Câu cũ chưa xử lý', 'Phường Lê Chân', 0.1, :t, NULL),"
            " (2, 1, 'telegram', 'Câu cũ đã xử lý', NULL, 0.2, :t, :t)"), {"t": utcnow()})
    await empty_db.upgrade()
    async with empty_db.sessions() as s:
        rows = (await s.scalars(select(InboxQuestion).order_by(InboxQuestion.id))).all()
    assert [(r.id, r.question, r.origin, r.status, r.ward) for r in rows] == [
        (1, "Câu cũ chưa xử lý", "declined", "new", "Phường Lê Chân"),
        (2, "Câu cũ đã xử lý", "declined", "answered", None),
    ]
    assert rows[1].answered_at is not None
    async with empty_db.sessions.begin() as s:          # new rows continue after the copied ids
        s.add(InboxQuestion(resident_id=1, platform="telegram", question="Câu mới", created_at=utcnow()))
    async with empty_db.sessions() as s:
        assert (await s.scalars(select(InboxQuestion.id).where(InboxQuestion.question == "Câu mới"))).one() == 3

    await empty_db.downgrade("0004_quiz")
    async with empty_db.engine.connect() as conn:
        back = (await conn.execute(text(
            "SELECT id, question, resolved_at IS NOT NULL FROM unanswered_questions ORDER BY id"))).all()
    assert [tuple(r) for r in back] == [(1, "Câu cũ chưa xử lý", False), (2, "Câu cũ đã xử lý", True),
                                       (3, "Câu mới", False)]


async def test_privacy_text_names_the_inbox(chat, db):
    assert "gửi tới cán bộ" in privacy.WHAT_WE_STORE
