"""Official-only views: /thongke and /dangnhap (hidden) and the buttons under it.

Every handler here checks the officials table, server-side, before doing
anything; button data is never trusted to say who someone is. A resident
who types the command or presses an official's button (forwarded, replayed,
hand-made) gets a polite refusal and nothing changes. Officials are added
with `civicbot admin add PLATFORM USER_ID`.
"""

from __future__ import annotations

import re

from bot.deps import Turn
from bot.messages import Button, Incoming, Reply, short_label
from bot.router import Router
from bot.storage import console_repo, repo, transaction
from bot.storage.sql import LOCAL_UTC_OFFSET
from bot.storage.stats import collect, format_stats
from handlers.forms import INVALID_BUTTON
from vntext.pii import mask_personal_data

router = Router()

PREFIX = "adm"
LIST_LIMIT = 5
STATS_DAYS = 7
QUOTE_CHARS = 300

REFUSAL = (
    "Xin lỗi, chức năng này chỉ dành cho cán bộ phụ trách. "
    "Nếu bạn là cán bộ, bạn vui lòng liên hệ quản trị viên để được cấp quyền."
)
VIEWER_REFUSAL = "Tài khoản của bạn chỉ có quyền xem, không đánh dấu được câu hỏi."
NO_FEEDBACK = "Chưa có góp ý nào."
NO_UNANSWERED = "Không có câu hỏi nào đang chờ xử lý."
RESOLVED = "Đã đánh dấu câu hỏi #{id} là đã xử lý."
NOT_OPEN = "Câu hỏi #{id} không còn trong danh sách chờ (có thể đã được xử lý trước đó)."
LOGIN_LINK = (
    "Link đăng nhập trang cán bộ (chỉ dùng một lần, hết hạn sau {minutes} phút):\n{url}\n\n"
    "Bạn không chuyển link này cho người khác nhé."
)

LOGIN_IN_GROUP = "Bạn nhắn /dangnhap trong cuộc trò chuyện riêng với bot nhé: link đăng nhập không gửi vào nhóm."


def login_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/console/login/{token}"


def _menu() -> list[Button]:
    return [Button("📝 Góp ý mới nhất", f"{PREFIX}:fb"), Button("❓ Câu hỏi chưa trả lời", f"{PREFIX}:un")]


def _clip(text: str) -> str:
    """What an official sees of a resident's text: personal data masked, cut at a word boundary."""
    return short_label(mask_personal_data(text), QUOTE_CHARS)


@router.command("thongke", "Thống kê (dành cho cán bộ)", hidden=True)
async def show_stats(msg: Incoming, turn: Turn) -> list[Reply]:
    """Thống kê câu hỏi, đánh giá và góp ý (dành cho cán bộ)."""
    async with transaction(turn) as session:
        if await repo.official_role(session, msg.platform, msg.user_id) is None:
            return [Reply(REFUSAL)]
        stats = await collect(session, turn.deps.clock(), days=STATS_DAYS)
    return [Reply.with_buttons(format_stats(stats, top=LIST_LIMIT), _menu())]


@router.command("dangnhap", "Đăng nhập trang cán bộ (dành cho cán bộ)", hidden=True)
async def send_login_link(msg: Incoming, turn: Turn) -> list[Reply]:
    """A one-time link to the officials' web console, for someone in the officials list."""
    if msg.chat_id.startswith("-"):          # a Telegram group: the link would be seen by all
        return [Reply(LOGIN_IN_GROUP)]
    minutes = turn.deps.settings.console.login_link_minutes
    async with transaction(turn) as session:
        officer = await console_repo.officer_by_account(session, msg.platform, msg.user_id)
        if officer is None:
            return [Reply(REFUSAL)]
        token = await console_repo.create_login_link(session, officer.id, turn.deps.clock(), minutes)
        await console_repo.audit(session, officer.actor, "login_link", turn.deps.clock(), None, "qua tin nhắn")
    return [Reply(LOGIN_LINK.format(minutes=minutes, url=login_url(turn.deps.settings.console.public_url, token)))]


@router.button(PREFIX)
async def on_button(msg: Incoming, turn: Turn) -> list[Reply]:
    """Buttons "adm:fb", "adm:un", "adm:done:<question id>" (officials only)."""
    async with transaction(turn) as session:
        role = await repo.official_role(session, msg.platform, msg.user_id)
        if role is None:
            return [Reply(REFUSAL)]
        action = (msg.callback_data or "").partition(":")[2]
        if action == "fb":
            return [_feedback_list(await repo.latest_feedback(session, LIST_LIMIT))]
        if action == "un":
            return [_unanswered_list(await repo.open_unanswered(session, LIST_LIMIT))]
        match = re.fullmatch(r"done:([0-9]{1,12})", action)
        if match:
            if role == "viewer":                 # read-only accounts list, they do not close
                return [Reply(VIEWER_REFUSAL)]
            question_id = int(match.group(1))
            done = await repo.resolve_unanswered(session, question_id, turn.deps.clock())
            return [Reply((RESOLVED if done else NOT_OPEN).format(id=question_id))]
    return [Reply(INVALID_BUTTON)]


def _feedback_list(rows) -> Reply:
    if not rows:
        return Reply.with_buttons(NO_FEEDBACK, _menu())
    lines = [f"{len(rows)} góp ý mới nhất:"]
    for f in rows:
        when = (f.created_at + LOCAL_UTC_OFFSET).strftime("%d/%m/%Y %H:%M")
        lines.append(f"\n#{f.id} • {f.topic_label} • {f.ward or 'chưa rõ phường/xã'} • {when}\n«{_clip(f.text)}»")
    return Reply.with_buttons("\n".join(lines), _menu())


def _unanswered_list(rows) -> Reply:
    if not rows:
        return Reply.with_buttons(NO_UNANSWERED, _menu())
    lines = [f"{len(rows)} câu hỏi chưa trả lời được gần đây:"]
    for q in rows:
        when = (q.created_at + LOCAL_UTC_OFFSET).strftime("%d/%m/%Y %H:%M")
        lines.append(f"\n#{q.id} • {q.ward or 'chưa rõ phường/xã'} • {when}\n«{_clip(q.question)}»")
    done = [Button(f"✅ Đã xử lý #{q.id}", f"{PREFIX}:done:{q.id}") for q in rows]
    return Reply.with_buttons("\n".join(lines), *[done[i: i + 2] for i in range(0, len(done), 2)], _menu())
