"""Zalo followers outside the 7-day window: the announcement goes out as the
OA's promotion message while the quota lasts; -211 (quota used up) and -213
(not a follower) are reported per reason (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import select

from bot.broadcast import outbox
from bot.broadcast.service import open_worker
from bot.messages import utcnow
from bot.storage.broadcast_models import BroadcastRecipient
from tests.broadcast.helpers import PromotionZaloAPI, add_subscribers, broadcast_settings


async def test_outside_the_window_promotion_within_quota_and_reasons_reported(db, settings):
    strangers = await add_subscribers(db, ["gone1", "gone2"], platform="zalo")
    inside = await add_subscribers(db, [f"in{i}" for i in range(5)], platform="zalo")
    outside = await add_subscribers(db, [f"out{i}" for i in range(8)], platform="zalo")
    async with PromotionZaloAPI(quota=5, non_followers=strangers) as api:
        api.out_of_window.update(outside + strangers)
        async with db.sessions.begin() as s:
            b = await outbox.create_broadcast(
                s, text="Lịch tiêm chủng tháng 12\nTrạm y tế phường mở cửa từ 7:30.", photo_url="https://x.vn/a.jpg",
                segment=outbox.Segment(platforms=("zalo",)), created_by="test", scheduled_at=utcnow(),
                now=utcnow(), report_platform="zalo", report_chat_id="boss")
        run = broadcast_settings(settings, zalo=api, rates={"zalo": 0}, concurrency=1)   # rows in order
        async with open_worker(run) as worker:
            await asyncio.wait_for(worker.run(until_idle=True), 30)

        customer_service = Counter(m.user_id for m in api.sent if m.user_id != "boss")
        promoted = Counter(user for user, _ in api.promotions)
        report = api.texts_to("boss")[-1]
    assert customer_service == Counter({u: 1 for u in inside})
    # Quota 5: five followers outside the window got the promotion, once each; never a stranger.
    assert len(promoted) == 5 and set(promoted) <= set(outside) and max(promoted.values()) == 1
    _, payload = api.promotions[0]
    assert payload["template_type"] == "promotion"
    assert payload["elements"][0] == {"type": "banner", "image_url": "https://x.vn/a.jpg"}
    assert payload["elements"][1]["content"].startswith("📢 THÔNG BÁO")
    async with db.sessions() as s:
        statuses = Counter((await s.scalars(select(BroadcastRecipient.status)
                                            .where(BroadcastRecipient.broadcast_id == b.id))).all())
        c = await outbox.counts(s, b.id)
    assert statuses == Counter(sent=10, no_quota=3, not_follower=2)
    assert (c.sent, c.promoted, c.no_quota, c.not_follower) == (10, 5, 3, 2)
    # Once Zalo said -211, no more promotion requests were made.
    assert [code for _, code in api.promotion_answers].count(-211) == 1
    for line in ("Gửi thành công: 10", "qua tin truyền thông Zalo (quá 7 ngày chưa tương tác): 5",
                 "OA đã hết hạn mức tin truyền thông: 3", "không còn quan tâm OA: 2"):
        assert line in report, (line, report)
