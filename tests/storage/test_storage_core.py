"""The storage layer itself: migrations, delivery dedup, dialog state."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from bot.storage import Database, DbDialogStore, DbSeenMessages, head_revision
from bot.storage.models import Base, DialogState, ProcessedDelivery
from storage_helpers import count

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# -- migrations -----------------------------------------------------------------

async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_migrations_upgrade_from_empty_match_models_and_downgrade(empty_db):
    assert await empty_db.current_revision() is None
    await empty_db.upgrade()
    assert await empty_db.current_revision() == head_revision()
    assert await _tables(empty_db) == {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}

    async with empty_db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}),
                                          Base.metadata))
    assert diff == [], f"models and migrations disagree: {diff}"

    await empty_db.upgrade()                      # idempotent
    await empty_db.downgrade("base")
    assert await _tables(empty_db) <= {"alembic_version"}
    await empty_db.upgrade()
    assert await empty_db.current_revision() == head_revision()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'w' / 'x.db'}")
    try:
        async with database.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await database.dispose()


# -- processed deliveries -------------------------------------------------------

async def test_same_delivery_twice_is_seen_once(db):
    seen = DbSeenMessages(db.sessions)
    assert await seen.first_time("telegram", "m-1") is True
    assert await seen.first_time("telegram", "m-1") is False
    assert await seen.first_time("zalo", "m-1") is True          # ids are per platform
    assert await count(db, ProcessedDelivery) == 2


async def test_concurrent_redeliveries_are_processed_once(db):
    stores = [DbSeenMessages(db.sessions) for _ in range(8)]      # e.g. several workers
    results = await asyncio.gather(*(s.first_time("zalo", "burst") for s in stores))
    assert sorted(results) == [False] * 7 + [True]


async def test_a_burst_is_recorded_together_and_answered_per_delivery(db):
    seen = DbSeenMessages(db.sessions)
    assert await seen.first_time("zalo", "old")
    ids = ["old", *(f"m{i}" for i in range(300)), "m7", "m8"]      # "old" seen before; m7, m8 twice
    results = await asyncio.gather(*(seen.first_time("zalo", i) for i in ids))
    assert results[0] is False
    assert results[1:301] == [True] * 300
    assert results[301:] == [False, False]
    assert await seen.first_time("telegram", "m1")                 # same id, other platform


async def test_old_deliveries_are_pruned_recent_kept(db):
    clock = Clock()
    seen = DbSeenMessages(db.sessions, clock=clock, retention=timedelta(hours=48),
                          prune_every=timedelta(minutes=10))
    assert await seen.first_time("telegram", "old")
    clock.now = T0 + timedelta(hours=47)
    assert await seen.first_time("telegram", "recent")
    clock.now = T0 + timedelta(hours=49)                          # "old" is past retention
    assert await seen.first_time("telegram", "new")
    async with db.sessions() as s:
        kept = set((await s.scalars(select(ProcessedDelivery.message_id))).all())
    assert kept == {"recent", "new"}
    # After pruning, an id is new again: retention must outlive platform retries.
    assert await seen.first_time("telegram", "old") is True


# -- dialog state ---------------------------------------------------------------

async def test_dialog_store_round_trip_and_take_once(db):
    store = DbDialogStore(db.sessions)
    assert await store.current("telegram", "u1") is None
    assert await store.state("telegram", "u1") == {}
    await store.open("telegram", "u1", "gopy", {"step": "text", "label": "Nhà ở xã hội", "groups": ["cu_dan"]})
    await store.open("telegram", "u2", "dangky", {"step": "ward"})
    assert await store.current("telegram", "u1") == "gopy"
    assert await store.state("telegram", "u1") == {"step": "text", "label": "Nhà ở xã hội", "groups": ["cu_dan"]}
    await store.open("telegram", "u1", "gopy", {"step": "confirm"})            # moves on
    assert await store.state("telegram", "u1") == {"step": "confirm"}
    assert await store.take("telegram", "u1", "dangky") is None                # not that dialog
    assert await store.take("telegram", "u1", "gopy") == {"step": "confirm"}
    assert await store.take("telegram", "u1", "gopy") is None                  # exactly once
    assert await store.current("telegram", "u1") is None
    assert await store.current("telegram", "u2") == "dangky"                   # others untouched
    await store.close("telegram", "u2")
    assert await count(db, DialogState) == 0


async def test_concurrent_takes_release_the_state_once(db):
    await DbDialogStore(db.sessions).open("zalo", "u1", "gopy", {"step": "confirm", "text": "x"})
    results = await asyncio.gather(*(DbDialogStore(db.sessions).take("zalo", "u1", "gopy") for _ in range(5)))
    assert [r for r in results if r is not None] == [{"step": "confirm", "text": "x"}]


async def test_idle_dialogs_expire(db):
    clock = Clock()
    store = DbDialogStore(db.sessions, clock=clock, ttl=timedelta(hours=6))
    await store.open("telegram", "u1", "gopy", {"step": "text"})
    clock.now = T0 + timedelta(hours=5)
    assert await store.current("telegram", "u1") == "gopy"
    clock.now = T0 + timedelta(hours=7)
    assert await store.current("telegram", "u1") is None
    assert await store.take("telegram", "u1", "gopy") is None
    assert await store.prune() == 1
    assert await count(db, DialogState) == 0


async def test_concurrent_start_ups_migrate_once(empty_db):
    if empty_db.dialect != "postgresql":
        pytest.skip("the embedded SQLite database has one bot process")
    others = [Database(empty_db.engine, empty_db.schema) for _ in range(3)]
    await asyncio.gather(empty_db.upgrade(), *(o.upgrade() for o in others))
    assert await empty_db.current_revision() == head_revision()
