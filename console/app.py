"""Routes of the officials' console (all under /console, all server-rendered).

    /console/login[/{token}]     sign-in by one-time link (GET shows, POST signs in)
    /console/                    overview: charts, period and ward filters, CSV per chart
    /console/inbox[/{id}]        questions for officials, grouped; answer, publish, close
    /console/feedback            /gopy messages: status, reply
    /console/broadcasts[/{id}]   compose, live count, preview, progress, cancel, report, history
    /console/audit               the audit log (admins)

Who may do what is checked here, server-side, on every route (console/auth.py):
a viewer cannot POST anything but sign-out, an official sees and acts on their
wards only. Data comes through bot/storage/console_repo.py, which masks
personal data and applies the ward scope.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import get_session
from aiohttp_session import setup as setup_session

from bot.broadcast import outbox, texts
from bot.broadcast.schedule import MAX_AHEAD, parse_iso
from bot.channels import registry
from bot.messages import utcnow
from bot.settings import Settings
from bot.storage import Database
from bot.storage import console_repo as repo
from bot.storage.console_models import FEEDBACK_STATUSES
from bot.storage.sql import LOCAL_UTC_OFFSET
from console import auth
from console.charts import days_bars, hbar
from vntext.normalize import clean_input

HERE = Path(__file__).resolve().parent
PERIODS = (7, 30, 90, 365)
# The inbox shows the last 90 days unless asked for more (0: all time): the
# grouping then reads a quarter of a year's questions, not all of them.
INBOX_PERIODS = (30, 90, 365, 0)
INBOX_DAYS = 90
ANSWER_MAX_CHARS = 3000
NOTE_MAX_CHARS = 500
GROUP_LABELS = texts.GROUP_LABELS
QUESTION_STATUS_LABELS = {"new": "Chưa xử lý", "answered": "Đã trả lời", "not_needed": "Không cần trả lời",
                          "duplicate": "Trùng lặp"}
FEEDBACK_STATUS_LABELS = {"new": "Mới", "seen": "Đã xem", "replied": "Đã trả lời"}
DELIVERY_LABELS = {"pending": "đang chờ gửi", "sending": "đang gửi", "sent": "đã gửi tới người dân",
                   "failed": "gửi lỗi", "blocked": "người dân đã chặn bot",
                   "out_of_window": "Zalo không cho gửi: quá 7 ngày người dân chưa nhắn cho OA",
                   "cancelled": "đã hủy"}
AUDIT_LABELS = {"sign_in": "Đăng nhập", "sign_out": "Đăng xuất", "answer": "Trả lời câu hỏi",
                "publish": "Công bố giải đáp", "close": "Đóng câu hỏi", "feedback_reply": "Trả lời góp ý",
                "feedback_status": "Đổi trạng thái góp ý", "broadcast": "Tạo thông báo",
                "broadcast_cancel": "Hủy thông báo", "admin_add": "Thêm cán bộ", "admin_remove": "Gỡ cán bộ",
                "login_link": "Tạo link đăng nhập"}

Publisher = Callable[[Database, Settings, str, str, str | None, str], Awaitable[str]]


async def publish_answer(db: Database, settings: Settings, question: str, answer: str, ward: str | None,
                         by: str) -> str:
    """Publish a question and its answer as a dated document the bot quotes from now on,
    cited "Giải đáp của <cơ quan>, ngày …"; the document's code."""
    from bot import documents
    from bot.search import build_embedder

    today = (utcnow() + LOCAL_UTC_OFFSET).date()
    # Citations add the document's date: "📄 Giải đáp của <cơ quan> … (ngày dd/mm/yyyy)"; the
    # title stays short enough not to be cut in section labels.
    title = f"Giải đáp của {settings.console.agency}"
    embedder = await asyncio.to_thread(build_embedder, settings)     # loading the model must not block the loop
    change = await documents.publish_announcement(
        db, settings, f"Hỏi: {question}\nĐáp: {answer}", issued=today, ward=ward, added_by=by, title=title,
        embedder=embedder)
    return change.document.code


@dataclass
class ConsoleDeps:
    db: Database
    settings: Settings
    clock: Callable[[], datetime] = utcnow
    publish: Publisher = publish_answer
    passage_label: Callable[[str], str] = field(default=lambda passage_id: passage_id)
    # The overview's figures are kept this long per (wards, period, filter): officials
    # reloading the page do not recount a million rows each time. 0: always recount.
    overview_cache_seconds: float = 60.0
    _overview_cache: dict[tuple, tuple[float, repo.Overview]] = field(default_factory=dict, repr=False)

    async def overview(self, scope: repo.Scope, days: int, ward: str | None) -> repo.Overview:
        now = self.clock()
        key = (scope, days, ward, (now + LOCAL_UTC_OFFSET).date())
        cached = self._overview_cache.get(key)
        if cached is not None and cached[0] > now.timestamp():
            return cached[1]
        data = await repo.overview(self.db.sessions, scope, now, days, ward)
        if self.overview_cache_seconds > 0:
            if len(self._overview_cache) > 500:
                self._overview_cache.clear()
            self._overview_cache[key] = (now.timestamp() + self.overview_cache_seconds, data)
        return data


CONSOLE = web.AppKey("console", ConsoleDeps)


def add_routes(app: web.Application, deps: Any) -> None:
    """Mount the console at /console in the bot's HTTP app (``deps``: the bot's Deps)."""
    app.add_subapp("/console", _console_app(_console_deps(deps)))


def create_app(deps: Any) -> web.Application:
    """An HTTP app serving the console alone (no messengers): tests and benchmarks."""
    app = web.Application()
    add_routes(app, deps)
    return app


def _console_deps(deps: Any) -> ConsoleDeps:
    if isinstance(deps, ConsoleDeps):
        return deps
    knowledge = getattr(deps, "knowledge", None)
    sections = {p.id: p.section for p in knowledge.corpus.passages} if knowledge is not None else {}

    def passage_label(passage_id: str) -> str:
        return sections.get(passage_id, passage_id)

    return ConsoleDeps(db=deps.db, settings=deps.settings, clock=deps.clock, passage_label=passage_label)


@web.middleware
async def security_headers(request: web.Request, handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except (web.HTTPForbidden, web.HTTPNotFound, web.HTTPBadRequest) as exc:
        response = _error_page(request, exc.status, exc.text or "")
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                                "frame-ancestors 'none'; form-action 'self'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")     # the sign-in link never leaks
    if not request.path.startswith("/console/static/"):
        response.headers.setdefault("Cache-Control", "no-store")      # pages hold residents' data
    return response


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    if request.path.endswith((".csv", ".json")):
        return web.Response(status=status, text=message)
    title = {403: "Không có quyền", 404: "Không tìm thấy"}.get(status, "Chưa thực hiện được")
    return aiohttp_jinja2.render_template("message.html", request, {"title": title, "message": message},
                                          status=status)


def _console_app(deps: ConsoleDeps) -> web.Application:
    console = web.Application(client_max_size=256 * 1024)
    console[CONSOLE] = deps
    setup_session(console, auth.cookie_storage(deps.settings))
    console.middlewares.append(security_headers)
    console.middlewares.append(auth.guard(deps.settings.console.session_hours * 3600, deps.db.sessions, deps.clock))
    env = aiohttp_jinja2.setup(console, loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                               autoescape=True, context_processors=[_page_context])
    env.filters["local"] = lambda moment: "" if moment is None else (moment + LOCAL_UTC_OFFSET).strftime("%H:%M %d/%m/%Y")
    env.filters["number"] = texts.number
    env.globals.update(platform_label=registry.label, group_labels=GROUP_LABELS,
                       question_status_labels=QUESTION_STATUS_LABELS, feedback_status_labels=FEEDBACK_STATUS_LABELS,
                       delivery_labels=DELIVERY_LABELS, audit_labels=AUDIT_LABELS)
    console.router.add_static("/static/", HERE / "static")
    r = console.router
    r.add_get("/login", login_help)
    r.add_get("/login/{token}", login_confirm)
    r.add_post("/login/{token}", login_submit)
    r.add_post("/logout", logout)
    r.add_get("/", overview_page)
    r.add_get("/overview.csv", overview_csv)
    r.add_get("/inbox", inbox_page)
    r.add_get("/inbox.csv", inbox_csv)
    r.add_get("/inbox/{id:[0-9]{1,12}}", inbox_group_page)
    r.add_post("/inbox/{id:[0-9]{1,12}}/answer", inbox_answer)
    r.add_post("/inbox/{id:[0-9]{1,12}}/publish", inbox_publish)
    r.add_post("/inbox/{id:[0-9]{1,12}}/close", inbox_close)
    r.add_get("/feedback", feedback_page)
    r.add_get("/feedback.csv", feedback_csv)
    r.add_post("/feedback/{id:[0-9]{1,12}}/reply", feedback_reply)
    r.add_post("/feedback/{id:[0-9]{1,12}}/status", feedback_status)
    r.add_get("/broadcasts", broadcasts_page)
    r.add_get("/broadcasts/count.json", broadcast_count)
    r.add_post("/broadcasts", broadcast_create)
    r.add_get("/broadcasts/{id:[0-9]{1,12}}", broadcast_page)
    r.add_get("/broadcasts/{id:[0-9]{1,12}}/progress.json", broadcast_progress)
    r.add_post("/broadcasts/{id:[0-9]{1,12}}/cancel", broadcast_cancel)
    r.add_get("/audit", audit_page)
    r.add_get("/audit.csv", audit_csv)
    return console


async def _page_context(request: web.Request) -> dict[str, Any]:
    officer = request.get(auth.OFFICER)
    csrf = ""
    if officer is not None:
        csrf = (await get_session(request)).get("csrf", "")
    return {"officer": officer, "csrf": csrf, "path": request.path}


def _deps(request: web.Request) -> ConsoleDeps:
    return request.app[CONSOLE]


def _now(request: web.Request) -> datetime:
    return _deps(request).clock()


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    # A BOM so that Excel opens Vietnamese text right.
    return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return min(hi, max(lo, int(value or default)))
    except ValueError:
        return default


def _ward_filter(request: web.Request) -> str | None:
    """The ward asked for in ?ward=, which must be one this official sees."""
    ward = request.query.get("ward") or None
    auth.must_see_ward(auth.officer_of(request), ward)
    return ward


async def _audit(request: web.Request, action: str, target: str | None = None, detail: str | None = None) -> None:
    async with _deps(request).db.sessions.begin() as session:
        await repo.audit(session, auth.officer_of(request).actor, action, _now(request), target, detail)


def _text(value: Any, limit: int) -> str:
    return clean_input(value if isinstance(value, str) else "", max_chars=limit * 2)[: limit + 1]


# -- sign-in ---------------------------------------------------------------------------------------------

LINK_TROUBLE = {
    "used": "Link đăng nhập này đã được dùng. Mỗi link chỉ dùng được một lần: bạn gửi /dangnhap cho bot để nhận link mới nhé.",
    "expired": "Link đăng nhập này đã hết hạn. Bạn gửi /dangnhap cho bot để nhận link mới nhé.",
    "unknown": "Link đăng nhập không hợp lệ. Bạn gửi /dangnhap cho bot để nhận link mới nhé.",
}


@aiohttp_jinja2.template("login.html")
async def login_help(request: web.Request) -> dict[str, Any]:
    return {"expired": "het_han" in request.query}


async def login_confirm(request: web.Request) -> web.StreamResponse:
    """A page with one button: link previews (Telegram fetches them) must not use up the link."""
    async with _deps(request).db.sessions() as session:
        state = await repo.login_link_state(session, request.match_info["token"], _now(request))
    if state != "valid":
        return aiohttp_jinja2.render_template("message.html", request,
                                              {"title": "Không đăng nhập được", "message": LINK_TROUBLE[state]},
                                              status=410 if state != "unknown" else 404)
    return aiohttp_jinja2.render_template("login_confirm.html", request, {"token": request.match_info["token"]})


async def login_submit(request: web.Request) -> web.StreamResponse:
    deps = _deps(request)
    token, now = request.match_info["token"], _now(request)
    async with deps.db.sessions.begin() as session:
        official_id = await repo.redeem_login_link(session, token, now)
        officer = await repo.get_officer(session, official_id) if official_id is not None else None
        if officer is not None:
            await repo.audit(session, officer.actor, "sign_in", now, None, officer.role)
        else:
            state = await repo.login_link_state(session, token, now)
    if officer is None:
        return aiohttp_jinja2.render_template(
            "message.html", request, {"title": "Không đăng nhập được", "message": LINK_TROUBLE.get(state, LINK_TROUBLE["unknown"])},
            status=410)
    await auth.sign_in(request, officer.id, now.timestamp())
    raise web.HTTPSeeOther("/console/")


async def logout(request: web.Request) -> web.StreamResponse:
    await _audit(request, "sign_out")
    await auth.sign_out(request)
    raise web.HTTPSeeOther("/console/login")


# -- overview --------------------------------------------------------------------------------------------

async def _overview(request: web.Request) -> tuple[repo.Overview, int, str | None]:
    officer = auth.officer_of(request)
    days = _int(request.query.get("days"), 30, 1, 366)
    ward = _ward_filter(request)
    return await _deps(request).overview(officer.scope, days, ward), days, ward


def _chart_tables(data: repo.Overview, label: Callable[[str], str]) -> dict[str, tuple[str, list[str], list[list[Any]]]]:
    """Each chart's figures as (title, header, rows): drawn, tabulated and downloaded alike."""
    return {
        "questions": ("Câu hỏi mỗi ngày", ["Ngày", "Trả lời được", "Từ chối"],
                      [[d, a, n] for d, a, n in zip(data.days, data.answered, data.declined)]),
        "sections": ("Phần được hỏi nhiều nhất", ["Phần", "Số câu hỏi"],
                     [[label(p), c] for p, c in data.top_passages]),
        "ratings": ("Đánh giá câu trả lời", ["Ngày", "Hữu ích", "Chưa hữu ích"],
                    [[d, u, n] for d, u, n in zip(data.days, data.ratings_up, data.ratings_down)]),
        "feedback": ("Góp ý theo chủ đề", ["Chủ đề", "Số góp ý"], [[t, c] for t, c in data.feedback_by_topic]),
        "wards": ("Người đăng ký theo phường/xã", ["Phường/xã", "Người đăng ký"],
                  [[w, c] for w, c in data.subscribers_by_ward]),
        "groups": ("Người đăng ký theo nhóm", ["Nhóm", "Người đăng ký"],
                   [[GROUP_LABELS.get(g, g), c] for g, c in data.subscribers_by_group]),
        "quiz": ("Thi tìm hiểu theo chi đoàn", ["Chi đoàn", "Phường/xã", "Số lượt thi", "Điểm trung bình (%)"],
                 [[u, w, c, a] for u, w, c, a in data.quiz_by_unit]),
    }


async def overview_page(request: web.Request) -> web.StreamResponse:
    data, days, ward = await _overview(request)
    tables = _chart_tables(data, _deps(request).passage_label)
    charts = {
        "questions": days_bars("Câu hỏi mỗi ngày", data.days, [("Trả lời được", data.answered), ("Từ chối", data.declined)]),
        "sections": hbar("Phần được hỏi nhiều nhất", [(r[0], r[1]) for r in tables["sections"][2]]),
        "ratings": days_bars("Đánh giá", data.days, [("Hữu ích", data.ratings_up), ("Chưa hữu ích", data.ratings_down)]),
        "feedback": hbar("Góp ý theo chủ đề", data.feedback_by_topic),
        "wards": hbar("Người đăng ký theo phường/xã", data.subscribers_by_ward),
        "groups": hbar("Người đăng ký theo nhóm", [(r[0], r[1]) for r in tables["groups"][2]]),
        "quiz": hbar("Điểm trung bình theo chi đoàn (%)", [(f"{u} – {w}", a) for u, w, _, a in data.quiz_by_unit], "%"),
    }
    officer = auth.officer_of(request)
    context = {"charts": charts, "tables": tables, "days": days, "ward": ward, "periods": PERIODS,
               "wards": repo.allowed_wards(officer.scope, _deps(request).settings.wards),
               "totals": {"questions": sum(data.answered) + sum(data.declined), "declined": sum(data.declined),
                          "up": sum(data.ratings_up), "down": sum(data.ratings_down)}}
    return aiohttp_jinja2.render_template("overview.html", request, context)


async def overview_csv(request: web.Request) -> web.StreamResponse:
    data, days, ward = await _overview(request)
    tables = _chart_tables(data, _deps(request).passage_label)
    chart = request.query.get("chart", "")
    if chart not in tables:
        raise web.HTTPNotFound(text="Không có biểu đồ này.")
    _, header, rows = tables[chart]
    return _csv(f"{chart}-{days}ngay", header, rows)


# -- question inbox ---------------------------------------------------------------------------------------

async def inbox_page(request: web.Request) -> web.StreamResponse:
    officer = auth.officer_of(request)
    status = request.query.get("status", "new")
    status = status if status in QUESTION_STATUS_LABELS else "new"
    order = "newest" if request.query.get("order") == "newest" else "count"
    ward = _ward_filter(request)
    days = _inbox_days(request)
    async with _deps(request).db.sessions.begin() as session:
        groups = await repo.inbox_groups(session, officer.scope, status=status, ward=ward, order=order,
                                         since=repo.period_start(_now(request), days) if days else None)
    return aiohttp_jinja2.render_template("inbox.html", request, {
        "groups": groups, "status": status, "order": order, "ward": ward, "days": days, "periods": INBOX_PERIODS,
        "wards": repo.allowed_wards(officer.scope, _deps(request).settings.wards)})


def _inbox_days(request: web.Request) -> int:
    days = _int(request.query.get("days"), INBOX_DAYS, 0, 3660)
    return days if days in INBOX_PERIODS else INBOX_DAYS


async def inbox_csv(request: web.Request) -> web.StreamResponse:
    officer = auth.officer_of(request)
    status = request.query.get("status", "new")
    ward = _ward_filter(request)
    days = _inbox_days(request)
    async with _deps(request).db.sessions.begin() as session:
        groups = await repo.inbox_groups(session, officer.scope, status=status, ward=ward, limit=1000,
                                         since=repo.period_start(_now(request), days) if days else None)
    return _csv("cau-hoi", ["Câu hỏi (mẫu)", "Số lần hỏi", "Gửi tới cán bộ", "Mới nhất"],
                [[g.sample, g.count, g.asked, g.newest.isoformat()] for g in groups])


async def _group(request: web.Request) -> list[repo.InboxItem]:
    officer = auth.officer_of(request)
    async with _deps(request).db.sessions.begin() as session:
        items = await repo.group_questions(session, officer.scope, int(request.match_info["id"]))
    if not items:
        raise web.HTTPNotFound(text="Không có câu hỏi này (hoặc không thuộc phường/xã bạn phụ trách).")
    return items


async def inbox_group_page(request: web.Request) -> web.StreamResponse:
    items = await _group(request)
    first = next((i for i in items if i.id == int(request.match_info["id"])), items[0])
    return aiohttp_jinja2.render_template("inbox_group.html", request, {
        "items": items, "first": first, "open": [i for i in items if i.status == "new"],
        "notice": request.query.get("ok")})


async def _chosen_questions(request: web.Request, form) -> list:
    """The questions the form names, in this group and in the official's wards."""
    officer = auth.officer_of(request)
    group_ids = {i.id for i in await _group(request)}
    wanted = [int(v) for v in form.getall("q", []) if str(v).isdigit()]
    if not wanted:
        raise web.HTTPBadRequest(text="Bạn chưa chọn câu hỏi nào trong bảng.")
    async with _deps(request).db.sessions() as session:
        return list(await repo.questions_in_scope(session, officer.scope, [i for i in wanted if i in group_ids]))


async def inbox_answer(request: web.Request) -> web.StreamResponse:
    officer = auth.must_act(request)
    form = await request.post()
    answer = _text(form.get("answer"), ANSWER_MAX_CHARS)
    if not answer or len(answer) > ANSWER_MAX_CHARS:
        raise web.HTTPBadRequest(text=f"Câu trả lời cần có nội dung (tối đa {ANSWER_MAX_CHARS} ký tự).")
    chosen = await _chosen_questions(request, form)
    deps = _deps(request)
    async with deps.db.sessions.begin() as session:
        questions = await repo.questions_in_scope(session, officer.scope, [q.id for q in chosen if q.status == "new"])
        created = await repo.answer_questions(session, questions, answer, officer.actor, deps.settings.console.agency,
                                              _now(request))
        await repo.audit(session, officer.actor, "answer", _now(request), f"question:{request.match_info['id']}",
                         f"{len(questions)} câu hỏi; thông báo {', '.join(map(str, created))}")
    raise web.HTTPSeeOther(f"/console/inbox/{request.match_info['id']}?ok=answered")


async def inbox_publish(request: web.Request) -> web.StreamResponse:
    officer = auth.must_act(request)
    form = await request.post()
    answer = _text(form.get("answer"), ANSWER_MAX_CHARS)
    question = _text(form.get("question"), ANSWER_MAX_CHARS)
    if not answer or not question:
        raise web.HTTPBadRequest(text="Cần có câu hỏi và câu trả lời để công bố.")
    items = await _group(request)
    ward = items[0].ward if officer.scope is not None else None
    deps = _deps(request)
    try:
        code = await deps.publish(deps.db, deps.settings, question, answer, ward, officer.actor)
    except ValueError as exc:              # DocumentError: a message for the official
        raise web.HTTPBadRequest(text=str(exc)) from None
    await _audit(request, "publish", f"question:{request.match_info['id']}", f"văn bản {code}")
    raise web.HTTPSeeOther(f"/console/inbox/{request.match_info['id']}?ok=published")


async def inbox_close(request: web.Request) -> web.StreamResponse:
    officer = auth.must_act(request)
    form = await request.post()
    status = form.get("status")
    if status not in ("not_needed", "duplicate"):
        raise web.HTTPBadRequest(text="Trạng thái không hợp lệ.")
    note = _text(form.get("note"), NOTE_MAX_CHARS)[:NOTE_MAX_CHARS]
    chosen = await _chosen_questions(request, form)
    async with _deps(request).db.sessions.begin() as session:
        questions = await repo.questions_in_scope(session, officer.scope, [q.id for q in chosen if q.status == "new"])
        await repo.close_questions(session, questions, status, note, officer.actor, _now(request))
        await repo.audit(session, officer.actor, "close", _now(request), f"question:{request.match_info['id']}",
                         f"{status}: {len(questions)} câu hỏi")
    raise web.HTTPSeeOther(f"/console/inbox/{request.match_info['id']}?ok=closed")


# -- feedback ------------------------------------------------------------------------------------------------

async def _feedback(request: web.Request, limit: int) -> list[repo.FeedbackItem]:
    officer = auth.officer_of(request)
    status = request.query.get("status") or None
    status = status if status in FEEDBACK_STATUSES else None
    async with _deps(request).db.sessions() as session:
        return await repo.feedback_items(session, officer.scope, status=status, ward=_ward_filter(request),
                                         topic=request.query.get("topic") or None, limit=limit)


async def feedback_page(request: web.Request) -> web.StreamResponse:
    officer = auth.officer_of(request)
    return aiohttp_jinja2.render_template("feedback.html", request, {
        "items": await _feedback(request, 100), "status": request.query.get("status", ""),
        "ward": request.query.get("ward"), "wards": repo.allowed_wards(officer.scope, _deps(request).settings.wards)})


async def feedback_csv(request: web.Request) -> web.StreamResponse:
    items = await _feedback(request, 100_000)
    return _csv("gop-y", ["Mã", "Nền tảng", "Chủ đề", "Phường/xã", "Nội dung", "Thời gian", "Trạng thái"],
                [[f.id, registry.label(f.platform), f.topic_label, f.ward or "", f.text, f.created_at.isoformat(),
                  FEEDBACK_STATUS_LABELS.get(f.status, f.status)] for f in items])


async def _feedback_in_scope(request: web.Request) -> int:
    officer = auth.officer_of(request)
    feedback_id = int(request.match_info["id"])
    async with _deps(request).db.sessions() as session:
        if not await repo.feedback_items(session, officer.scope, ids=[feedback_id], limit=1):
            raise web.HTTPNotFound(text="Không có góp ý này (hoặc không thuộc phường/xã bạn phụ trách).")
    return feedback_id


async def feedback_reply(request: web.Request) -> web.StreamResponse:
    officer = auth.must_act(request)
    feedback_id = await _feedback_in_scope(request)
    text = _text((await request.post()).get("reply"), ANSWER_MAX_CHARS)
    if not text or len(text) > ANSWER_MAX_CHARS:
        raise web.HTTPBadRequest(text=f"Nội dung trả lời cần có (tối đa {ANSWER_MAX_CHARS} ký tự).")
    deps = _deps(request)
    async with deps.db.sessions.begin() as session:
        broadcast_id = await repo.reply_feedback(session, officer.scope, feedback_id, text, officer.actor,
                                                 deps.settings.console.agency, _now(request))
        await repo.audit(session, officer.actor, "feedback_reply", _now(request), f"feedback:{feedback_id}",
                         f"thông báo {broadcast_id}")
    raise web.HTTPSeeOther("/console/feedback")


async def feedback_status(request: web.Request) -> web.StreamResponse:
    officer = auth.must_act(request)
    feedback_id = await _feedback_in_scope(request)
    status = (await request.post()).get("status")
    if status not in FEEDBACK_STATUSES:
        raise web.HTTPBadRequest(text="Trạng thái không hợp lệ.")
    async with _deps(request).db.sessions.begin() as session:
        await repo.set_feedback_status(session, feedback_id, status, officer.actor, _now(request))
        await repo.audit(session, officer.actor, "feedback_status", _now(request), f"feedback:{feedback_id}", status)
    raise web.HTTPSeeOther("/console/feedback")


# -- broadcasts ---------------------------------------------------------------------------------------------

def _segment(request: web.Request, values) -> outbox.Segment:
    """The segment a form or query names, inside the official's wards (an official must choose)."""
    officer = auth.officer_of(request)
    known = repo.allowed_wards(officer.scope, _deps(request).settings.wards)
    wards = tuple(w for w in values.getall("ward", []) if w)
    if any(w not in known for w in wards):
        raise web.HTTPForbidden(text="Bạn không phụ trách phường/xã này.")
    if officer.scope is not None and not wards:
        wards = tuple(known)                    # "all" for an official means all of *their* wards
        if not wards:
            raise web.HTTPForbidden(text="Tài khoản chưa được giao phường/xã nào.")
    groups = tuple(g for g in values.getall("group", []) if g in outbox.GROUPS)
    targets = registry.broadcast_targets(_deps(request).settings)
    platforms = tuple(p for p in values.getall("platform", []) if p in targets) or targets
    return outbox.Segment(wards, groups, platforms)


def _visible(officer: repo.Officer, segment: dict[str, Any]) -> bool:
    wards = segment.get("wards") or []
    return officer.scope is None or (bool(wards) and all(w in officer.scope for w in wards))


async def broadcasts_page(request: web.Request) -> web.StreamResponse:
    officer = auth.officer_of(request)
    async with _deps(request).db.sessions() as session:
        history = [b for b in await outbox.list_broadcasts(session, 200)
                   if not (b.segment or {}).get("direct") and _visible(officer, b.segment or {})][:50]
    return aiohttp_jinja2.render_template("broadcasts.html", request, {
        "history": history, "status_labels": texts.STATUS_LABELS,
        "wards": repo.allowed_wards(officer.scope, _deps(request).settings.wards),
        "platforms": [(spec.name, spec.label, spec.limits.text_limit) for spec in registry.PLATFORMS],
        "header": texts.HEADER, "footer": texts.FOOTER, "error": request.query.get("loi")})


async def broadcast_count(request: web.Request) -> web.StreamResponse:
    segment = _segment(request, request.query)
    async with _deps(request).db.sessions() as session:
        count = await outbox.count_recipients(session, segment)
    return web.json_response({"count": count, "text": texts.number(count), "segment": texts.describe_segment(segment)})


async def broadcast_create(request: web.Request) -> web.StreamResponse:
    officer = auth.must_act(request)
    form = await request.post()
    settings = _deps(request).settings
    body = clean_input(form.get("text") if isinstance(form.get("text"), str) else "", max_chars=100_000).strip()
    if not body or len(body) > settings.broadcast.max_text_chars:
        raise web.HTTPBadRequest(text=f"Nội dung cần có, tối đa {settings.broadcast.max_text_chars} ký tự.")
    segment = _segment(request, form)
    now = _now(request)
    when = now
    if form.get("when") == "later":
        try:
            when = parse_iso(str(form.get("at", "")))
        except ValueError:
            raise web.HTTPBadRequest(text="Không đọc được thời điểm gửi (ví dụ: 2026-01-05T08:00).") from None
        if when - now > MAX_AHEAD:
            raise web.HTTPBadRequest(text="Thời điểm gửi xa quá (hơn 60 ngày).")
    async with _deps(request).db.sessions.begin() as session:
        broadcast = await outbox.create_broadcast(session, text=body, segment=segment, created_by=officer.actor,
                                                  scheduled_at=when, now=now)
        await repo.audit(session, officer.actor, "broadcast", now, f"broadcast:{broadcast.id}",
                         texts.describe_segment(segment))
    raise web.HTTPSeeOther(f"/console/broadcasts/{broadcast.id}")


async def _broadcast(request: web.Request):
    officer = auth.officer_of(request)
    async with _deps(request).db.sessions() as session:
        broadcast = await outbox.get_broadcast(session, int(request.match_info["id"]))
        if broadcast is None or (broadcast.segment or {}).get("direct") or not _visible(officer, broadcast.segment or {}):
            raise web.HTTPNotFound(text="Không có thông báo này (hoặc không thuộc phường/xã bạn phụ trách).")
        return broadcast, await outbox.counts(session, broadcast.id)


def _progress(broadcast, c: outbox.Counts) -> dict[str, Any]:
    total = broadcast.total or c.total
    done = c.processed + c.cancelled
    return {"id": broadcast.id, "status": broadcast.status, "status_label": texts.STATUS_LABELS.get(broadcast.status, ""),
            "total": total, "sent": c.sent, "failed": c.failed, "blocked": c.blocked, "out_of_window": c.out_of_window,
            "cancelled": c.cancelled, "pending": c.pending + c.sending,
            "percent": round(100 * done / total) if total else (100 if broadcast.status in ("done", "cancelled") else 0),
            "finished": broadcast.status in ("done", "cancelled")}


async def broadcast_page(request: web.Request) -> web.StreamResponse:
    broadcast, c = await _broadcast(request)
    progress = _progress(broadcast, c)
    seconds = (broadcast.finished_at - broadcast.started_at).total_seconds() \
        if broadcast.finished_at and broadcast.started_at else None
    return aiohttp_jinja2.render_template("broadcast.html", request, {
        "b": broadcast, "p": progress, "segment": texts.describe_segment(outbox.Segment.from_json(broadcast.segment)),
        "report": texts.report_text(broadcast.id, broadcast.status, c, progress["total"], seconds)
        if progress["finished"] else None})


async def broadcast_progress(request: web.Request) -> web.StreamResponse:
    broadcast, c = await _broadcast(request)
    return web.json_response(_progress(broadcast, c))


async def broadcast_cancel(request: web.Request) -> web.StreamResponse:
    officer = auth.must_act(request)
    broadcast, _ = await _broadcast(request)
    async with _deps(request).db.sessions.begin() as session:
        await outbox.cancel_broadcast(session, broadcast.id, officer.actor, _now(request))
        await repo.audit(session, officer.actor, "broadcast_cancel", _now(request), f"broadcast:{broadcast.id}")
    raise web.HTTPSeeOther(f"/console/broadcasts/{broadcast.id}")


# -- audit log -------------------------------------------------------------------------------------------------

async def audit_page(request: web.Request) -> web.StreamResponse:
    auth.must_be_admin(request)
    async with _deps(request).db.sessions() as session:
        entries = await repo.audit_entries(session, 300)
    return aiohttp_jinja2.render_template("audit.html", request, {"entries": entries})


async def audit_csv(request: web.Request) -> web.StreamResponse:
    auth.must_be_admin(request)
    async with _deps(request).db.sessions() as session:
        entries = await repo.audit_entries(session, 100_000)
    return _csv("nhat-ky", ["Thời gian", "Người thực hiện", "Thao tác", "Đối tượng", "Chi tiết"],
                [[e.at.isoformat(), e.actor, AUDIT_LABELS.get(e.action, e.action), e.target or "", e.detail or ""]
                 for e in entries])
