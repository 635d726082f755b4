"""Delivery end to end: the real worker, over real HTTP, against the fake
Telegram Bot API and the fake Zalo OA API, with injected 429s, 500s,
timeouts, 403s and Zalo -230; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.broadcast import outbox
from bot.channels.zalo import api as zalo_api_module
from bot.broadcast.service import open_worker
from bot.messages import utcnow
from bot.storage.broadcast_models import Broadcast, BroadcastRecipient
from bot.storage.models import Subscription
from tests.broadcast.conftest import fresh_database
from tests.broadcast.helpers import add_subscribers, broadcast_settings, deliveries
from tests.fakes.telegram_api import Fault, FakeTelegramAPI
from tests.fakes.zalo_api import Fault as ZaloFault
from tests.fakes.zalo_api import FakeZaloAPI

OFFICIAL_CHAT = "9000042"
WARD = "Phường Lê Chân"


@pytest.fixture
async def telegram_api():
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
async def zalo_api():
    async with FakeZaloAPI() as api:
        yield api


async def _create(db, *, platforms=("telegram", "zalo"), wards=(WARD,), report=("telegram", OFFICIAL_CHAT),
                  text="Lịch tiêm chủng mở rộng tháng này tại trạm y tế phường.") -> int:
    async with db.sessions.begin() as s:
        b = await outbox.create_broadcast(
            s, text=text, segment=outbox.Segment(tuple(wards), (), tuple(platforms)), created_by="test",
            scheduled_at=utcnow(), now=utcnow(), report_platform=report[0] if report else None,
            report_chat_id=report[1] if report else None)
        return b.id


async def _run(settings, **options):
    async with open_worker(settings, **options) as worker:
        await asyncio.wait_for(worker.run(until_idle=True), 30)
        return worker


async def _rows(db, broadcast_id) -> dict[str, BroadcastRecipient]:
    async with db.sessions() as s:
        rows = (await s.scalars(select(BroadcastRecipient).where(BroadcastRecipient.broadcast_id == broadcast_id))).all()
    return {r.chat_id: r for r in rows}


async def _active(db, platform, chat_id) -> bool:
    async with db.sessions() as s:
        return await s.scalar(select(Subscription.active).where(Subscription.platform == platform,
                                                                Subscription.chat_id == chat_id))


async def test_every_recipient_once_through_faults_with_progress_and_report(db, settings, telegram_api, zalo_api,
                                                                          monkeypatch):
    monkeypatch.setattr(zalo_api_module, "RATE_LIMIT_PAUSE_SECONDS", 0.3)
    tg = await add_subscribers(db, [str(1000 + i) for i in range(40)], ward=WARD)
    zl = await add_subscribers(db, [f"z{i}" for i in range(10)], platform="zalo", ward=WARD)
    await add_subscribers(db, [str(2000 + i) for i in range(5)], ward="Phường Hải An")   # not in the segment
    api, zapi = telegram_api, zalo_api
    api.add_fault(Fault.rate_limited(1), method="sendMessage", chat_id=1000)
    api.add_fault(Fault.server_error(), method="sendMessage", chat_id=1001, times=2)
    api.add_fault(Fault(504, "Gateway Timeout", delay=1.5), method="sendMessage", chat_id=1002)   # client times out
    api.block(1003)                                                                       # 403 blocked
    api.add_fault(Fault.server_error(502), method="sendMessage", chat_id=1004, times=10)   # gives up: failed
    api.add_fault(Fault.chat_not_found(), method="sendMessage", chat_id=1005)
    api.add_fault(Fault.rate_limited(1), method="sendMessage", times=10)                 # a global flood
    zapi.out_of_window.add("z0")
    zapi.inject("z1", ZaloFault.http(502))
    zapi.inject("z2", ZaloFault(status=502, delay=1.5))                                  # client times out
    zapi.inject("z3", ZaloFault.zalo(-32))                                               # rate limited
    broadcast_id = await _create(db)
    run_settings = broadcast_settings(settings, telegram=api, zalo=zapi, rates={"telegram": 40, "zalo": 40},
                                      send_timeout_seconds=0.5, max_attempts=4, zalo_promotion=False)
    worker = await _run(run_settings)

    got = deliveries(api, exclude=[OFFICIAL_CHAT])
    never = {"1003", "1004", "1005"}
    assert {c: n for c, n in got.items() if n != 1} == {}, "someone got it twice"
    assert set(got) == set(tg) - never
    zalo_got = Counter(m.user_id for m in zapi.sent)
    assert zalo_got == Counter({u: 1 for u in zl if u != "z0"})
    assert [a.outcome for a in zapi.attempts if a.user_id == "z0"] == ["error:-230"]     # not retried

    rows = await _rows(db, broadcast_id)
    status = Counter(r.status for r in rows.values())
    assert status == Counter(sent=46, blocked=2, failed=1, out_of_window=1)
    assert rows["1001"].attempts == 3 and rows["1004"].attempts == 4
    assert rows["1000"].attempts == 1                                                    # 429 is not an attempt
    assert not await _active(db, "telegram", "1003") and not await _active(db, "telegram", "1005")
    assert await _active(db, "telegram", "1004") and await _active(db, "zalo", "z0")
    assert await _active(db, "telegram", "1006")
    assert worker.stats.rate_limited >= 8 and worker.stats.transient >= 6      # notices took some 429s too
    assert worker.limiter.pauses >= 1                                                   # the flood paused all

    async with db.sessions() as s:
        b = await s.get(Broadcast, broadcast_id)
    assert (b.status, b.total, b.sent, b.failed, b.blocked, b.out_of_window) == ("done", 50, 46, 1, 2, 1)
    assert b.report_sent_at is not None

    # The official: a start message, edited with progress, then the report.
    to_official = api.calls_to("sendMessage", OFFICIAL_CHAT)
    assert to_official[0].text == "📤 Bắt đầu gửi thông báo #1 tới 50 người nhận…"
    report = to_official[-1].text
    for line in ("Đã gửi xong thông báo #1", "Gửi thành công: 46", "Không gửi được do lỗi: 1",
                 "đã chặn bot (đã ngừng gửi tin cho họ): 2", "quá 7 ngày chưa tương tác): 1", "Thời gian gửi:"):
        assert line in report, line
    edits = api.calls_to("editMessageText", OFFICIAL_CHAT)
    progress_id = to_official[0].result["message_id"]
    assert len(edits) >= 2 and {e.params["message_id"] for e in edits} == {progress_id}
    assert edits[-1].text.startswith("📤 Thông báo #1: đã gửi 46/50")
    assert any("/50" in e.text and "đã gửi 46/50" not in e.text for e in edits)          # seen mid-way


async def test_zalo_official_gets_milestones_not_edits(tmp_path, zalo_api):
    from tests.storage.storage_helpers import make_settings

    url = f"sqlite+aiosqlite:///{tmp_path / 'z' / 'z.db'}"
    db = await fresh_database(url)
    settings = make_settings(tmp_path, url)
    try:
        await add_subscribers(db, [f"z{i}" for i in range(40)], platform="zalo", ward=WARD)
        await _create(db, platforms=("zalo",), report=("zalo", "boss"))
        await _run(broadcast_settings(settings, zalo=zalo_api, rates={"zalo": 10},
                                      progress_seconds=0.1))
    finally:
        await db.dispose()
    to_boss = zalo_api.texts_to("boss")
    assert to_boss[0].startswith("📤 Bắt đầu gửi thông báo #1 tới 40")
    assert to_boss[-1].startswith("✅ Đã gửi xong thông báo #1.") and "Gửi thành công: 40" in to_boss[-1]
    milestones = to_boss[1:-1]
    assert 1 <= len(milestones) <= 3 and all(m.startswith("📤 Thông báo #1: đã gửi") for m in milestones)
    assert len([m for m in zalo_api.sent if m.user_id != "boss"]) == 40


async def test_delivered_then_no_verdict_is_retried_and_counted_as_a_possible_duplicate(db, settings):
    """The platform delivered, then our request timed out (chat 2) or got a 500
    (chat 4): retried, so those chats get it twice; the report says so."""
    from tests.broadcast.helpers import RandomFaultTelegramAPI

    await add_subscribers(db, ["1", "2", "3", "4"], ward=WARD)
    telegram_api = await RandomFaultTelegramAPI().start()
    telegram_api.fail_after_delivery(4)
    telegram_api.add_fault(Fault.slow(1.0), method="sendMessage", chat_id=2)
    telegram_api.add_fault(Fault.server_error(), method="sendMessage", chat_id=3)     # not delivered
    broadcast_id = await _create(db, platforms=("telegram",), report=("telegram", OFFICIAL_CHAT))
    worker = await _run(broadcast_settings(settings, telegram=telegram_api, send_timeout_seconds=0.3))
    await asyncio.sleep(1.0)                                # the slow answer lands
    got = deliveries(telegram_api, exclude=[OFFICIAL_CHAT])
    await telegram_api.close()
    assert got == Counter({"1": 1, "2": 2, "3": 1, "4": 2})
    async with db.sessions() as s:
        c = await outbox.counts(s, broadcast_id)
    assert c.sent == 4 and c.possible_duplicates == 3 and worker.stats.maybe_delivered == 3
    report = telegram_api.calls_to("sendMessage", OFFICIAL_CHAT)[-1].text
    assert "Có thể đã nhận 2 lần (máy chủ nền tảng báo lỗi sau khi có thể đã chuyển tin): 3" in report


async def test_cancel_while_running_stops_sending(db, settings, telegram_api):
    chats = await add_subscribers(db, [str(i) for i in range(1, 101)], ward=WARD)
    broadcast_id = await _create(db, platforms=("telegram",))
    run_settings = broadcast_settings(settings, telegram=telegram_api, rates={"telegram": 30})
    telegram_api.add_fault(Fault.slow(0.2), method="sendMessage", times=1000)     # sends in flight at the cancel
    async with open_worker(run_settings) as worker:
        task = asyncio.create_task(worker.run(until_idle=True))
        while len(deliveries(telegram_api, exclude=[OFFICIAL_CHAT])) < 20:
            await asyncio.sleep(0.02)
        async with db.sessions.begin() as s:
            assert await outbox.cancel_broadcast(s, broadcast_id, "test", utcnow()) == outbox.CANCELLED_NOW
        cancelled_at = asyncio.get_running_loop().time()
        await asyncio.wait_for(task, 15)
    started_after = [c for c in telegram_api.calls if c.method == "sendMessage" and c.chat_id != OFFICIAL_CHAT
                     and c.at > cancelled_at]
    # PostgreSQL: the cancel waited for the sends in flight and none started after it.
    # SQLite (no lock): a send whose check passed just before the commit may start: one per lane at most.
    assert len(started_after) <= (0 if db.dialect == "postgresql" else run_settings.broadcast.concurrency)
    got = deliveries(telegram_api, exclude=[OFFICIAL_CHAT])
    assert max(got.values()) == 1 and 20 <= len(got) < 80 and set(got) <= set(chats)
    rows = await _rows(db, broadcast_id)
    status = Counter(r.status for r in rows.values())
    assert status["sent"] == len(got) and status["cancelled"] == 100 - len(got)
    # The report may arrive as a new message or as the last edit of the progress message.
    to_official = [c.text for method in ("sendMessage", "editMessageText")
                   for c in telegram_api.calls_to(method, OFFICIAL_CHAT)]
    assert any(t.startswith(f"⛔ Thông báo #1 đã được hủy. Trước khi hủy đã gửi {len(got)}/100.")
               for t in to_official), to_official


async def test_clean_stop_gives_rows_back_and_another_worker_finishes(db, settings, telegram_api):
    chats = await add_subscribers(db, [str(i) for i in range(1, 81)], ward=WARD)
    broadcast_id = await _create(db, platforms=("telegram",), report=None)
    run_settings = broadcast_settings(settings, telegram=telegram_api, rates={"telegram": 40},
                                      lease_seconds=300)
    async with open_worker(run_settings, worker_id="first") as worker:
        task = asyncio.create_task(worker.run())
        while len(deliveries(telegram_api)) < 10:
            await asyncio.sleep(0.02)
        worker.stop()
        await asyncio.wait_for(task, 10)
    rows = await _rows(db, broadcast_id)
    assert not [r for r in rows.values() if r.status == "sending"]          # all given back, no lease to wait for
    assert 10 <= sum(r.status == "sent" for r in rows.values()) < 80
    await _run(broadcast_settings(settings, telegram=telegram_api, rates={"telegram": 0}), worker_id="second")
    assert deliveries(telegram_api) == Counter({c: 1 for c in chats})


async def test_rows_of_a_dead_worker_are_taken_back_after_the_lease(db, settings, telegram_api):
    chats = await add_subscribers(db, [str(i) for i in range(1, 31)], ward=WARD)
    broadcast_id = await _create(db, platforms=("telegram",), report=None)
    await outbox.start_broadcast(db.sessions, broadcast_id, utcnow())
    from datetime import timedelta

    dead = await outbox.claim(db.sessions, "dead-worker", ["telegram"], 12, utcnow(), timedelta(seconds=60))
    assert len(dead) == 12
    # Another worker cannot take them while the lease runs...
    alive = await outbox.claim(db.sessions, "other", ["telegram"], 100, utcnow(), timedelta(seconds=60))
    assert {r.id for r in alive}.isdisjoint({r.id for r in dead}) and len(alive) == 18
    await outbox.release(db.sessions, "other", [r.id for r in alive])
    # ...and does once it has expired.
    # A lease long enough that the live worker's own claims never lapse on a loaded machine.
    await _run(broadcast_settings(settings, telegram=telegram_api, rates={"telegram": 0}, lease_seconds=2.0))
    assert deliveries(telegram_api) == Counter({c: 1 for c in chats})


async def test_rows_in_hand_when_lease_renewal_stalls_are_handed_back(db, settings, telegram_api, monkeypatch):
    """Renewals fail for a while (a database stall): rows the lanes hold then are
    given back and delivered once renewals recover, not kept alive for ever."""
    chats = await add_subscribers(db, [str(500 + i) for i in range(20)], ward=WARD)
    await _create(db, platforms=("telegram",), report=None)
    telegram_api.add_fault(Fault.slow(0.3), method="sendMessage", times=4)
    renew, stalled_until = outbox.renew, asyncio.get_running_loop().time() + 1.5

    async def stalling_renew(*args, **kwargs):
        if asyncio.get_running_loop().time() < stalled_until:
            raise ConnectionError("database unreachable")
        return await renew(*args, **kwargs)

    monkeypatch.setattr(outbox, "renew", stalling_renew)
    worker = await _run(broadcast_settings(settings, telegram=telegram_api, rates={"telegram": 0},
                                           lease_seconds=0.4, concurrency=2, batch_size=5))
    assert deliveries(telegram_api) == Counter({c: 1 for c in chats})
    assert worker.stats.sent == 20


async def test_two_workers_share_one_broadcast_on_postgres(pg_url, tmp_path, telegram_api):
    """Two worker processes' worth of engines on PostgreSQL: SKIP LOCKED splits the rows."""
    from tests.broadcast.helpers import RandomFaultTelegramAPI
    from tests.storage.storage_helpers import make_settings

    db = await fresh_database(pg_url)
    try:
        chats = await add_subscribers(db, [str(10_000 + i) for i in range(1500)], ward=WARD)
        await _create(db, platforms=("telegram",), report=None)
        async with RandomFaultTelegramAPI(rate_limited=0.05, server_errors=0.02) as api:
            settings = broadcast_settings(make_settings(tmp_path, pg_url), telegram=api, rates={"telegram": 0},
                                          batch_size=10, concurrency=4)
            async with open_worker(settings, worker_id="w1") as w1, open_worker(settings, worker_id="w2") as w2:
                await asyncio.wait_for(asyncio.gather(w1.run(until_idle=True), w2.run(until_idle=True)), 60)
            got = deliveries(api)
        assert got == Counter({c: 1 for c in chats})
        assert w1.stats.sent > 200 and w2.stats.sent > 200 and w1.stats.sent + w2.stats.sent == 1500
    finally:
        await db.dispose()


async def test_the_worker_runs_inside_the_bot_and_shares_the_zalo_client(deps, db, db_url, telegram_api, zalo_api):
    """What `civicbot run` starts: messengers, then the worker; stopped in reverse order."""
    from aiohttp import web

    from bot.broadcast.service import BROADCAST_WORKER, start_broadcast_worker
    from bot.channels.messengers import MESSENGERS, Messengers
    from bot.pipeline import Pipeline
    from bot.runner import build_http_app

    if not db_url.startswith("sqlite"):
        pytest.skip("lifecycle wiring; the database does not matter here")
    tg = await add_subscribers(db, ["11", "12", "13"], ward=WARD)
    zl = await add_subscribers(db, ["z11", "z12"], platform="zalo", ward=WARD)
    deps = replace(deps, settings=broadcast_settings(deps.settings, telegram=telegram_api, zalo=zalo_api))
    app = build_http_app()
    Messengers(Pipeline(deps), deps.settings, inbound_options={}).install(app)
    start_broadcast_worker(app, deps.settings)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        worker = app[BROADCAST_WORKER].worker
        assert worker is not None and worker.channels["zalo"] is app[MESSENGERS].channels["zalo"]
        await _create(db, report=("zalo", "z-official"))
        await telegram_api.wait_for("sendMessage", 3, timeout=10)
        for _ in range(200):
            if any(t.startswith("✅") for t in zalo_api.texts_to("z-official")):
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
    assert deliveries(telegram_api) == Counter({c: 1 for c in tg})
    assert Counter(m.user_id for m in zalo_api.sent if m.user_id in zl) == Counter({c: 1 for c in zl})
    assert zalo_api.texts_to("z-official")[-1].startswith("✅ Đã gửi xong thông báo #1.")
    assert worker._stop.is_set()


async def test_a_paused_platform_does_not_hold_the_other(db, settings, telegram_api, zalo_api):
    """Zalo says "limit per minute" (-32): its rows wait a minute, Telegram's go on meanwhile."""
    if db.dialect != "sqlite":
        pytest.skip("about the lanes, not the database")
    tg = await add_subscribers(db, [str(300 + i) for i in range(30)], ward=WARD)
    await add_subscribers(db, [f"zz{i}" for i in range(30)], platform="zalo", ward=WARD)
    zalo_api.inject(None, ZaloFault.zalo(-32))
    broadcast_id = await _create(db, report=None)
    run_settings = broadcast_settings(settings, telegram=telegram_api, zalo=zalo_api, concurrency=2,
                                      rates={"telegram": 0, "zalo": 0})
    async with open_worker(run_settings) as worker:
        task = asyncio.create_task(worker.run())
        await telegram_api.wait_for("sendMessage", 30, timeout=5)
        assert await worker.limiter.paused_for("zalo") > 50
        worker.stop()
        await asyncio.wait_for(task, 5)
    assert deliveries(telegram_api) == Counter({c: 1 for c in tg})
    rows = await _rows(db, broadcast_id)
    zalo_rows = Counter(r.status for r in rows.values() if r.platform == "zalo")
    assert zalo_rows["pending"] >= 29 and zalo_rows["sent"] == len(zalo_api.sent) <= 1   # one lane was in flight
