"""The console's pages in real Chromium: charts with the seeded numbers, the question
inbox answered end to end (the fake Telegram and Zalo servers receive the answers),
publishing, feedback, a broadcast from compose to report with its progress bar
moving, and the audit log. Screenshots of the main pages go to docs/screenshots/."""

from __future__ import annotations

import csv
import io
import re

from playwright.sync_api import expect
from sqlalchemy import select

from bot.storage.console_models import AuditEntry, FeedbackState
from bot.storage.models import InboxQuestion
from tests.console.helpers import WARD_A, WARD_B, RunningWorker
from tests.console.test_console_access import sign_in

PHONE = {"width": 390, "height": 844}


def seed_overview(server) -> None:
    a = server.resident("r1", WARD_A, groups=("cu_dan", "doan_vien"), chi_doan="Chi đoàn khu 1")
    b = server.resident("r2", WARD_B, groups=("can_bo",))
    server.resident("r3", WARD_A, platform="zalo")
    # Today (20/11): 3 answered, 2 declined in ward A; yesterday 1 answered (👎); ward B: 4 answered today.
    server.answers(a, WARD_A, [(0, True, 1, "nq05-p1"), (0, True, 1, "nq05-p1"), (0, True, None, "nq05-p2"),
                               (0, False, None, None), (0, False, None, None), (1, True, -1, "nq05-p1"),
                               (45, True, None, "nq05-p3")])
    server.answers(b, WARD_B, [(0, True, None, "nq05-p2")] * 4)
    server.feedback(a, "Đề nghị thêm đèn đường", WARD_A, "tieuchi:1", "Tiêu chí 1")
    server.feedback(a, "Cảm ơn cán bộ", WARD_A)
    server.feedback(b, "Góp ý của Hồng Bàng", WARD_B)


def test_overview_charts_show_the_seeded_numbers(page, server, screenshot):
    seed_overview(server)
    sign_in(page, server, server.official("100", "admin"))
    page.goto(server.url + "/console/?days=7")
    today = page.locator('#chart-questions g.day[data-day="2026-11-20"]')
    assert today.get_attribute("data-total") == "9"
    assert today.locator('rect[data-series="Từ chối"]').get_attribute("data-value") == "2"
    assert page.locator('#chart-questions g.day[data-day="2026-11-19"]').get_attribute("data-total") == "1"
    expect(page.locator("#kpi-questions")).to_have_text("10")
    expect(page.locator("#kpi-declined")).to_have_text("2")
    wards = page.locator("#chart-wards g.bar")
    assert {(wards.nth(i).get_attribute("data-label"), wards.nth(i).get_attribute("data-value"))
            for i in range(wards.count())} == {(WARD_A, "2"), (WARD_B, "1")}
    assert page.locator('#chart-groups g.bar[data-label="Đoàn viên"]').get_attribute("data-value") == "1"
    assert page.locator('#chart-quiz').count() == 1
    screenshot(page, "tong-quan")
    page.set_viewport_size(PHONE)
    screenshot(page, "tong-quan-dien-thoai")

    rows = list(csv.reader(io.StringIO(page.request.get(
        server.url + "/console/overview.csv?chart=questions&days=7").text().lstrip("\ufeff"))))
    assert rows[0] == ["Ngày", "Trả lời được", "Từ chối"]
    assert rows[-1] == ["2026-11-20", "7", "2"] and rows[-2] == ["2026-11-19", "1", "0"]
    ratings = page.request.get(server.url + "/console/overview.csv?chart=ratings&days=7").text()
    assert "2026-11-20,2,0" in ratings and "2026-11-19,0,1" in ratings

    # The ward filter and an official's own scope give the same, smaller figures.
    page.goto(server.url + f"/console/?days=7&ward={WARD_A}")
    assert page.locator('#chart-questions g.day[data-day="2026-11-20"]').get_attribute("data-total") == "5"


def test_answering_residents_reaches_them_in_their_messenger(page, server, screenshot):
    worker = RunningWorker(server)
    try:
        tg = server.resident("4001", WARD_A)
        zl = server.resident("z-77", WARD_A, platform="zalo")
        server.question(tg, "Thủ tục cấp giấy phép xây dựng nhà ở?", WARD_A, chat_id="4001", origin="asked")
        server.question(zl, "thu tuc cap giay phep xay dung nha o", WARD_A, platform="zalo", chat_id="z-77",
                        days_ago=1)
        other = server.question(tg, "Có tổ chức hội chợ không?", WARD_A, chat_id="4001")
        worker.zalo.out_of_window.add("z-77")
        sign_in(page, server, server.official("300", "official", (WARD_A,)))
        page.goto(server.url + "/console/inbox")
        first = page.locator("ol.groups li").first
        expect(first.locator(".count")).to_have_text("2")
        screenshot(page, "hop-thu-cau-hoi")
        first.locator("a").click()
        expect(page.locator("table.questions tbody tr")).to_have_count(2)
        page.fill("#answer", "Hồ sơ nộp tại bộ phận một cửa UBND phường, giải quyết trong 15 ngày.")
        page.click("#send-answer")
        expect(page.locator("[role=status]")).to_contain_text("Đã gửi câu trả lời")

        server.run(worker.telegram.wait_for("sendMessage", 1, chat_id="4001"))
        delivered = worker.telegram.texts("4001")
        assert delivered == ["Trả lời câu hỏi của bạn: «Thủ tục cấp giấy phép xây dựng nhà ở?»\n\n"
                             "Hồ sơ nộp tại bộ phận một cửa UBND phường, giải quyết trong 15 ngày.\n\n"
                             "— UBND thành phố Hải Phòng"]
        # Zalo refuses the resident outside its 7-day window: the page says so.
        for _ in range(100):
            page.reload()
            if page.locator(".delivery-out_of_window").count() and page.locator(".delivery-sent").count():
                break
            page.wait_for_timeout(100)
        expect(page.locator(".delivery-sent")).to_have_text("đã gửi tới người dân")
        expect(page.locator(".delivery-out_of_window")).to_contain_text("quá 7 ngày")
        screenshot(page, "tra-loi-cau-hoi")
        statuses = server.scalars(select(InboxQuestion.status).order_by(InboxQuestion.id))
        assert statuses == ["answered", "answered", "new"]
        assert server.scalar(select(InboxQuestion.answered_by).where(InboxQuestion.id == 1)) == "telegram:300"
        assert worker.zalo.sent == []
        assert server.scalar(select(InboxQuestion.status).where(InboxQuestion.id == other)) == "new"
    finally:
        worker.close()


def test_publish_and_close_from_the_inbox(page, server):
    resident = server.resident("4001", WARD_A)
    question = server.question(resident, "Phường có tổ chức hội chợ việc làm không?", WARD_A, chat_id="4001")
    duplicate = server.question(resident, "Khi nào họp tổ dân phố?", WARD_A, chat_id="4001")
    sign_in(page, server, server.official("300", "official", (WARD_A,)))
    page.goto(f"{server.url}/console/inbox/{question}")
    page.fill("#answer", "Có, vào tháng 12 tại nhà văn hóa phường.")
    page.click("#publish-answer")
    expect(page.locator("[role=status]")).to_contain_text("Đã công bố")
    assert server.published == [("Phường có tổ chức hội chợ việc làm không?",
                                 "Có, vào tháng 12 tại nhà văn hóa phường.", WARD_A)]
    page.goto(f"{server.url}/console/inbox/{duplicate}")
    page.fill("#note", "Đã trả lời trong buổi họp")
    page.click("button[value=duplicate]")
    expect(page.locator("[role=status]")).to_contain_text("Đã đóng")
    expect(page.locator("main")).to_contain_text("Ghi chú: Đã trả lời trong buổi họp")
    assert server.scalar(select(InboxQuestion.status).where(InboxQuestion.id == duplicate)) == "duplicate"
    assert server.scalars(select(AuditEntry.action).order_by(AuditEntry.id)) == ["sign_in", "publish", "close"]


def test_feedback_inbox_status_and_reply(page, server, screenshot):
    worker = RunningWorker(server)
    try:
        resident = server.resident("4002", WARD_A)
        first = server.feedback(resident, "Đề nghị lắp thêm đèn ở ngõ 12", WARD_A, "tieuchi:2", "Tiêu chí 2")
        second = server.feedback(resident, "Cảm ơn các anh chị", WARD_A)
        sign_in(page, server, server.official("300", "official", (WARD_A,)))
        page.goto(server.url + "/console/feedback")
        expect(page.locator(".status-new")).to_have_count(2)
        card = page.locator(f'article[data-id="{second}"]')
        card.locator("summary").click()
        card.locator("text=Đánh dấu đã xem").click()
        expect(page.locator(f'article[data-id="{second}"] .status')).to_have_text("Đã xem")
        card = page.locator(f'article[data-id="{first}"]')
        card.locator("summary").click()
        card.locator("textarea").fill("Phường sẽ lắp đèn trong tháng này. Cảm ơn bạn!")
        card.locator("text=Gửi trả lời").click()
        expect(page.locator(f'article[data-id="{first}"] .status')).to_have_text("Đã trả lời")
        server.run(worker.telegram.wait_for("sendMessage", 1, chat_id="4002"))
        assert "Phường sẽ lắp đèn trong tháng này" in worker.telegram.texts("4002")[0]
        page.reload()
        screenshot(page, "gop-y")
        states = dict(server.query(lambda s: _pairs(s, select(FeedbackState.feedback_id, FeedbackState.status))))
        assert states == {first: "replied", second: "seen"}
        body = page.request.get(server.url + "/console/feedback.csv?status=replied").text()
        assert "Đề nghị lắp thêm đèn" in body and "Cảm ơn các anh chị" not in body
    finally:
        worker.close()


async def _pairs(session, statement):
    return (await session.execute(statement)).all()


def test_a_broadcast_from_compose_to_report(page, server, screenshot):
    worker = RunningWorker(server, rates={"telegram": 4.0})
    try:
        for i in range(12):
            server.resident(f"50{i:02d}", WARD_A, groups=("doan_vien",) if i % 2 else ("cu_dan",))
        server.resident("6000", WARD_B)
        sign_in(page, server, server.official("100", "admin"))
        page.goto(server.url + "/console/broadcasts")
        expect(page.locator("#recipient-count")).to_have_text("13")
        page.check(f'input[name=ward][value="{WARD_A}"]')
        expect(page.locator("#recipient-count")).to_have_text("12")
        page.check('input[name=group][value="doan_vien"]')
        expect(page.locator("#recipient-count")).to_have_text("6")
        page.uncheck('input[name=group][value="doan_vien"]')
        page.fill("#text", "Mời bà con dự họp tổ dân phố lúc 19h thứ Bảy.")
        expect(page.locator(".preview-telegram .preview-text")).to_have_text("Mời bà con dự họp tổ dân phố lúc 19h thứ Bảy.")
        expect(page.locator(".preview-zalo .chars")).to_contain_text("/2000 ký tự")
        screenshot(page, "soan-thong-bao")
        page.click("#send-broadcast")
        expect(page).to_have_url(re.compile(r"/console/broadcasts/\d+$"))
        seen = set()
        while page.locator("#report").count() == 0:
            try:
                seen.add(page.evaluate("document.getElementById('bar').value"))
            except Exception:                  # the page reloading with the report
                pass
            page.wait_for_timeout(150)
        assert any(0 < value < 100 for value in seen), seen
        expect(page.locator("#report")).to_contain_text("Gửi thành công: 12")
        assert page.evaluate("document.getElementById('bar').value") == 100
        screenshot(page, "bao-cao-thong-bao")
        assert len({c.chat_id for c in worker.telegram.calls_to("sendMessage")}) == 12
        page.goto(server.url + "/console/broadcasts")
        expect(page.locator("table tbody tr").first).to_contain_text("12/12")
        page.goto(server.url + "/console/audit")
        expect(page.locator("main")).to_contain_text("Tạo thông báo")
        screenshot(page, "nhat-ky")
        assert "Tạo thông báo" in page.request.get(server.url + "/console/audit.csv").text()
    finally:
        worker.close()


def test_a_scheduled_broadcast_can_be_cancelled(page, server):
    server.resident("5001", WARD_A)
    sign_in(page, server, server.official("100", "admin"))
    page.goto(server.url + "/console/broadcasts")
    page.fill("#text", "Lịch tiêm phòng tháng sau.")
    page.check("input[name=when][value=later]")
    page.fill("input[name=at]", "2026-12-01T08:00")
    page.click("#send-broadcast")
    expect(page.locator("#status")).to_have_text("đã lên lịch")
    page.click("#cancel")
    expect(page.locator("#status")).to_have_text("đã hủy")
    expect(page.locator("#report")).to_contain_text("đã được hủy")


def test_the_overview_is_recounted_after_a_minute(page, server):
    resident = server.resident("r1", WARD_A)
    server.answers(resident, WARD_A, [(0, True, None, "p1")])
    sign_in(page, server, server.official("100", "admin"))
    expect(page.locator("#kpi-questions")).to_have_text("1")
    server.answers(resident, WARD_A, [(0, False, None, None)])
    page.reload()
    expect(page.locator("#kpi-questions")).to_have_text("1")          # kept for 60 s
    server.clock.advance(seconds=61)
    page.reload()
    expect(page.locator("#kpi-questions")).to_have_text("2")
    expect(page.locator("#kpi-declined")).to_have_text("1")
