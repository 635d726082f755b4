"""/dangky: receive announcements for one's ward and groups; /huy to stop.

Steps: choose the ward (paged choices from CIVICBOT_WARDS, or type its
name), then the groups (several, then "Xong"; the names can be typed too);
đoàn viên are asked their chi đoàn. Choosing "cán bộ" only picks the
announcements one gets: it grants nothing (official rights live in the
officials table).

/huy cancels whatever is in progress: the open dialog (each dialog says what
it cancelled, see `bot.router.Dialog`), else what a handler registered with
``@router.cancels`` (a quiz round); with nothing in progress it stops announcements.
"""

from __future__ import annotations

from bot.deps import Deps, Turn
from bot.messages import Button, Incoming, Reply
from bot.router import Router
from bot.storage import repo, transaction
from handlers.forms import (
    INVALID_BUTTON, WAY_OUT, cancel_button, dialog_button, free_text_problem, in_place, new_token,
)
from vntext.normalize import fold

router = Router()

DIALOG = "dangky"
PREFIX = "dk"
WARDS_PER_PAGE = 8
MAX_CHI_DOAN_CHARS = 100
GROUPS = {"cu_dan": "Cư dân", "doan_vien": "Đoàn viên", "can_bo": "Cán bộ"}

ASK_WARD = "Bạn muốn nhận tin của phường/xã/đặc khu nào? Bạn chọn trong danh sách hoặc gõ tên nhé. " + WAY_OUT
ALREADY_SUBSCRIBED = "Bạn đang nhận tin của {ward}. Đăng ký lại sẽ thay thông tin cũ.\n\n"
WARD_NOT_FOUND = (
    "Mình chưa tìm thấy phường/xã «{typed}» trong danh sách. "
    "Bạn chọn trong danh sách hoặc gõ lại tên giúp mình nhé. " + WAY_OUT
)
ASK_GROUPS = (
    "Bạn thuộc nhóm nào? Bạn có thể chọn nhiều nhóm, rồi chọn «Xong».\n"
    "(Chọn «Cán bộ» chỉ để nhận tin dành cho cán bộ, không cấp quyền gì thêm.) " + WAY_OUT
)
NEED_A_GROUP = "Bạn chọn ít nhất một nhóm rồi chọn «Xong» giúp mình nhé. " + WAY_OUT
ASK_CHI_DOAN = ("Bạn sinh hoạt ở chi đoàn nào? Bạn gõ tên chi đoàn giúp mình (ví dụ: Chi đoàn khu dân cư số 3). "
                + WAY_OUT)
DONE = (
    "Bạn đã đăng ký nhận tin của {ward} cho nhóm: {groups}.{chi_doan}\n"
    "Gõ /huy khi muốn ngừng nhận tin, /quyenriengtu để xem mình lưu gì về bạn."
)
CANCELLED = "Đã hủy đăng ký nhận tin đang làm dở, mình không lưu gì cả."
CANCELLED_OTHER = "Đã hủy thao tác đang làm dở."
STRAYED = "Phần đăng ký nhận tin đang làm dở bị gián đoạn nên mình đã đóng lại. Bạn gõ /dangky để đăng ký lại nhé."
DONE_WORDS = {"xong", "ok", "tiep", "tiep theo"}
UNSUBSCRIBED = "Bạn đã ngừng nhận tin. Khi muốn nhận lại, bạn gõ /dangky nhé."
NOTHING_TO_CANCEL = "Hiện không có thao tác nào đang làm dở và bạn cũng chưa đăng ký nhận tin. Gõ /dangky để đăng ký nhé."


def _ward_menu(deps: Deps, token: str, page: int, text: str = ASK_WARD) -> Reply:
    wards = deps.settings.wards
    pages = max(1, -(-len(wards) // WARDS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    start = page * WARDS_PER_PAGE
    buttons = [Button(w, f"{PREFIX}:{token}:w:{i}") for i, w in enumerate(wards[start:start + WARDS_PER_PAGE], start)]
    rows = [buttons[i: i + 2] for i in range(0, len(buttons), 2)]
    nav = []
    if page > 0:
        nav.append(Button("◀️ Trước", f"{PREFIX}:{token}:pg:{page - 1}"))
    if page < pages - 1:
        nav.append(Button("Sau ▶️", f"{PREFIX}:{token}:pg:{page + 1}"))
    if pages > 1:
        text += f"\n(Trang {page + 1}/{pages})"
    return Reply.with_buttons(text, *rows, nav, [cancel_button(PREFIX, token)])


def _group_menu(token: str, chosen: list[str], text: str = ASK_GROUPS) -> Reply:
    toggles = [Button(("✅ " if code in chosen else "⬜ ") + label, f"{PREFIX}:{token}:g:{code}")
               for code, label in GROUPS.items()]
    return Reply.with_buttons(text, toggles, [Button("Xong", f"{PREFIX}:{token}:done"),
                                              cancel_button(PREFIX, token)])


@router.command("dangky", "Đăng ký nhận tin theo phường/xã")
async def start_subscription(msg: Incoming, turn: Turn) -> list[Reply]:
    """Đăng ký nhận tin theo phường/xã và nhóm."""
    token = new_token()
    async with transaction(turn) as session:
        resident = await repo.find_resident(session, msg.platform, msg.user_id)
        current = await repo.subscription_of(session, resident.id) if resident else None
    await turn.dialogs.open(msg.platform, msg.user_id, DIALOG, {"token": token, "step": "ward", "page": 0})
    intro = ALREADY_SUBSCRIBED.format(ward=current[0].ward) if current and current[0].active else ""
    return [_ward_menu(turn.deps, token, 0, intro + ASK_WARD)]


@router.button(PREFIX)
async def on_button(msg: Incoming, turn: Turn) -> list[Reply]:
    """Buttons "dk:<token>:pg:<n>", ":w:<ward>", ":g:<group>", ":done", ":cancel"."""
    press = await dialog_button(msg, turn, PREFIX, DIALOG)
    if press is None:
        return [Reply(INVALID_BUTTON)]
    token, action, arg, state = press.token, press.action, press.arg, press.state
    step = state.get("step")
    wards = turn.deps.settings.wards

    if action == "cancel" and not arg:
        await turn.dialogs.close(msg.platform, msg.user_id)
        return in_place([Reply(CANCELLED)])
    if action == "pg" and step == "ward" and arg.isascii() and arg.isdigit() and len(arg) <= 4:
        state["page"] = int(arg)
        await turn.dialogs.open(msg.platform, msg.user_id, DIALOG, state)
        return in_place([_ward_menu(turn.deps, token, int(arg))])
    if action == "w" and step == "ward" and arg.isascii() and arg.isdigit() and int(arg) < len(wards):
        return await _choose_ward(msg, turn, state, wards[int(arg)])
    if action == "g" and step == "groups" and arg in GROUPS:
        return in_place(await _toggle_group(msg, turn, state, arg))
    if action == "done" and not arg and step == "groups":
        return await _groups_done(msg, turn, state)
    return [Reply(INVALID_BUTTON)]


async def _toggle_group(msg: Incoming, turn: Turn, state: dict, group: str) -> list[Reply]:
    chosen = [g for g in state.get("groups", []) if g in GROUPS]
    chosen = [g for g in chosen if g != group] if group in chosen else chosen + [group]
    state["groups"] = chosen
    await turn.dialogs.open(msg.platform, msg.user_id, DIALOG, state)
    return [_group_menu(state["token"], chosen)]


async def _groups_done(msg: Incoming, turn: Turn, state: dict) -> list[Reply]:
    token = state["token"]
    chosen = [g for g in state.get("groups", []) if g in GROUPS]
    if not chosen:
        return in_place([_group_menu(token, chosen, NEED_A_GROUP)])
    if "doan_vien" in chosen:
        state["step"] = "chidoan"
        await turn.dialogs.open(msg.platform, msg.user_id, DIALOG, state)
        return [Reply.with_buttons(ASK_CHI_DOAN, [cancel_button(PREFIX, token)])]
    return await _save(msg, turn, state, None)


async def _choose_ward(msg: Incoming, turn: Turn, state: dict, ward: str) -> list[Reply]:
    state.update(step="groups", ward=ward, groups=[])
    await turn.dialogs.open(msg.platform, msg.user_id, DIALOG, state)
    return [_group_menu(state["token"], [], f"Bạn đã chọn {ward}.\n\n" + ASK_GROUPS)]


async def _save(msg: Incoming, turn: Turn, state: dict, chi_doan: str | None) -> list[Reply]:
    # take() ends the dialog exactly once: a double tap on "Xong" saves once.
    taken = await turn.dialogs.take(msg.platform, msg.user_id, DIALOG)
    if taken is None or taken.get("token") != state.get("token") or not taken.get("ward"):
        return [Reply(INVALID_BUTTON)]
    state = taken
    groups = [g for g in GROUPS if g in state.get("groups", [])]
    now = turn.deps.clock()
    async with transaction(turn) as session:
        resident = await repo.ensure_resident(session, msg.platform, msg.user_id, msg.display_name, now)
        await repo.subscribe(session, resident, msg.chat_id, state["ward"], groups, chi_doan, now)
    names = ", ".join(GROUPS[g] for g in groups)
    extra = f"\nChi đoàn: {chi_doan}." if chi_doan else ""
    return [Reply(DONE.format(ward=state["ward"], groups=names, chi_doan=extra))]


@router.dialog(DIALOG, about="đăng ký nhận tin", command="dangky", cancelled=CANCELLED,
               buttons=PREFIX)
async def on_text(msg: Incoming, turn: Turn) -> list[Reply]:
    """Free text while /dangky is open: a ward or a group typed by name, "xong", or the chi đoàn's name."""
    state = await turn.dialogs.state(msg.platform, msg.user_id)
    token, step = state.get("token", ""), state.get("step")
    if step == "ward":
        typed = " ".join(fold(msg.text).split())
        matches = [w for w in turn.deps.settings.wards if typed and typed in fold(w)]
        exact = [w for w in turn.deps.settings.wards if typed and fold(w).endswith(" " + typed)]
        if len(matches) == 1 or len(exact) == 1:
            return await _choose_ward(msg, turn, state, (matches if len(matches) == 1 else exact)[0])
        return [_ward_menu(turn.deps, token, state.get("page", 0), WARD_NOT_FOUND.format(typed=msg.text[:60]))]
    if step == "groups":
        typed = " ".join(fold(msg.text).strip(" .!?").split())
        group = next((code for code, label in GROUPS.items() if fold(label) == typed), None)
        if group is not None:
            return await _toggle_group(msg, turn, state, group)
        if typed in DONE_WORDS:
            return await _groups_done(msg, turn, state)
        return [_group_menu(token, state.get("groups", []), NEED_A_GROUP)]
    if step == "chidoan":
        problem = free_text_problem(msg.text, what="tên chi đoàn", max_chars=MAX_CHI_DOAN_CHARS)
        if problem:
            return [Reply.with_buttons(problem, [cancel_button(PREFIX, token)])]
        return await _save(msg, turn, state, msg.text)
    await turn.dialogs.close(msg.platform, msg.user_id)
    return [Reply(STRAYED)]


@router.command("huy", "Hủy thao tác đang làm dở hoặc ngừng nhận tin")
async def cancel(msg: Incoming, turn: Turn) -> list[Reply]:
    """Hủy thao tác đang làm dở, hoặc ngừng nhận tin."""
    open_dialog = await turn.dialogs.current(msg.platform, msg.user_id)
    if open_dialog:
        await turn.dialogs.close(msg.platform, msg.user_id)
        dialog = turn.deps.router.find_dialog(open_dialog)
        return [Reply(dialog.cancelled if dialog else CANCELLED_OTHER)]
    for stop in turn.deps.router.cancel_hooks:         # a quiz round, …
        replies = await stop(msg, turn)
        if replies is not None:
            return replies
    async with transaction(turn) as session:
        stopped = await repo.unsubscribe(session, msg.platform, msg.user_id, turn.deps.clock())
    return [Reply(UNSUBSCRIBED if stopped else NOTHING_TO_CANCEL)]
