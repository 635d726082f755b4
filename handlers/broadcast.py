"""/thongbao (hidden, officials only): write an announcement, choose who gets it, send or schedule.

Steps: the text (a line "Ảnh: https://…" adds a photo) → wards (multi-select,
paged, or typed by name; "Tất cả") → groups (cư dân / đoàn viên / cán bộ) →
platform (each messenger, or all of them) → preview with the number of recipients →
"Gửi ngay", "Sau 1 giờ", "8:00 sáng mai" or a typed time ("gửi lúc 14:30 25/12",
Việt Nam time). Also: ``/thongbao ds`` lists recent broadcasts,
``/thongbao huy <số>`` (or the "Hủy" button) cancels one; ``/thongbao <nội dung>``
starts with the text already given.

Every entry point checks the officials table first, server-side; a
resident who types the command or presses an official's button (forwarded,
replayed, hand-made) gets a polite refusal and nothing is created. The
dialog's buttons carry its token (handlers/forms.py) and the broadcast is
created from ``dialogs.take``, so a double tap on "Gửi ngay" creates one.
Delivery itself is the worker's job (bot/broadcast/worker.py).
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.broadcast import outbox, texts
from bot.broadcast.outbox import GROUPS, Segment
from bot.broadcast.schedule import MAX_AHEAD, PRESETS, parse_when, preset_time
from bot.channels import registry
from bot.deps import Deps, Turn
from bot.messages import Button, Incoming, Reply
from bot.router import Router
from bot.storage import repo, transaction
from handlers.forms import (
    INVALID_BUTTON, WAY_OUT, cancel_button, dialog_button, free_text_problem, in_place, new_token,
)
from handlers.officials import REFUSAL
from vntext.normalize import fold

router = Router()

DIALOG = "thongbao"
PREFIX = "tb"
CANCEL_PREFIX = "tbx"
WARDS_PER_PAGE = 8
LIST_LIMIT = 8
MAX_URL_CHARS = 500
ALL_PLATFORMS = "all"

ASK_TEXT = (
    "Bạn gõ nội dung thông báo cần gửi (tối đa {limit} ký tự). Có thể kèm đường link trong bài; "
    "muốn kèm ảnh, bạn thêm một dòng «Ảnh: https://…».\n"
    "Gõ /huy để hủy bất cứ lúc nào."
)
ASK_WARDS = ("Gửi cho phường/xã/đặc khu nào? Bạn chọn một hoặc nhiều nơi (hoặc gõ tên), rồi chọn «Tiếp». "
             + WAY_OUT)
NEED_A_WARD = "Bạn chọn ít nhất một phường/xã, hoặc chọn «Tất cả phường/xã» giúp mình nhé. " + WAY_OUT
WARD_NOT_FOUND = ("Mình chưa tìm thấy phường/xã «{typed}». Bạn chọn trong danh sách hoặc gõ lại tên giúp mình nhé. "
                  + WAY_OUT)
ASK_GROUPS = "Gửi cho nhóm nào? Bạn có thể chọn nhiều nhóm, rồi chọn «Tiếp». " + WAY_OUT
NEED_A_GROUP = "Bạn chọn ít nhất một nhóm rồi chọn «Tiếp» giúp mình nhé. " + WAY_OUT
ASK_PLATFORM = "Gửi qua nền tảng nào? " + WAY_OUT
ASK_WHEN = (
    "Bạn gõ thời điểm gửi theo giờ Việt Nam, ví dụ «gửi lúc 14:30 25/12» hoặc «8:00 ngày 1/1/2026». " + WAY_OUT
)
BAD_WHEN = (
    "Mình chưa hiểu thời điểm «{typed}». Bạn gõ theo mẫu «gửi lúc 14:30 25/12» (giờ Việt Nam) "
    "hoặc chọn một thời điểm trong danh sách nhé. " + WAY_OUT
)
TOO_FAR = "Thời điểm đó xa quá (hơn 60 ngày). Bạn chọn thời điểm gần hơn giúp mình nhé."
BAD_PHOTO = "Đường link ảnh phải bắt đầu bằng http:// hoặc https:// và không quá 500 ký tự. Bạn gõ lại nội dung giúp mình nhé."
CREATED = (
    "✅ Đã lên lịch gửi thông báo #{id} {when}.\n"
    "Số người nhận hiện tại: {count}. Danh sách người nhận được chốt khi bắt đầu gửi.\n"
    "Mình sẽ báo tiến độ và kết quả tại đây."
)
CANCELLED_DIALOG = "Đã hủy soạn thông báo, mình chưa gửi gì cả."
STRAYED = "Phần soạn thông báo đang làm dở bị gián đoạn nên mình đã đóng lại. Bạn gõ /thongbao để soạn lại nhé."
CANCELLED_ONE = "⛔ Đã hủy thông báo #{id}. {detail}"
CANCEL_DETAIL_SCHEDULED = "Thông báo chưa được gửi cho ai."
CANCEL_DETAIL_RUNNING = "Đã gửi {sent}/{total} trước khi hủy; những người còn lại sẽ không nhận được."
ALREADY_OVER = "Thông báo #{id} đã gửi xong hoặc đã được hủy trước đó nên không hủy được nữa."
NOT_FOUND = "Không có thông báo #{id}."
USAGE_CANCEL = "Bạn gõ «/thongbao huy <số thông báo>», ví dụ /thongbao huy 12."
NO_BROADCASTS = "Chưa có thông báo nào."

_PHOTO_LINE = re.compile(r"^\s*(?:anh|hinh|hinh anh|photo|image)\s*:\s*(\S+)\s*$")


async def _is_official(msg: Incoming, turn: Turn) -> bool:
    async with transaction(turn) as session:
        # A viewer (read-only console account) does not broadcast.
        return await repo.official_role(session, msg.platform, msg.user_id) in ("official", "admin")


# ------------------------------------------------------------------ entry points

@router.command("thongbao", "Gửi thông báo tới người đăng ký (dành cho cán bộ)", hidden=True)
async def start_broadcast(msg: Incoming, turn: Turn) -> list[Reply]:
    """Soạn và gửi thông báo tới người đăng ký (dành cho cán bộ)."""
    if not await _is_official(msg, turn):
        return [Reply(REFUSAL)]
    words = msg.args.split()
    if words and fold(words[0]) in ("huy", "cancel"):
        if len(words) != 2 or not (words[1].lstrip("#").isascii() and words[1].lstrip("#").isdigit()):
            return [Reply(USAGE_CANCEL)]
        return [await _cancel(msg, turn, int(words[1].lstrip("#")[:12]))]
    if words and fold(words[0]) in ("ds", "danhsach", "list"):
        return [await _list(turn)]
    token = new_token()
    state = {"token": token, "step": "text"}
    await turn.dialogs.open(msg.platform, msg.user_id, DIALOG, state)
    if words:                                   # "/thongbao <nội dung>": the text comes with the command
        lines = msg.text_lines or msg.text
        return await _take_text(replace(msg, text=msg.args, text_lines=lines.split(None, 1)[1]), turn, state)
    return [Reply.with_buttons(ASK_TEXT.format(limit=turn.deps.settings.broadcast.max_text_chars),
                               [cancel_button(PREFIX, token)])]


@router.button(CANCEL_PREFIX)
async def on_cancel_button(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "tbx:<id>": cancel broadcast <id> (officials only; a second press changes nothing)."""
    if not await _is_official(msg, turn):
        return [Reply(REFUSAL)]
    match = re.fullmatch(rf"{CANCEL_PREFIX}:([0-9]{{1,12}})", msg.callback_data or "")
    if not match:
        return [Reply(INVALID_BUTTON)]
    return [await _cancel(msg, turn, int(match.group(1)))]


@router.button(PREFIX)
async def on_button(msg: Incoming, turn: Turn) -> list[Reply]:
    """Buttons "tb:<token>:…" of the composing dialog."""
    if not await _is_official(msg, turn):
        return [Reply(REFUSAL)]
    press = await dialog_button(msg, turn, PREFIX, DIALOG)
    if press is None:
        return [Reply(INVALID_BUTTON)]
    token, action, arg, state = press.token, press.action, press.arg, press.state
    step = state.get("step")
    wards = turn.deps.settings.wards

    if action == "cancel" and not arg:
        await turn.dialogs.close(msg.platform, msg.user_id)
        return in_place([Reply(CANCELLED_DIALOG)])
    if step == "wards":
        if action == "pg" and arg.isascii() and arg.isdigit() and len(arg) <= 4:
            state["page"] = int(arg)
            await _save(msg, turn, state)
            return in_place([_ward_menu(turn.deps, state)])
        if action == "w" and arg.isascii() and arg.isdigit() and int(arg) < len(wards):
            state["wards"] = _toggle(state.get("wards", []), int(arg))
            await _save(msg, turn, state)
            return in_place([_ward_menu(turn.deps, state)])
        if action == "wall" and not arg:
            state["wards"] = []
            return await _to_groups(msg, turn, state)
        if action == "wnext" and not arg:
            if not _chosen_wards(turn.deps, state):
                return in_place([_ward_menu(turn.deps, state, NEED_A_WARD)])
            return await _to_groups(msg, turn, state)
    if step == "groups":
        if action == "g" and arg in GROUPS:
            state["groups"] = _toggle(state.get("groups", []), arg)
            await _save(msg, turn, state)
            return in_place([_group_menu(state)])
        if action == "gnext" and not arg:
            if not [g for g in state.get("groups", []) if g in GROUPS]:
                return in_place([_group_menu(state, NEED_A_GROUP)])
            state["step"] = "platform"
            await _save(msg, turn, state)
            return [_platform_menu(turn.deps, state)]
    if step == "platform" and action == "p" and (arg == ALL_PLATFORMS or arg in _platforms(turn.deps)):
        state["platforms"] = list(_platforms(turn.deps)) if arg == ALL_PLATFORMS else [arg]
        state["step"] = "confirm"
        await _save(msg, turn, state)
        return [await _preview(turn, state)]
    if step in ("confirm", "when") and action == "at":
        if arg == "custom":
            state["step"] = "when"
            await _save(msg, turn, state)
            return [Reply.with_buttons(ASK_WHEN, _when_buttons(token), [cancel_button(PREFIX, token)])]
        moment = preset_time(arg, turn.deps.clock())
        if moment is not None:
            return await _create(msg, turn, state, moment)
    return [Reply(INVALID_BUTTON)]


@router.dialog(DIALOG, about="soạn thông báo", command="thongbao", cancelled=CANCELLED_DIALOG,
               buttons=PREFIX)
async def on_text(msg: Incoming, turn: Turn) -> list[Reply]:
    """Free text while /thongbao is open: the announcement, a ward's name, or the time."""
    if not await _is_official(msg, turn):
        await turn.dialogs.close(msg.platform, msg.user_id)
        return [Reply(REFUSAL)]
    state = await turn.dialogs.state(msg.platform, msg.user_id)
    token, step = state.get("token", ""), state.get("step")
    if step == "text":
        return await _take_text(msg, turn, state)
    if step == "wards":
        typed = " ".join(fold(msg.text).split())
        wards = turn.deps.settings.wards
        matches = [i for i, w in enumerate(wards) if typed and typed in fold(w)]
        exact = [i for i, w in enumerate(wards) if typed and fold(w).endswith(" " + typed)]
        found = matches if len(matches) == 1 else exact if len(exact) == 1 else []
        if not found:
            return [_ward_menu(turn.deps, state, WARD_NOT_FOUND.format(typed=msg.text[:60]))]
        if found[0] not in state.get("wards", []):
            state["wards"] = state.get("wards", []) + [found[0]]
        state["page"] = found[0] // WARDS_PER_PAGE
        await _save(msg, turn, state)
        return [_ward_menu(turn.deps, state)]
    if step == "groups":
        return [_group_menu(state, NEED_A_GROUP)]
    if step == "platform":
        return [_platform_menu(turn.deps, state)]
    if step in ("confirm", "when"):
        now = turn.deps.clock()
        moment = parse_when(msg.text, now)
        if moment is None:
            return [Reply.with_buttons(BAD_WHEN.format(typed=msg.text[:60]), _when_buttons(token),
                                       [cancel_button(PREFIX, token)])]
        if moment - now > MAX_AHEAD:
            return [Reply.with_buttons(TOO_FAR, _when_buttons(token), [cancel_button(PREFIX, token)])]
        return await _create(msg, turn, state, moment)
    await turn.dialogs.close(msg.platform, msg.user_id)
    return [Reply(STRAYED)]


# ------------------------------------------------------------------ steps

async def _save(msg: Incoming, turn: Turn, state: dict) -> None:
    await turn.dialogs.open(msg.platform, msg.user_id, DIALOG, state)


def _toggle(chosen: list, item) -> list:
    return [c for c in chosen if c != item] if item in chosen else chosen + [item]


def split_photo(text: str) -> tuple[str, str | None, bool]:
    """(text without the photo line, photo URL, ok). ok is False for a bad photo link."""
    photo, kept = None, []
    for line in text.splitlines():
        match = _PHOTO_LINE.match(fold(line)) if photo is None else None
        if match:
            url = line.split(":", 1)[1].strip()
            if not re.fullmatch(r"https?://\S+", url) or len(url) > MAX_URL_CHARS:
                return text, None, False
            photo = url
            continue
        kept.append(line)
    return "\n".join(kept).strip(), photo, True


async def _take_text(msg: Incoming, turn: Turn, state: dict) -> list[Reply]:
    token = state["token"]
    body, photo, ok = split_photo(msg.text_lines or msg.text)       # paragraphs kept
    if not ok:
        return [Reply.with_buttons(BAD_PHOTO, [cancel_button(PREFIX, token)])]
    problem = free_text_problem(body, what="nội dung thông báo",
                                max_chars=turn.deps.settings.broadcast.max_text_chars, min_letters=5)
    if problem:
        return [Reply.with_buttons(problem, [cancel_button(PREFIX, token)])]
    state.update(step="wards", text=body, photo=photo, wards=[], page=0)
    await _save(msg, turn, state)
    return [_ward_menu(turn.deps, state)]


def _chosen_wards(deps: Deps, state: dict) -> list[str]:
    wards = deps.settings.wards
    return [wards[i] for i in state.get("wards", []) if isinstance(i, int) and 0 <= i < len(wards)]


def _ward_menu(deps: Deps, state: dict, text: str = ASK_WARDS) -> Reply:
    token, wards = state["token"], deps.settings.wards
    chosen = set(state.get("wards", []))
    pages = max(1, -(-len(wards) // WARDS_PER_PAGE))
    page = min(max(int(state.get("page", 0)), 0), pages - 1)
    start = page * WARDS_PER_PAGE
    buttons = [Button(("✅ " if i in chosen else "⬜ ") + w, f"{PREFIX}:{token}:w:{i}")
               for i, w in enumerate(wards[start:start + WARDS_PER_PAGE], start)]
    rows = [buttons[i: i + 2] for i in range(0, len(buttons), 2)]
    nav = []
    if page > 0:
        nav.append(Button("◀️ Trước", f"{PREFIX}:{token}:pg:{page - 1}"))
    if page < pages - 1:
        nav.append(Button("Sau ▶️", f"{PREFIX}:{token}:pg:{page + 1}"))
    if pages > 1:
        text += f"\n(Trang {page + 1}/{pages})"
    if chosen:
        text += f"\nĐã chọn: {', '.join(_chosen_wards(deps, state))}."
    return Reply.with_buttons(
        text, *rows, nav,
        [Button("🌐 Tất cả phường/xã", f"{PREFIX}:{token}:wall"), Button("Tiếp ➡️", f"{PREFIX}:{token}:wnext")],
        [cancel_button(PREFIX, token)],
    )


async def _to_groups(msg: Incoming, turn: Turn, state: dict) -> list[Reply]:
    state.update(step="groups", groups=state.get("groups", []))
    await _save(msg, turn, state)
    return [_group_menu(state)]


def _group_menu(state: dict, text: str = ASK_GROUPS) -> Reply:
    token, chosen = state["token"], state.get("groups", [])
    toggles = [Button(("✅ " if code in chosen else "⬜ ") + texts.GROUP_LABELS[code], f"{PREFIX}:{token}:g:{code}")
               for code in GROUPS]
    return Reply.with_buttons(text, toggles, [Button("Tiếp ➡️", f"{PREFIX}:{token}:gnext"),
                                              cancel_button(PREFIX, token)])


def _platforms(deps: Deps) -> tuple[str, ...]:
    return registry.broadcast_targets(deps.settings)


def _platform_menu(deps: Deps, state: dict) -> Reply:
    token, names = state["token"], _platforms(deps)
    choices = [Button(registry.label(name), f"{PREFIX}:{token}:p:{name}") for name in names]
    if len(names) > 1:
        choices.append(Button("Cả hai" if len(names) == 2 else "Tất cả", f"{PREFIX}:{token}:p:{ALL_PLATFORMS}"))
    return Reply.with_buttons(ASK_PLATFORM, choices, [cancel_button(PREFIX, token)])


def _when_buttons(token: str) -> list[Button]:
    return [Button(("📤 " if code == "now" else "⏰ ") + label, f"{PREFIX}:{token}:at:{code}")
            for code, label in PRESETS.items()]


def _segment(deps: Deps, state: dict) -> Segment:
    return Segment(tuple(_chosen_wards(deps, state)), tuple(g for g in GROUPS if g in state.get("groups", [])),
                   tuple(p for p in registry.names() if p in state.get("platforms", [])) or _platforms(deps))


async def _preview(turn: Turn, state: dict) -> Reply:
    segment = _segment(turn.deps, state)
    async with transaction(turn) as session:
        count = await outbox.count_recipients(session, segment)
    token = state["token"]
    lines = ["Xem trước thông báo:", "──────────", texts.announcement_text(state["text"]), "──────────"]
    if state.get("photo"):
        lines.append(f"Ảnh kèm theo: {state['photo']}")
    lines += ["Người nhận:", texts.describe_segment(segment),
              f"Số người nhận hiện tại: {texts.number(count)}."]
    if count == 0:
        lines.append("(Hiện chưa có ai đăng ký trong nhóm này; danh sách được chốt khi bắt đầu gửi.)")
    lines.append("\nBạn muốn gửi khi nào?")
    return Reply.with_buttons("\n".join(lines), _when_buttons(token),
                              [Button("✏️ Hẹn giờ khác", f"{PREFIX}:{token}:at:custom"),
                               cancel_button(PREFIX, token)])


async def _create(msg: Incoming, turn: Turn, state: dict, moment) -> list[Reply]:
    # take() closes the dialog exactly once: a double tap, or the same time
    # typed twice, creates one broadcast.
    taken = await turn.dialogs.take(msg.platform, msg.user_id, DIALOG)
    if taken is None or taken.get("token") != state.get("token") or not taken.get("text") \
            or taken.get("step") not in ("confirm", "when"):
        return [Reply(INVALID_BUTTON)]
    now = turn.deps.clock()
    segment = _segment(turn.deps, taken)
    async with transaction(turn) as session:
        broadcast = await outbox.create_broadcast(
            session, text=taken["text"], photo_url=taken.get("photo"), segment=segment,
            created_by=f"{msg.platform}:{msg.user_id}", scheduled_at=moment, now=now,
            report_platform=msg.platform, report_chat_id=msg.chat_id,
        )
        count = await outbox.count_recipients(session, segment)
    text = CREATED.format(id=broadcast.id, when=texts.when_text(broadcast.scheduled_at, now),
                          count=texts.number(count))
    return [Reply.with_buttons(text, [Button(f"⛔ Hủy thông báo #{broadcast.id}", f"{CANCEL_PREFIX}:{broadcast.id}")])]


async def _cancel(msg: Incoming, turn: Turn, broadcast_id: int) -> Reply:
    async with transaction(turn) as session:
        result = await outbox.cancel_broadcast(session, broadcast_id, f"{msg.platform}:{msg.user_id}", turn.deps.clock())
        if result == outbox.NOT_FOUND:
            return Reply(NOT_FOUND.format(id=broadcast_id))
        if result == outbox.ALREADY_OVER:
            return Reply(ALREADY_OVER.format(id=broadcast_id))
        broadcast = await outbox.get_broadcast(session, broadcast_id)
        c = await outbox.counts(session, broadcast_id)
    if broadcast is None or broadcast.started_at is None:
        detail = CANCEL_DETAIL_SCHEDULED
    else:
        detail = CANCEL_DETAIL_RUNNING.format(sent=texts.number(c.sent), total=texts.number(broadcast.total))
    return Reply(CANCELLED_ONE.format(id=broadcast_id, detail=detail))


async def _list(turn: Turn) -> Reply:
    async with transaction(turn) as session:
        rows = await outbox.list_broadcasts(session, LIST_LIMIT)
        lines, buttons = [], []
        for b in rows:
            c = await outbox.counts(session, b.id)
            first_line = b.text.splitlines()[0][:60] if b.text else ""
            status = texts.STATUS_LABELS.get(b.status, b.status)
            detail = (f"đã gửi {texts.number(c.sent)}/{texts.number(b.total)}" if b.started_at
                      else f"gửi {texts.when_text(b.scheduled_at, turn.deps.clock())}")
            lines.append(f"#{b.id} • {status} • {detail}\n«{first_line}»")
            if b.status in ("scheduled", "running"):
                buttons.append(Button(f"⛔ Hủy #{b.id}", f"{CANCEL_PREFIX}:{b.id}"))
    if not lines:
        return Reply(NO_BROADCASTS)
    return Reply.with_buttons("Các thông báo gần đây:\n\n" + "\n\n".join(lines),
                              *[buttons[i: i + 2] for i in range(0, len(buttons), 2)])
