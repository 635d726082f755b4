"""A database that is down, or fails in the middle of an update: a polite
"try again later", no crash, and nothing half-written."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from bot.app import build_router
from bot.deps import Deps
from bot.messages import Incoming
from bot.pipeline import TRY_LATER, FloodControl, Pipeline
from bot.storage import Database, DbDialogStore
from bot.storage.models import AnswerLog, DialogState, Feedback, Resident, InboxQuestion
from storage_helpers import StubSearcher, button, count, make_settings


@pytest.fixture
async def unreachable(db_url, tmp_path) -> Database:
    if db_url.startswith("sqlite"):
        (tmp_path / "a-directory").mkdir()                       # a directory is no database file
        database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'a-directory'}")
    else:
        database = Database.from_url("postgresql+asyncpg://postgres@127.0.0.1:1/test")   # nothing listens
    yield database
    await database.dispose()
    # aiosqlite stops the worker thread of a failed connect without waiting for it;
    # let it finish while this test's event loop still runs.
    await asyncio.sleep(0.1)


async def test_unreachable_database_gets_try_later_not_a_crash(unreachable, knowledge, tmp_path):
    deps = Deps(settings=make_settings(tmp_path), knowledge=knowledge, searcher=StubSearcher(knowledge),
                router=build_router(), dialogs=DbDialogStore(unreachable.sessions), db=unreachable)
    pipeline = Pipeline(deps, flood=FloodControl(1000, 60))
    for text, message_id in [("Nhà ở xã hội là gì?", "m1"), ("/gopy", None), ("/thongke", None),
                             ("Nhà ở xã hội là gì?", None)]:
        msg = Incoming.from_platform("telegram", "c1", "u1", text, message_id=message_id)
        assert [r.text for r in await pipeline.process(msg)] == [TRY_LATER]
    msg = Incoming.from_platform("telegram", "c1", "u1", None, callback_data="rate:up:1")
    assert [r.text for r in await pipeline.process(msg)] == [TRY_LATER]


class Fail:
    """Make the database fail on one kind of statement, as if the server went away mid-update."""

    def __init__(self, db: Database, statement_start: str):
        self.db, self.start, self.hits = db, statement_start, 0

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(self.start):
            self.hits += 1
            raise OperationalError(statement, parameters, ConnectionResetError("server closed the connection"))

    def __enter__(self):
        event.listen(self.db.engine.sync_engine, "before_cursor_execute", self._before)
        return self

    def __exit__(self, *exc):
        event.remove(self.db.engine.sync_engine, "before_cursor_execute", self._before)


async def test_failure_mid_feedback_rolls_back_the_whole_update(chat, db):
    user = chat("u1")
    await user.say("/gopy")
    replies = await user.press(button(await user.say("Đề nghị thêm cây xanh ở khu dân cư."), "Chủ đề khác").data)
    send = button(replies, "Gửi").data
    with Fail(db, "INSERT INTO FEEDBACK") as failure:
        assert [r.text for r in await user.press(send)] == [TRY_LATER]
    assert failure.hits == 1
    # The dialog delete and the new resident row ran before the failure; both were rolled back.
    assert await count(db, Feedback) == 0 and await count(db, Resident) == 0
    async with db.sessions() as s:
        state = (await s.scalars(select(DialogState.state))).one()
    assert state["step"] == "confirm"
    # The resident can simply press "Gửi" again once the database is back.
    (thanks,) = await user.press(send)
    assert "Cảm ơn" in thanks.text
    assert await count(db, Feedback) == 1


async def test_failure_mid_answer_logs_nothing(chat, db):
    with Fail(db, "INSERT INTO QUESTION_INBOX"):
        assert [r.text for r in await chat("u1").say("Kết quả bóng đá hôm qua?")] == [TRY_LATER]
    assert await count(db, AnswerLog) == 0 and await count(db, Resident) == 0
    assert await count(db, InboxQuestion) == 0


async def test_failure_mid_delete_keeps_all_data(chat, db):
    user = chat("u1")
    await user.say("Nhà ở xã hội là gì?")
    (confirm,) = await user.say("/xoadulieu")
    with Fail(db, "DELETE FROM RESIDENTS"):
        assert [r.text for r in await user.press(button([confirm], "Xóa hết").data)] == [TRY_LATER]
    assert await count(db, Resident) == 1 and await count(db, AnswerLog) == 1
    (reply,) = await user.press(button([confirm], "Xóa hết").data)   # the request is still valid
    assert await count(db, Resident) == 0 and await count(db, AnswerLog) == 0
