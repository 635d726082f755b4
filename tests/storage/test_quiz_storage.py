"""/quiz and /bangxephang through the real pipeline, on SQLite and on PostgreSQL.

Playing: a whole round, one answer per question whatever is replayed, late
answers, skip/stop/resume, spaced repetition. Scores: leaderboards (minimum
rounds, this week vs all time, chi đoàn and ward), the officials' report
and its CLI, deletion with /xoadulieu.
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app
from bot.messages import Reply, utcnow
from bot.settings import QuizSettings, get_settings
from bot.storage import quiz_repo
from bot.storage.models import Resident
from bot.storage.quiz_models import DONE, OPEN, VOID, QuizAnswer, QuizLeitner, QuizPollLink, QuizRound
from bot.storage.quiz_report import report_rows, write_report
from handlers import leaderboard, quiz
from knowledge.quiz_schedule import BankLoader, QuestionBank
from storage_helpers import button, count, emptied_database, snapshot


@pytest.fixture(scope="session")
def bank(knowledge) -> QuestionBank:
    return QuestionBank.build(knowledge)


@pytest.fixture
def clock(request):
    """The deps' clock: the real one, or a `Clock` at the time a test gives
    (``@pytest.mark.parametrize("clock", [when], indirect=True)``)."""
    return Clock(request.param) if hasattr(request, "param") else utcnow


@pytest.fixture
def deps(deps, bank, clock):
    return replace(deps, quiz_bank=BankLoader(bank), clock=clock)     # the bank built once per session


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def question(replies: list[Reply]) -> Reply:
    found = [r for r in replies if r.quiz is not None]
    assert found, f"no question in {[r.text[:60] for r in replies]}"
    return found[-1]


async def start(user, topic_label: str = "11 mô hình") -> list[Reply]:
    return await user.press(button(await user.say("/quiz"), topic_label).data)


async def answer(user, reply: Reply, right: bool) -> list[Reply]:
    poll = reply.quiz
    return await user.press(poll.answer_data(poll.correct if right else (poll.correct + 1) % len(poll.options)))


async def rounds_of(db, user_id: str) -> list[QuizRound]:
    async with db.sessions() as s:
        resident = await s.scalar(select(Resident).where(Resident.platform_user_id == user_id))
        return list((await s.scalars(select(QuizRound).where(QuizRound.resident_id == resident.id)
                                     .order_by(QuizRound.id))).all())


async def answers_of(db, round_id: int) -> list[QuizAnswer]:
    async with db.sessions() as s:
        return list((await s.scalars(select(QuizAnswer).where(QuizAnswer.round_id == round_id)
                                     .order_by(QuizAnswer.position))).all())


# -- playing ------------------------------------------------------------------------

async def test_a_whole_round_gives_feedback_with_sources_then_score_time_and_missed(chat, db, bank):
    user = chat("u1")
    menu = await user.say("/quiz")
    assert "10 câu" in menu[0].text and "/bangxephang" in menu[0].text
    intro, current = await user.press(button(menu, "11 mô hình").data)
    assert intro.text.startswith("🎯 Bắt đầu bài thứ 1") and current.text == "Câu 1/10"
    assert current.quiz.open_period == 60 and len(current.quiz.options) == 4

    missed_questions = []
    for n in range(10):
        right = n % 3 != 0                       # questions 1, 4, 7, 10 missed
        asked = bank.get([q for q in bank.pool("mo_hinh") if q.question == current.quiz.question][0].id)
        replies = await answer(user, current, right)
        feedback = replies[0]
        assert feedback.text.startswith("✅ Chính xác!" if right else "❌ Chưa đúng.")
        assert asked.source_section in feedback.text and asked.source_text in feedback.text
        if not right:
            missed_questions.append(asked)
        if n < 9:
            current = question(replies)
            assert current.text == f"Câu {n + 2}/10"
    summary = replies[-1]
    assert "Kết quả: 6/10 câu đúng." in summary.text and "Thời gian:" in summary.text
    for q in missed_questions:
        assert q.options[q.answer] in summary.text
    assert {"🔁 Làm bài mới", "📚 Chủ đề khác", "🏆 Bảng xếp hạng"} <= {b.label for row in summary.buttons for b in row}

    (rnd,) = await rounds_of(db, "u1")
    assert (rnd.status, rnd.score, rnd.position, rnd.topic) == (DONE, 6, 10, "mo_hinh") and rnd.finished_at
    stored = await answers_of(db, rnd.id)
    assert [a.position for a in stored] == list(range(10))
    assert [a.correct for a in stored] == [n % 3 != 0 for n in range(10)]
    assert all(a.outcome == "answered" and a.criteria_group == "mo_hinh" and a.time_taken_ms >= 0 for a in stored)
    assert [a.chosen == bank.get(a.question_id).answer for a in stored] == [a.correct for a in stored]
    assert await count(db, QuizLeitner) == 10


async def test_replays_double_taps_other_users_and_old_questions_change_nothing(chat, db):
    user, other = chat("u1"), chat("u2")
    first = question(await start(user))
    second = question(await answer(user, first, right=True))
    before = await snapshot(db)

    assert (await answer(user, first, right=True))[0].text == quiz.ALREADY_ANSWERED      # replayed callback
    assert (await answer(user, first, right=False))[0].text == quiz.ALREADY_ANSWERED     # changed their mind
    assert (await other.press(second.quiz.answer_data(0)))[0].text == quiz.NOT_YOURS
    future = second.quiz.answer_data(0).replace(".1:", ".5:")
    assert (await user.press(future))[0].text == quiz.NOT_CURRENT
    assert (await user.press("qa:nonsense:1"))[0].text == quiz.INVALID
    assert (await user.press(second.quiz.answer_data(9)))[0].text == quiz.INVALID
    after = await snapshot(db)
    assert {k: v for k, v in after.items() if k != "residents"} == {k: v for k, v in before.items() if k != "residents"}

    # A double tap arriving at once: one of the two counts.
    results = await asyncio.gather(answer(user, second, True), answer(user, second, False))
    notes = [r[0].text for r in results]
    assert notes.count(quiz.ALREADY_ANSWERED) == 1
    (rnd,) = await rounds_of(db, "u1")
    assert rnd.position == 2 and len(await answers_of(db, rnd.id)) == 2

    # Stopped: later answers are refused.
    stopped = await user.press(f"qz:{rnd.token}:stop")
    assert stopped[0].text.startswith("⏹ Bạn đã dừng bài sau 2/10 câu")
    third_key = second.quiz.answer_data(0).replace(".1:", ".2:")
    assert (await user.press(third_key))[0].text == quiz.ROUND_OVER
    assert (await user.press(f"qz:{rnd.token}:stop"))[0].text == quiz.ROUND_OVER
    (rnd,) = await rounds_of(db, "u1")
    assert rnd.status == DONE and rnd.position == 2


@pytest.mark.parametrize("clock", [datetime(2025, 11, 26, 3, 0, tzinfo=timezone.utc)], indirect=True)
async def test_late_answers_are_not_scored_skip_and_resume(chat, db, clock):
    user = chat("u1")
    first = question(await start(user))
    clock.advance(65)                                   # past 60 s, within the 10 s grace
    second = question(await answer(user, first, right=True))
    clock.advance(71)                                   # past the grace
    late = await answer(user, second, right=True)
    assert late[0].text.startswith("⏰ Câu này đã hết thời gian (60 giây)")
    third = question(late)
    assert (await answer(user, second, right=True))[0].text == quiz.ALREADY_ANSWERED

    clock.advance(5)
    skipped = await user.press(button([third], "Bỏ qua").data)
    assert skipped[0].text.startswith("⏭ Bạn đã bỏ qua câu này.")
    fourth = question(skipped)
    (rnd,) = await rounds_of(db, "u1")
    resumed = await user.press(f"qz:{rnd.token}:resume")     # in time: the same question again
    assert question(resumed).quiz == fourth.quiz
    clock.advance(200)
    resumed = await user.press(f"qz:{rnd.token}:resume")     # its time is up: settled, the next one
    assert resumed[0].text.startswith("⏰") and question(resumed).text == "Câu 5/10"

    stored = await answers_of(db, rnd.id)
    assert [(a.outcome, a.correct, a.chosen is None) for a in stored] == [
        ("answered", True, False), ("timeout", False, True), ("skipped", False, True), ("timeout", False, True)]
    assert [a.time_taken_ms for a in stored] == [65_000, 71_000, 5_000, 200_000]
    (rnd,) = await rounds_of(db, "u1")
    assert (rnd.score, rnd.position) == (1, 4)


async def test_a_menu_tapped_twice_starts_one_round_and_a_new_round_ends_the_open_one(chat, db):
    user = chat("u1")
    menu = await user.say("/quiz")
    data = button(menu, "Tổng hợp").data
    await user.press(data)
    again = await user.press(data)
    assert again[0].text == quiz.ALREADY_STARTED
    assert len(await rounds_of(db, "u1")) == 1

    menu = await user.say("/quiz")                       # nothing answered yet
    assert "Bạn đang làm dở một bài (0/10 câu)" in menu[0].text and button(menu, "Tiếp tục")
    replies = await user.press(button(menu, "Tiêu chí CNXH").data)
    assert quiz.CLOSED_NOTE.strip() in replies[0].text
    await answer(user, question(replies), right=True)
    await user.press(button(await user.say("/quiz"), "Tiêu chí con người").data)
    statuses = [(r.topic, r.status, r.score) for r in await rounds_of(db, "u1")]
    assert statuses == [("mixed", VOID, 0), ("tieu_chi_cnxh", DONE, 1), ("tieu_chi_con_nguoi", OPEN, 0)]
    assert (await user.press(data))[0].text == quiz.OLD_MENU     # the first menu, much later


async def test_spaced_repetition_brings_a_missed_question_back(chat, db):
    user = chat("u1")
    current = question(await start(user, "Tiêu chí con người"))
    for n in range(10):
        replies = await answer(user, current, right=n != 0)
        if n < 9:
            current = question(replies)
    first_round = (await rounds_of(db, "u1"))[0]
    missed = first_round.question_ids[0]
    retry = button(replies, "Làm bài mới").data
    await user.press(retry)
    second_round = (await rounds_of(db, "u1"))[1]
    assert second_round.number == 2 and missed in second_round.question_ids
    answered_right = set(first_round.question_ids[1:])
    assert not answered_right & set(second_round.question_ids)     # box 2: due in round 3


async def test_privacy_shows_and_deletes_quiz_data(chat, db):
    user = chat("u1")
    await answer(user, question(await start(user)), right=True)
    summary = (await user.say("/quyenriengtu"))
    assert "đố vui" in summary[0].text and "• Bài đố vui: 1 bài, 1 câu trả lời" in summary[1].text
    async with db.sessions.begin() as s:
        rnd = (await s.scalars(select(QuizRound))).one()
        await quiz_repo.link_poll(s, "telegram", "poll-9", quiz_repo.answer_key(rnd.token, 1), "chat-u1", "5",
                                  datetime.now(timezone.utc))
    confirm = await user.say("/xoadulieu")
    await user.press(button(confirm, "Xóa hết").data)
    for model in (QuizRound, QuizAnswer, QuizLeitner, QuizPollLink):
        assert await count(db, model) == 0


# -- leaderboards -------------------------------------------------------------------

NOW = datetime(2025, 11, 26, 3, 0, tzinfo=timezone.utc)            # Wednesday 10:00 in Việt Nam
THIS_WEEK = datetime(2025, 11, 23, 17, 30, tzinfo=timezone.utc)    # Monday 00:30 in Việt Nam
LAST_WEEK = datetime(2025, 11, 23, 16, 30, tzinfo=timezone.utc)    # Sunday 23:30 in Việt Nam

MEMBERS = {
    # user id: (display name, ward, chi đoàn)
    "100200301": ("Nguyễn An", "Phường Lê Chân", "Chi đoàn KDC số 3"),
    "100200302": ("Trần Bình", "Phường Lê Chân", "chi doan kdc so 3"),        # same branch, typed differently
    "100200303": ("Lê Cường", "Phường Hải An", "Chi đoàn KDC số 3"),          # same name, another ward
    "100200304": ("Phạm Dũng", "Phường Hải An", None),                         # resident, no chi đoàn
    "100200305": ("Vũ Em", "Phường Kiến An", "Chi đoàn trường THPT"),          # one lucky round
    "100200306": (None, None, None),                                           # no display name
}
SCORES = {
    "100200301": [(THIS_WEEK, 8)] * 3,
    "100200302": [(LAST_WEEK, 10)] * 3 + [(THIS_WEEK, 6)] * 3,
    "100200303": [(THIS_WEEK, 7)] * 4,
    "100200304": [(THIS_WEEK, 9)] * 3,
    "100200305": [(THIS_WEEK, 10)],
    "100200306": [(LAST_WEEK, 5)] * 3,
}


async def seed_scores(db) -> dict[str, int]:
    ids = {}
    async with db.sessions.begin() as s:
        for uid, (name, ward, chi_doan) in MEMBERS.items():
            resident = Resident(platform="telegram", platform_user_id=uid, display_name=name, ward=ward,
                                chi_doan=chi_doan, created_at=NOW, updated_at=NOW)
            s.add(resident)
            await s.flush()
            ids[uid] = resident.id
            for number, (finished, score) in enumerate(SCORES[uid], 1):
                s.add(QuizRound(resident_id=resident.id, platform="telegram", token=secrets.token_urlsafe(6),
                                topic="mixed", number=number, question_ids=[], size=10, position=10,
                                score=score, status=DONE, started_at=finished - timedelta(minutes=5),
                                asked_at=finished, finished_at=finished))
            # Open and void rounds never count.
            s.add(QuizRound(resident_id=resident.id, platform="telegram", token=secrets.token_urlsafe(6),
                            topic="mixed", number=99, question_ids=[], size=10, position=3, score=3,
                            status=OPEN, started_at=NOW, asked_at=NOW))
    return ids


def test_week_starts_on_monday_in_viet_nam():
    assert quiz_repo.week_start(NOW) == datetime(2025, 11, 23, 17, 0, tzinfo=timezone.utc)
    sunday_evening_utc = datetime(2025, 11, 30, 16, 59, tzinfo=timezone.utc)        # Sunday 23:59 VN
    assert quiz_repo.week_start(sunday_evening_utc) == datetime(2025, 11, 23, 17, 0, tzinfo=timezone.utc)
    assert quiz_repo.week_start(sunday_evening_utc + timedelta(minutes=1)) == datetime(2025, 11, 30, 17, 0,
                                                                                        tzinfo=timezone.utc)


async def test_member_boards_need_minimum_rounds_weekly_and_all_time(db):
    ids = await seed_scores(db)
    week = quiz_repo.week_start(NOW)
    async with db.sessions() as s:
        weekly = await quiz_repo.member_board(s, since=week, min_rounds=3, limit=10, me=ids["100200305"])
        all_time = await quiz_repo.member_board(s, since=None, min_rounds=3, limit=10, me=ids["100200301"])
        lucky = await quiz_repo.member_board(s, since=week, min_rounds=1, limit=2, me=ids["100200303"])
    assert [(x.rank, x.name, x.rounds, round(x.average, 2)) for x in weekly.top] == [
        (1, "Phạm Dũng", 3, 9.0), (2, "Nguyễn An", 3, 8.0), (3, "Lê Cường", 4, 7.0), (4, "Trần Bình", 3, 6.0)]
    assert weekly.me is None and weekly.my_rounds == 1 and weekly.ranked == 4       # Vũ Em: one lucky round
    assert [(x.rank, x.name, x.rounds, round(x.average, 2)) for x in all_time.top] == [
        (1, "Phạm Dũng", 3, 9.0), (2, "Trần Bình", 6, 8.0), (3, "Nguyễn An", 3, 8.0), (4, "Lê Cường", 4, 7.0),
        (5, quiz_repo.ANONYMOUS, 3, 5.0)]
    assert all_time.me.rank == 3
    assert [x.name for x in lucky.top] == ["Vũ Em", "Phạm Dũng"]                    # min 1: luck wins
    assert lucky.me.rank == 4 and lucky.me.name == "Lê Cường"                       # outside the top, still shown


async def test_chi_doan_and_ward_boards_group_members_from_their_subscription(db):
    ids = await seed_scores(db)
    week = quiz_repo.week_start(NOW)
    async with db.sessions() as s:
        branches = await quiz_repo.group_board(s, quiz_repo.CHI_DOAN, since=week, min_rounds=3, limit=10,
                                               me=ids["100200302"])
        wards = await quiz_repo.group_board(s, quiz_repo.WARD, since=week, min_rounds=3, limit=10,
                                            me=ids["100200305"])
        wards_all = await quiz_repo.group_board(s, quiz_repo.WARD, since=None, min_rounds=3, limit=10, me=None)
        nobody = await quiz_repo.group_board(s, quiz_repo.CHI_DOAN, since=week, min_rounds=3, limit=10,
                                             me=ids["100200306"])
    assert [(x.rank, x.name, x.rounds, x.members, round(x.average, 2)) for x in branches.top] == [
        (1, "Chi đoàn KDC số 3 (Phường Lê Chân)", 6, 2, 7.0),     # An + Bình, two spellings, one branch
        (2, "Chi đoàn KDC số 3 (Phường Hải An)", 4, 1, 7.0)]      # same average, fewer rounds
    assert branches.me.rank == 1 and branches.my_group == "Chi đoàn KDC số 3 (Phường Lê Chân)"
    assert [(x.name, x.rounds, x.members, round(x.average, 3)) for x in wards.top] == [
        ("Phường Hải An", 7, 2, 7.857), ("Phường Lê Chân", 6, 2, 7.0)]                 # Kiến An: 1 round only
    assert wards.me is None and wards.my_group == "Phường Kiến An" and wards.my_rounds == 1
    assert [(x.name, x.rounds) for x in wards_all.top] == [("Phường Lê Chân", 9), ("Phường Hải An", 7)]
    assert nobody.my_group is None and nobody.me is None


@pytest.mark.parametrize("clock", [NOW], indirect=True)
async def test_bangxephang_shows_names_never_ids_and_the_asker_rank(chat, db):
    await seed_scores(db)
    (board,) = await chat("100200301").say("/bangxephang")
    assert board.text.startswith("🏆 Bảng xếp hạng đố vui – Đoàn viên – Tuần này (từ thứ Hai 24/11/2025)")
    assert "🥇 Phạm Dũng — 9,0 điểm · 3 bài" in board.text and "Vũ Em" not in board.text
    assert "Bạn: hạng 2/4 — 8,0 điểm · 3 bài." in board.text
    assert not any(uid in board.text for uid in MEMBERS)
    (branches,) = await chat("100200301").press(button([board], "Chi đoàn").data)
    assert "🥇 Chi đoàn KDC số 3 (Phường Lê Chân) — 7,0 điểm · 6 bài · 2 đoàn viên" in branches.text
    assert "Chi đoàn của bạn – Chi đoàn KDC số 3 (Phường Lê Chân): hạng 1/2" in branches.text
    (wards,) = await chat("100200305").press("lb:a:p")
    assert "Mọi lúc" in wards.text and "Phường/xã của bạn – Phường Kiến An – mới có 1 bài" in wards.text
    (stranger,) = await chat("999").press("lb:w:c")
    assert "Gõ /dangky" in stranger.text
    assert (await chat("999").press("lb:x:c"))[0].text == leaderboard.INVALID


# -- officials' report --------------------------------------------------------------

async def seed_answers(db, bank) -> None:
    ids = await seed_scores(db)
    pool = bank.pool("tieu_chi_con_nguoi")
    hard = next(q for q in pool if bank.group(q) == "III.3")
    easy = next(q for q in pool if bank.group(q) == "III.5")
    async with db.sessions.begin() as s:
        for uid, rid in ids.items():
            rnd = (await s.scalars(select(QuizRound).where(QuizRound.resident_id == rid).limit(1))).one()
            for position, (q, right) in enumerate([(hard, False), (easy, True), (hard, uid.endswith("1"))]):
                s.add(QuizAnswer(round_id=rnd.id, resident_id=rid, position=position, question_id=q.id,
                                 topic=q.topic, criteria_group=bank.group(q), chosen=q.answer if right else None,
                                 correct=right, outcome="answered", time_taken_ms=1000, answered_at=NOW))


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_report_by_chi_doan_has_participation_mastery_and_most_missed(db, bank):
    await seed_answers(db, bank)
    async with db.sessions() as s:
        rows = await report_rows(s, "chi_doan", bank)
    out = io.StringIO()
    write_report(rows, "csv", out)
    table = _rows(out.getvalue())
    total = [r for r in table if r["loai"] == "tong" and r["chi_doan"] == "(tất cả)"]
    assert total and total[0]["thanh_vien"] == "6" and total[0]["cau_tra_loi"] == "18" and total[0]["bai"] == "20"
    branch = [r for r in table if r["loai"] == "tong" and r["phuong_xa"] == "Phường Lê Chân"]
    assert [(r["chi_doan"], r["thanh_vien"], r["bai"], r["cau_tra_loi"], r["so_cau_dung"]) for r in branch] == [
        ("Chi đoàn KDC số 3", "2", "9", "6", "3")]                       # An + Bình merged
    groups = {(r["phuong_xa"], r["nhom_tieu_chi"]): r for r in table if r["loai"] == "nhom"}
    hard = groups[("Phường Lê Chân", "III.3")]
    assert (hard["cau_tra_loi"], hard["so_cau_dung"], hard["ty_le_dung"]) == ("4", "1", "0.25")
    assert hard["ten_nhom"].startswith("III.3. Có khát vọng cống hiến")
    assert groups[("Phường Lê Chân", "III.5")]["ty_le_dung"] == "1.0"
    missed = [r for r in table if r["loai"] == "cau_sai" and r["chi_doan"] == "(tất cả)"]
    assert missed[0]["hang"] == "1" and missed[0]["so_lan_sai"] == "11" and missed[0]["nhom_tieu_chi"] == "III.3"
    assert any(r["chi_doan"] == "(chưa đăng ký)" for r in table)    # Dũng and the nameless member
    text = out.getvalue()
    assert not any(uid in text for uid in MEMBERS)
    assert not any(name in text for name, _, _ in MEMBERS.values() if name)


def test_quiz_report_cli_writes_csv_by_ward(db_url, knowledge, bank, tmp_path, monkeypatch):
    async def prepare() -> None:
        database = await emptied_database(db_url)
        try:
            await seed_answers(database, bank)
        finally:
            await database.dispose()

    asyncio.run(prepare())
    monkeypatch.setenv("CIVICBOT_DATABASE_URL", db_url)
    get_settings.cache_clear()
    target = tmp_path / "bao-cao.csv"
    try:
        result = CliRunner().invoke(app, ["quiz", "report", "--group", "ward", "--format", "csv",
                                          "--output", str(target)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    table = _rows(target.read_text(encoding="utf-8-sig"))
    wards = {r["phuong_xa"]: r for r in table if r["loai"] == "tong"}
    assert set(wards) == {"(tất cả)", "Phường Lê Chân", "Phường Hải An", "Phường Kiến An", "(chưa đăng ký)"}
    assert wards["Phường Hải An"]["thanh_vien"] == "2" and wards["Phường Hải An"]["chi_doan"] == ""


def test_quiz_settings_validate_the_time_limit():
    assert QuizSettings(time_limit_seconds=0).time_limit_seconds == 0
    with pytest.raises(ValueError):
        QuizSettings(time_limit_seconds=3)
