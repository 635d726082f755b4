"""The console's storage on SQLite and PostgreSQL: /dangnhap and `civicbot admin`
(roles, wards, login links), ward scopes, question groups, the overview's figures."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import insert, select

from bot.messages import utcnow
from bot.storage import console_repo, repo
from bot.storage.models import AnswerLog, InboxQuestion, Resident
from test_cli_storage import cli_db, invoke  # noqa: F401 (fixture)

LINK = re.compile(r"http://127\.0\.0\.1:8080/console/login/([A-Za-z0-9_-]{20,})")


async def test_dangnhap_gives_officials_a_one_time_link_and_residents_nothing(db, chat):
    async with db.sessions.begin() as session:
        await repo.add_official(session, "telegram", "555", "official", None, utcnow())
    reply = (await chat("555").say("/dangnhap"))[0].text
    token = LINK.search(reply).group(1)
    assert "một lần" in reply
    resident_reply = (await chat("556").say("/dangnhap"))[0].text
    assert "chỉ dành cho cán bộ" in resident_reply and not LINK.search(resident_reply)
    async with db.sessions.begin() as session:
        official_id = await console_repo.redeem_login_link(session, token, utcnow())
        assert official_id == (await console_repo.officer_by_account(session, "telegram", "555")).id
        assert await console_repo.redeem_login_link(session, token, utcnow()) is None         # used
        late = await console_repo.create_login_link(session, official_id, utcnow() - timedelta(minutes=11), 10)
        assert await console_repo.redeem_login_link(session, late, utcnow()) is None          # expired
        assert await console_repo.login_link_state(session, late, utcnow()) == "expired"


async def test_dangnhap_in_a_group_chat_sends_no_link(db, pipeline):
    from bot.messages import Incoming

    async with db.sessions.begin() as session:
        await repo.add_official(session, "telegram", "555", "admin", None, utcnow())
    replies = await pipeline.process(Incoming.from_platform("telegram", "-100123", "555", "/dangnhap", message_id="g1"))
    assert "riêng" in replies[0].text and not LINK.search(replies[0].text)


def test_admin_cli_roles_wards_and_login_link(cli_db):  # noqa: F811
    result = invoke("admin", "add", "telegram", "7", "--role", "official", "--ward", "le chan", "--ward", "Hồng Bàng")
    assert result.exit_code == 0, result.output
    assert "phụ trách: Phường Lê Chân, Phường Hồng Bàng" in result.output
    assert invoke("admin", "add", "zalo", "8", "--role", "viewer").exit_code == 0
    assert invoke("admin", "add", "telegram", "9", "--ward", "Phường Không Có").exit_code == 1
    listing = invoke("admin", "list").output
    assert "telegram\t7\tofficial\tphụ trách: Phường Hồng Bàng, Phường Lê Chân" in listing
    assert "zalo\t8\tviewer" in listing
    link = invoke("admin", "login-link", "telegram", "7")
    assert link.exit_code == 0 and LINK.search(link.output)
    assert invoke("admin", "login-link", "telegram", "404").exit_code == 1


async def _residents(session, wards):
    ids = []
    for i, ward in enumerate(wards):
        resident = Resident(platform="telegram", platform_user_id=f"u{i}", ward=ward, created_at=utcnow(),
                            updated_at=utcnow())
        session.add(resident)
        await session.flush()
        ids.append(resident.id)
    return ids


async def test_question_groups_and_scopes(db):
    now = utcnow()
    async with db.sessions.begin() as session:
        a, b = await _residents(session, ["Phường Lê Chân", "Phường Hồng Bàng"])
        for resident, ward, text in ((a, "Phường Lê Chân", "Giờ làm việc của phường?"),
                                     (a, "Phường Lê Chân", "giờ làm việc của PHƯỜNG"),
                                     (b, "Phường Hồng Bàng", "Gio lam viec cua phuong"),
                                     (b, "Phường Hồng Bàng", "Ai ký giấy tờ?")):
            session.add(InboxQuestion(resident_id=resident, platform="telegram", chat_id="c", ward=ward,
                                      question=text, origin="declined", status="new", created_at=now))
    async with db.sessions.begin() as session:
        everything = await console_repo.inbox_groups(session, None)
        assert [(g.count, g.key) for g in everything] == [(3, "cua gio lam phuong viec"), (1, "ai giay ky to")]
        mine = await console_repo.inbox_groups(session, ("Phường Lê Chân",))
        assert [g.count for g in mine] == [2]
        group = await console_repo.group_questions(session, ("Phường Lê Chân",), mine[0].sample_id)
        assert {q.ward for q in group} == {"Phường Lê Chân"}
        assert await console_repo.inbox_groups(session, ()) == []


async def test_overview_counts_per_day_and_ward(db):
    now = utcnow()
    async with db.sessions.begin() as session:
        a, b = await _residents(session, ["Phường Lê Chân", "Phường Hồng Bàng"])
        rows = [(a, "Phường Lê Chân", 0, True, 1), (a, "Phường Lê Chân", 0, False, None),
                (a, "Phường Lê Chân", 1, True, -1), (b, "Phường Hồng Bàng", 0, True, 1),
                (a, "Phường Lê Chân", 40, True, None)]
        await session.execute(insert(AnswerLog), [
            {"resident_id": r, "platform": "telegram", "question": "q", "top_passage_id": "p1", "confident": ok,
             "confidence": 0.5, "ward": w, "created_at": now - timedelta(days=d), "rating": rating}
            for r, w, d, ok, rating in rows])
    data = await console_repo.overview(db.sessions, ("Phường Lê Chân",), now, days=7)
    assert (sum(data.answered), sum(data.declined)) == (2, 1)
    assert data.answered[-1] == 1 and data.declined[-1] == 1 and data.answered[-2] == 1
    assert (sum(data.ratings_up), sum(data.ratings_down)) == (1, 1)
    assert data.top_passages == [("p1", 2)]
    everything = await console_repo.overview(db.sessions, None, now, days=7)
    assert sum(everything.answered) == 3
    one_ward = await console_repo.overview(db.sessions, None, now, days=7, ward="Phường Hồng Bàng")
    assert sum(one_ward.answered) == 1


async def test_a_viewer_reads_in_chat_but_neither_closes_nor_broadcasts(db, chat):
    now = utcnow()
    async with db.sessions.begin() as session:
        await repo.add_official(session, "telegram", "777", "viewer", None, now)
        (resident,) = await _residents(session, ["Phường Lê Chân"])
        question = InboxQuestion(resident_id=resident, platform="telegram", chat_id="c", ward="Phường Lê Chân",
                                 question="Hỏi gì đó?", origin="declined", status="new", created_at=now)
        session.add(question)
    viewer = chat("777")
    assert "Thống kê" in (await viewer.say("/thongke"))[0].text
    refused = (await viewer.press(f"adm:done:{question.id}"))[0].text
    assert "chỉ có quyền xem" in refused
    assert "chỉ dành cho cán bộ" in (await viewer.say("/thongbao"))[0].text
    async with db.sessions() as session:
        assert await session.scalar(select(InboxQuestion.status)) == "new"
