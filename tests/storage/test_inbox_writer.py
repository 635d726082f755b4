"""The inbox writer (bot/storage/inbox.py): what a webhook waits for before it is
acknowledged, on a connection of its own, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import func, select, text

from bot.storage import inbox
from bot.storage.delivery_models import InboxUpdate


def new_update(key: str, chat: str = "c1") -> inbox.NewUpdate:
    return inbox.NewUpdate("zalo", key, chat, {"text": f"câu hỏi {key}"})


async def stored_keys(db) -> list[str]:
    async with db.sessions() as session:
        return list((await session.scalars(select(InboxUpdate.update_key).order_by(InboxUpdate.id))).all())


@pytest.fixture
async def writer(db):
    writer = inbox.InboxWriter.for_database(db)
    yield writer
    await writer.close()


async def test_updates_arriving_together_are_stored_once_each(writer, db):
    results = await asyncio.gather(*(writer.store(new_update(key)) for key in ("m1", "m2", "m1", "m3")))
    assert results == [True, True, False, True]          # the second m1 is a redelivery
    assert await writer.store(new_update("m2")) is False  # and so is a later one
    assert await stored_keys(db) == ["m1", "m2", "m3"]


async def test_a_stored_update_reads_back_as_written(writer, db):
    await writer.store(inbox.NewUpdate("zalo", "m1", "c9", {"text": "Xin chào", "n": [1, 2]}))
    row = await inbox.next_update(db.sessions, "zalo", "c9")
    assert row is not None and row.incoming == {"text": "Xin chào", "n": [1, 2]}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_sqlite_a_held_write_lock_is_waited_for_without_blocking_the_loop(writer, db, db_url):
    """The writer uses SQLite synchronously on the loop's thread: when another connection
    holds the write lock, it must yield to the loop and store once the lock is free. A
    blocking wait (SQLite's busy timeout) would stop the loop for seconds: the holder here
    is this very thread, so it could not even release the lock meanwhile."""
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def tick() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(loop.time() - last)
            last = loop.time()

    path = db_url.split("///", 1)[1]
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO inbox_updates (platform, update_key, chat_id, incoming, received_at) "
                   "VALUES ('zalo', 'other', 'c2', '{}', '2026-11-29 00:00:00')")
    ticking = asyncio.create_task(tick())
    storing = asyncio.create_task(writer.store(new_update("m1")))
    await asyncio.sleep(0.3)
    assert not storing.done()                 # waiting for the lock …
    holder.execute("COMMIT")
    holder.close()
    assert await asyncio.wait_for(storing, 5) is True
    ticking.cancel()
    assert max(gaps) < 1.0                    # … while the loop ran on
    assert await stored_keys(db) == ["other", "m1"]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_postgres_a_lost_connection_fails_one_round_and_the_next_reconnects(writer, db):
    assert await writer.store(new_update("m1"))
    async with db.engine.connect() as conn:         # the server drops the writer's connection
        await conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle' "
            "AND query LIKE 'INSERT INTO inbox_updates%'"))
    with pytest.raises(Exception):
        await writer.store(new_update("m2"))        # not acknowledged: the platform redelivers
    assert await writer.store(new_update("m2")) is True
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(InboxUpdate)) == 2
