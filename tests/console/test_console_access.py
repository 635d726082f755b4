"""Sign-in by one-time link, sessions, CSRF and role limits, in real Chromium.

Every console route is checked: without a session (redirect to sign-in for
pages, 401 for CSV/JSON/POST), with the wrong role (403), and an official
never sees another ward's questions, feedback or broadcasts in a page, a CSV
or a JSON answer.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bot.storage.console_models import AuditEntry
from bot.storage.models import InboxQuestion
from tests.console.helpers import WARD_A, WARD_B

PAGES = ["/console/", "/console/inbox", "/console/feedback", "/console/broadcasts", "/console/audit"]
DATA = ["/console/overview.csv?chart=questions", "/console/inbox.csv", "/console/feedback.csv",
        "/console/broadcasts/count.json", "/console/audit.csv", "/console/broadcasts/1/progress.json"]
POSTS = ["/console/inbox/1/answer", "/console/inbox/1/publish", "/console/inbox/1/close", "/console/feedback/1/reply",
         "/console/feedback/1/status", "/console/broadcasts", "/console/broadcasts/1/cancel", "/console/logout"]


def sign_in(page, server, official_id: int) -> None:
    page.goto(server.login_link(official_id))
    page.click("#sign-in")
    expect(page.locator("h1")).to_have_text("Tổng quan")


def csrf_of(page) -> str:
    return page.locator("input[name=csrf]").first.get_attribute("value")


def test_a_link_signs_in_once_and_then_is_refused(page, server, screenshot):
    official = server.official("100", "admin")
    link = server.login_link(official)
    page.goto(link)
    screenshot(page, "dang-nhap")
    page.click("#sign-in")
    expect(page.locator("h1")).to_have_text("Tổng quan")
    cookie = next(c for c in page.context.cookies() if c["name"] == "civicbot_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert server.scalars(select(AuditEntry.action)) == ["sign_in"]

    other = page.context.browser.new_context()
    try:
        second = other.new_page()
        second.goto(link)
        expect(second.locator("main")).to_contain_text("đã được dùng")
        assert second.locator("#sign-in").count() == 0
    finally:
        other.close()


def test_an_expired_link_is_refused(page, server):
    link = server.login_link(server.official("100", "admin"))
    server.clock.advance(minutes=server.settings.console.login_link_minutes + 1)
    response = page.goto(link)
    assert response.status == 410
    expect(page.locator("main")).to_contain_text("hết hạn")


def test_an_expired_link_cannot_be_posted_either(page, server):
    link = server.login_link(server.official("100", "admin"))
    page.goto(link)                        # the page with the button, while still valid
    server.clock.advance(minutes=11)
    page.click("#sign-in")
    expect(page.locator("main")).to_contain_text("hết hạn")
    assert page.goto(server.url + "/console/").url.endswith("/console/login")


def test_sign_out_and_session_expiry(page, server):
    official = server.official("100", "admin")
    sign_in(page, server, official)
    page.click("text=Đăng xuất")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    assert page.goto(server.url + "/console/inbox").url.endswith("/console/login")

    sign_in(page, server, official)
    server.clock.advance(hours=server.settings.console.session_hours, minutes=1)
    page.goto(server.url + "/console/inbox")
    expect(page).to_have_url(re.compile(r"/console/login\?het_han=1$"))
    expect(page.locator("main")).to_contain_text("hết hạn")


def test_removing_an_official_ends_their_session(page, server):
    from bot.storage import repo

    sign_in(page, server, server.official("100", "official", (WARD_A,)))

    async def remove(session):
        await repo.remove_official(session, "telegram", "100")
        await session.commit()
    server.query(remove)
    assert page.goto(server.url + "/console/").url.endswith("/console/login?het_han=1")


def test_every_route_needs_a_session(page, server):
    for path in PAGES:
        response = page.request.get(server.url + path, max_redirects=0)
        assert response.status == 302 and response.headers["location"].startswith("/console/login"), path
    for path in DATA:
        assert page.request.get(server.url + path, max_redirects=0).status == 401, path
    for path in POSTS:
        assert page.request.post(server.url + path, form={"csrf": "x"}, max_redirects=0).status == 401, path


def test_posts_without_the_csrf_token_are_refused(page, server):
    sign_in(page, server, server.official("100", "admin"))
    resident = server.resident("r1", WARD_A)
    question = server.question(resident, "Hồ sơ nộp ở đâu?", WARD_A, chat_id="r1")
    page.goto(f"{server.url}/console/inbox/{question}")
    for form in ({"answer": "Tại bộ phận một cửa.", "q": str(question)},
                 {"answer": "Tại bộ phận một cửa.", "q": str(question), "csrf": "sai"}):
        response = page.request.post(f"{server.url}/console/inbox/{question}/answer", form=form, max_redirects=0)
        assert response.status == 403
    assert page.request.post(server.url + "/console/logout", max_redirects=0).status == 403
    assert server.scalar(select(InboxQuestion.status)) == "new"
    # The same request with the page's token goes through.
    response = page.request.post(f"{server.url}/console/inbox/{question}/answer",
                                 form={"answer": "Tại bộ phận một cửa.", "q": str(question), "csrf": csrf_of(page)},
                                 max_redirects=0)
    assert response.status == 303
    assert server.scalar(select(InboxQuestion.status)) == "answered"


def test_a_viewer_reads_but_cannot_post(page, server):
    resident = server.resident("r1", WARD_A)
    question = server.question(resident, "Hồ sơ nộp ở đâu?", WARD_A, chat_id="r1")
    feedback = server.feedback(resident, "Cần thêm chỗ để xe", WARD_A)
    sign_in(page, server, server.official("200", "viewer"))
    page.goto(f"{server.url}/console/inbox/{question}")
    expect(page.locator("main")).to_contain_text("Hồ sơ nộp ở đâu?")
    assert page.locator("#send-answer").count() == 0
    page.goto(server.url + "/console/broadcasts")
    assert page.locator("#compose").count() == 0
    token = csrf_of(page)
    for path, form in ((f"/console/inbox/{question}/answer", {"answer": "x", "q": str(question)}),
                       (f"/console/inbox/{question}/publish", {"answer": "x", "question": "y"}),
                       (f"/console/inbox/{question}/close", {"status": "duplicate", "q": str(question)}),
                       (f"/console/feedback/{feedback}/reply", {"reply": "x"}),
                       (f"/console/feedback/{feedback}/status", {"status": "seen"}),
                       ("/console/broadcasts", {"text": "Thông báo"})):
        response = page.request.post(server.url + path, form={**form, "csrf": token}, max_redirects=0)
        assert response.status == 403, path
    assert page.request.get(server.url + "/console/audit", max_redirects=0).status == 403
    assert page.request.get(server.url + "/console/audit.csv", max_redirects=0).status == 403
    assert server.scalar(select(InboxQuestion.status)) == "new"
    assert server.published == []


def test_an_official_sees_and_acts_on_their_wards_only(page, server):
    mine = server.resident("r1", WARD_A)
    theirs = server.resident("r2", WARD_B)
    server.question(mine, "Giờ làm việc của phường?", WARD_A, chat_id="r1")
    other_q = server.question(theirs, "Bí mật của phường khác?", WARD_B, chat_id="r2")
    server.feedback(mine, "Đường ngõ 5 tối", WARD_A)
    other_f = server.feedback(theirs, "Góp ý phường khác", WARD_B)
    server.official("900", "admin")
    sign_in(page, server, server.official("300", "official", (WARD_A,)))

    for path in ("/console/inbox", "/console/feedback", "/console/", "/console/broadcasts"):
        page.goto(server.url + path)
        text = page.locator("main").inner_text()
        assert "phường khác" not in text.lower(), path
        assert WARD_B not in text, path
    expect(page.locator("#recipient-count")).to_have_text("1")
    for path in ("/console/inbox.csv", "/console/feedback.csv", "/console/overview.csv?chart=wards",
                 "/console/broadcasts/count.json"):
        body = page.request.get(server.url + path).text()
        assert "phường khác" not in body.lower() and WARD_B not in body, path
    assert page.request.get(server.url + "/console/broadcasts/count.json").json()["count"] == 1

    assert page.request.get(f"{server.url}/console/inbox/{other_q}", max_redirects=0).status == 404
    for path in ("/console/?ward=" + WARD_B, "/console/inbox.csv?ward=" + WARD_B,
                 "/console/broadcasts/count.json?ward=" + WARD_B, "/console/audit"):
        assert page.request.get(server.url + path, max_redirects=0).status == 403, path
    token = csrf_of(page)
    refused = [
        (f"/console/inbox/{other_q}/answer", {"answer": "x", "q": str(other_q)}, 404),
        (f"/console/feedback/{other_f}/reply", {"reply": "x"}, 404),
        ("/console/broadcasts", {"text": "Thông báo", "ward": WARD_B}, 403),
    ]
    for path, form, status in refused:
        assert page.request.post(server.url + path, form={**form, "csrf": token}, max_redirects=0).status == status
    # "All wards" from an official means all of theirs.
    response = page.request.post(server.url + "/console/broadcasts", form={"text": "Họp tổ dân phố", "csrf": token},
                                 max_redirects=0)
    assert response.status == 303
    from bot.storage.broadcast_models import Broadcast
    from bot.channels import registry
    assert server.scalars(select(Broadcast.segment)) == [{
        "wards": [WARD_A], "groups": [], "platforms": list(registry.broadcast_targets(server.settings))}]


def test_what_residents_typed_is_escaped_and_masked(page, server):
    resident = server.resident("r1", WARD_A)
    question = server.question(resident, '<script>window.hacked=1</script><b>đậm</b> gọi 0912 345 678', WARD_A,
                               chat_id="r1")
    server.feedback(resident, '<img src=x onerror="window.hacked=1"> email a.b@example.com', WARD_A)
    sign_in(page, server, server.official("100", "admin"))
    for path in (f"/console/inbox/{question}", "/console/inbox", "/console/feedback"):
        page.goto(server.url + path)
        text = page.locator("main").inner_text()
        assert page.evaluate("window.hacked") is None
        assert "0912" not in text and "a.b@example.com" not in text
    page.goto(f"{server.url}/console/inbox/{question}")
    expect(page.locator("main")).to_contain_text("<script>window.hacked=1</script><b>đậm</b> gọi [số điện thoại]")
    assert page.locator("main b").count() == 0
    assert "0912" not in page.request.get(server.url + "/console/inbox.csv").text()
    assert "example.com" not in page.request.get(server.url + "/console/feedback.csv").text()


@pytest.mark.parametrize("path", ["/console/login/" + "x" * 40, "/console/login/" + "y" * 300])
def test_a_made_up_link_is_refused(page, server, path):
    response = page.goto(server.url + path)
    assert response.status in (404, 410)
    assert page.locator("#sign-in").count() == 0
