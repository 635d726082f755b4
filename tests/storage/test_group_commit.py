"""Group commit on the question path: the answer log and the dialog look-up
serve every update in flight with one database round (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from bot.deps import Deps
from bot.pipeline import FloodControl, Pipeline
from bot.storage import DbDialogStore
from bot.storage.answer_log import AnswerLogWriter
from bot.storage.group_commit import GroupCommit
from bot.storage.models import AnswerLog, Resident, InboxQuestion
from bot.storage.repo import AnswerEntry
from storage_helpers import Chat, count

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _transactions(db) -> list[int]:
    """A counter of transactions begun on ``db``'s connections."""
    begun = [0]

    @event.listens_for(db.engine.sync_engine, "begin")
    def _on_begin(_conn):
        begun[0] += 1

    return begun


async def test_a_burst_is_one_round_and_a_failed_round_fails_only_its_callers():
    rounds: list[list[int]] = []
    failing = [True]

    async def run_batch(items: list[int]) -> list[int]:
        rounds.append(items)
        await asyncio.sleep(0.01)
        if failing[0]:
            raise ConnectionError("database unreachable")
        return [i * 10 for i in items]

    group = GroupCommit(run_batch, "test")
    results = await asyncio.gather(*(group.submit(i) for i in range(50)), return_exceptions=True)
    assert len(rounds) == 1 and rounds[0] == list(range(50))
    assert all(isinstance(r, ConnectionError) for r in results)
    failing[0] = False
    assert await asyncio.gather(*(group.submit(i) for i in range(3))) == [0, 10, 20]


async def test_answers_of_a_burst_are_logged_in_one_transaction_with_their_own_ids(db):
    writer = AnswerLogWriter(db.sessions, clock=lambda: T0)
    entries = [AnswerEntry("telegram", f"u{i % 10}", f"Người {i % 10}", f"câu hỏi số {i}", "p-1",
                           i % 4 != 0, 0.9 if i % 4 else 0.1, T0) for i in range(40)]
    begun = _transactions(db)
    ids = await asyncio.gather(*(writer.record(e) for e in entries))
    assert begun[0] <= 2                      # one round (two if the first caller raced ahead)
    assert len(set(ids)) == 40
    async with db.sessions() as session:
        rows = {row.id: row for row in (await session.scalars(select(AnswerLog))).all()}
        declined = (await session.scalars(select(InboxQuestion))).all()
    # Every caller got the id of its own row.
    assert [rows[i].question for i in ids] == [e.question for e in entries]
    assert await count(db, Resident) == 10
    assert sorted(u.answer_id for u in declined) == sorted(i for i, e in zip(ids, entries) if not e.confident)
    assert {rows[u.answer_id].question for u in declined} == {u.question for u in declined}


async def test_a_resident_is_created_once_and_renamed_by_a_later_answer(db):
    writer = AnswerLogWriter(db.sessions, clock=lambda: T0)
    await writer.record(AnswerEntry("zalo", "z1", "Lan", "hỏi 1", None, True, 0.9, T0))
    await writer.record(AnswerEntry("zalo", "z1", "Lan Anh", "hỏi 2", None, True, 0.9, T0))
    await writer.record(AnswerEntry("zalo", "z1", None, "hỏi 3", None, True, 0.9, T0))   # no name: kept
    async with db.sessions() as session:
        names = (await session.scalars(select(Resident.display_name))).all()
    assert names == ["Lan Anh"]


async def test_peek_sees_open_dialogs_of_many_users_in_one_read_and_ignores_expired(db):
    now = [T0]
    store = DbDialogStore(db.sessions, clock=lambda: now[0], ttl=timedelta(hours=6))
    await store.open("telegram", "u1", "gopy", {"step": "text"})
    await store.open("zalo", "u1", "dangky", {"step": "ward"})
    now[0] = T0 + timedelta(hours=5)
    await store.open("telegram", "u2", "dangky", {})
    now[0] = T0 + timedelta(hours=7)          # u1's dialogs have expired, u2's has not
    begun = _transactions(db)
    keys = [("telegram", "u1"), ("zalo", "u1"), ("telegram", "u2"), ("telegram", "u3")] * 5
    names = await asyncio.gather(*(store.peek(p, u) for p, u in keys))
    assert names == [None, None, "dangky", None] * 5
    assert begun[0] <= 2


class CountingSearcher:
    def __init__(self, inner):
        self.inner, self.questions = inner, []

    async def search(self, question: str, k: int = 5):
        self.questions.append(question)
        return await self.inner.search(question, k)

    async def close(self) -> None:
        pass


async def test_a_user_over_the_flood_limit_costs_no_search(deps: Deps):
    searcher = CountingSearcher(deps.searcher)
    pipeline = Pipeline(replace(deps, searcher=searcher), flood=FloodControl(3, 60))
    chat = Chat(pipeline, "flooder")
    replies = [await chat.say(f"tiêu chí số {i} là gì?") for i in range(6)]
    assert all(replies[:4]) and replies[4:] == [[], []]     # answers, the notice once, then silence
    assert len(searcher.questions) == 3


@pytest.mark.parametrize("text", ["/mohinh", ""])
async def test_commands_and_empty_text_are_not_searched(deps: Deps, text):
    searcher = CountingSearcher(deps.searcher)
    pipeline = Pipeline(replace(deps, searcher=searcher))
    await Chat(pipeline, "u9").say(text)
    assert searcher.questions == []
