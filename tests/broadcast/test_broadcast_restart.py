"""Restart resumes at once: the default worker id is stable across restarts on
one host and data directory, distinct between processes running together, and
a restarted worker takes back the rows its earlier life left ``sending``
without waiting for their lease (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from bot.broadcast import outbox
from bot.broadcast.service import open_worker, worker_identity
from bot.messages import utcnow
from tests.broadcast.helpers import add_subscribers, broadcast_settings, deliveries
from tests.fakes.telegram_api import FakeTelegramAPI


def test_default_worker_id_is_stable_and_never_shared_by_live_processes(settings, tmp_path):
    with worker_identity(settings) as first:
        with worker_identity(settings) as second:          # another process on the same host and data dir
            assert second != first
    with worker_identity(settings) as again:               # the first one, restarted
        assert again == first
    other_dir = settings.model_copy(update={"data_dir": tmp_path / "elsewhere"})
    with worker_identity(other_dir) as elsewhere:
        assert elsewhere != first
    pinned = settings.model_copy(update={"broadcast": settings.broadcast.model_copy(update={"worker_id": "w-7"})})
    with worker_identity(pinned) as configured:
        assert configured == "w-7"


async def test_a_restarted_worker_takes_back_its_rows_without_waiting_for_the_lease(db, settings):
    chats = await add_subscribers(db, [str(700 + i) for i in range(30)])
    async with db.sessions.begin() as s:
        b = await outbox.create_broadcast(s, text="Lịch họp tổ dân phố tối nay.", segment=outbox.Segment(),
                                          created_by="test", scheduled_at=utcnow(), now=utcnow())
    await outbox.start_broadcast(db.sessions, b.id, utcnow())
    async with FakeTelegramAPI() as api:
        run_settings = broadcast_settings(settings, telegram=api, rates={"telegram": 0}, lease_seconds=3600)
        with worker_identity(run_settings) as dead_id:       # the earlier life claimed rows, then was killed
            held = await outbox.claim(db.sessions, dead_id, ["telegram"], 12, utcnow(), timedelta(hours=1))
        assert len(held) == 12
        async with open_worker(run_settings) as worker:
            assert worker.worker_id == dead_id
            await asyncio.wait_for(worker.run(until_idle=True), 30)     # the lease is an hour
        assert deliveries(api) == Counter({c: 1 for c in chats})
