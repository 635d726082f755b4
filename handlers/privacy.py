"""/quyenriengtu: what is stored and why; /xoadulieu: delete it all.

Deleting asks for confirmation with a button tied to this request (a
random token kept in the dialog state). The confirmation works once: a
second tap, or a replay of the old button after new data was stored,
deletes nothing.
"""

from __future__ import annotations

from bot.deps import Deps, Turn
from bot.messages import Button, Incoming, Reply
from bot.router import Router
from bot.storage import quiz_repo, repo, transaction
from bot.storage.sql import LOCAL_UTC_OFFSET
from handlers.forms import INVALID_BUTTON, button_parts, in_place, new_token, valid_token
from vntext.normalize import fold
from vntext.pii import mask_personal_data

router = Router()

DIALOG = "xoadulieu"
PREFIX = "xoa"
GROUP_NAMES = {"cu_dan": "Cư dân", "doan_vien": "Đoàn viên", "can_bo": "Cán bộ"}

WHAT_WE_STORE = (
    "🔒 Quyền riêng tư\n\n"
    "Mình chỉ lưu những gì cần để trả lời và phục vụ bạn:\n"
    "• Mã tài khoản Telegram/Zalo và tên hiển thị của bạn: để nhận ra bạn khi bạn quay lại "
    "và gửi tin bạn đã đăng ký.\n"
    "• Câu hỏi bạn gửi và đánh giá 👍/👎 của bạn: để cán bộ biết câu trả lời nào hữu ích "
    "và bổ sung những nội dung còn thiếu. Câu hỏi mình chưa trả lời được (và câu bạn chọn gửi tới "
    "cán bộ) được lưu cùng phường/xã của bạn và nơi trò chuyện, để cán bộ có thể trả lời bạn.\n"
    "• Góp ý của bạn (chủ đề, nội dung, thời gian): để chuyển tới cán bộ phụ trách.\n"
    "• Phường/xã, nhóm và chi đoàn bạn chọn khi đăng ký nhận tin: để gửi đúng thông báo "
    "và tổng hợp góp ý theo địa bàn.\n"
    "• Kết quả đố vui /quiz (câu trả lời, điểm, thời gian làm bài): để hỏi lại những câu bạn "
    "chưa nhớ và xếp hạng trên /bangxephang. Khi bạn làm đủ số bài tối thiểu, tên hiển thị "
    "của bạn xuất hiện trên bảng xếp hạng mà các đoàn viên khác cũng xem được.\n\n"
    "Khi dữ liệu được xuất ra để tổng hợp, mã tài khoản của bạn được thay bằng một mã ẩn danh "
    "và tên hiển thị không được xuất ra.\n"
    "{contact_details}\n"
    "Bạn có thể xóa toàn bộ dữ liệu của mình bất cứ lúc nào bằng lệnh /xoadulieu."
)
# CIVICBOT_PRIVACY__KEEP_CONTACT_DETAILS: false (the default) / true.
CONTACT_DETAILS_MASKED = (
    "Số điện thoại, email hay số CCCD/CMND bạn gõ vào câu hỏi hoặc góp ý được che đi trước khi lưu "
    "(chỉ còn dòng chữ «[số điện thoại]»…), nên không ai xem lại được."
)
CONTACT_DETAILS_KEPT = (
    "Số điện thoại, email hay số CCCD/CMND bạn gõ vào câu hỏi hoặc góp ý được lưu nguyên văn để "
    "cơ quan phụ trách có thể liên hệ lại khi cần, nhưng luôn được che đi khi dữ liệu được xuất ra "
    "hay hiển thị cho cán bộ."
)
NOTHING_STORED = "Hiện mình chưa lưu dữ liệu nào về bạn."
NOTHING_TO_DELETE = "Mình không lưu dữ liệu nào về bạn nên không có gì để xóa."
CONFIRM = (
    "Bạn có chắc muốn xóa toàn bộ dữ liệu mình lưu về bạn không? Gồm câu hỏi, đánh giá, góp ý, kết quả đố vui, "
    "đăng ký nhận tin và thông tin phường/xã. Việc xóa không thể hoàn tác."
)
DELETED = (
    "Đã xóa toàn bộ dữ liệu của bạn. Nếu bạn tiếp tục trò chuyện, mình sẽ chỉ lưu những gì "
    "cần cho các câu hỏi mới. Cảm ơn bạn đã sử dụng!"
)
KEPT = "Đã hủy yêu cầu xóa dữ liệu. Dữ liệu của bạn vẫn giữ nguyên."
CONFIRM_HINT = "Bạn chưa trả lời: chọn «Xóa hết» để xóa dữ liệu, hoặc «Giữ lại» (gõ /huy cũng là giữ lại)."
YES_WORDS = {"co", "xoa", "xoa het", "dong y", "ok", "co xoa"}
NO_WORDS = {"khong", "giu", "giu lai", "thoi", "khong xoa"}
STALE_CONFIRM = (
    "Yêu cầu xóa này đã được thực hiện hoặc đã hết hiệu lực, nên mình không xóa gì thêm. "
    "Nếu muốn xóa dữ liệu, bạn gõ /xoadulieu nhé."
)


def _summary_text(s: repo.DataSummary, quiz: tuple[int, int] = (0, 0)) -> str:
    lines = ["Dữ liệu mình đang lưu về bạn:"]
    if s.display_name:
        lines.append(f"• Tên hiển thị: {s.display_name}")
    if s.ward:
        lines.append(f"• Phường/xã: {s.ward}")
    if s.subscribed:
        groups = ", ".join(GROUP_NAMES.get(g, g) for g in s.groups) or "chưa chọn"
        lines.append(f"• Đang nhận tin của {s.subscription_ward} (nhóm: {groups})")
    elif s.subscription_ward:
        lines.append("• Đăng ký nhận tin: đã ngừng")
    if s.chi_doan:
        lines.append(f"• Chi đoàn: {s.chi_doan}")
    sent = f", bạn đã gửi tới cán bộ {s.sent_to_officials}" if s.sent_to_officials else ""
    lines.append(f"• Câu hỏi đã gửi: {s.questions} (đã đánh giá {s.ratings}; "
                 f"chưa trả lời được {s.unanswered}{sent})")
    lines.append(f"• Góp ý: {s.feedback}")
    if quiz[0] or quiz[1]:
        lines.append(f"• Bài đố vui: {quiz[0]} bài, {quiz[1]} câu trả lời")
    if s.first_seen:
        lines.append(f"• Lần đầu trò chuyện: {(s.first_seen + LOCAL_UTC_OFFSET):%d/%m/%Y}")
    return "\n".join(lines)


def what_we_store(deps: Deps) -> str:
    keep = deps.settings.privacy.keep_contact_details
    return WHAT_WE_STORE.format(contact_details=CONTACT_DETAILS_KEPT if keep else CONTACT_DETAILS_MASKED)


def stored_text(deps: Deps, text: str) -> str:
    """What is stored of a resident's free text (a question, a piece of feedback):
    phone numbers, e-mail addresses and ID numbers masked, unless the
    deployment keeps them (CIVICBOT_PRIVACY__KEEP_CONTACT_DETAILS)."""
    return text if deps.settings.privacy.keep_contact_details else mask_personal_data(text)


@router.command("quyenriengtu", "Mình lưu gì về bạn và để làm gì")
async def show_privacy(msg: Incoming, turn: Turn) -> list[Reply]:
    """Mình lưu gì về bạn và để làm gì."""
    async with transaction(turn) as session:
        summary = await repo.data_summary(session, msg.platform, msg.user_id)
        resident = await repo.find_resident(session, msg.platform, msg.user_id) if summary else None
        quiz = await quiz_repo.member_totals(session, resident.id) if resident else (0, 0)
    if summary is None:
        return [Reply(what_we_store(turn.deps)), Reply(NOTHING_STORED)]
    return [Reply(what_we_store(turn.deps)),
            Reply.with_buttons(_summary_text(summary, quiz), [Button("🗑 Xóa dữ liệu của tôi", f"{PREFIX}:ask")])]


@router.command("xoadulieu", "Xóa toàn bộ dữ liệu của bạn")
async def ask_delete(msg: Incoming, turn: Turn) -> list[Reply]:
    """Xóa toàn bộ dữ liệu của bạn."""
    async with transaction(turn) as session:
        stored = await repo.find_resident(session, msg.platform, msg.user_id)
    if stored is None:
        return [Reply(NOTHING_TO_DELETE)]
    token = new_token()
    await turn.dialogs.open(msg.platform, msg.user_id, DIALOG, {"token": token})
    return [_confirm(token)]


def _confirm(token: str, intro: str = "") -> Reply:
    return Reply.with_buttons((intro + "\n\n" if intro else "") + CONFIRM, [
        Button("🗑 Xóa hết", f"{PREFIX}:{token}:yes"),
        Button("Giữ lại", f"{PREFIX}:{token}:no"),
    ])


@router.button(PREFIX)
async def on_button(msg: Incoming, turn: Turn) -> list[Reply]:
    """Buttons "xoa:ask" and "xoa:<token>:yes|no"."""
    parts = button_parts(msg, PREFIX)
    if parts == ["ask"]:
        return await ask_delete(msg, turn)
    if not parts or len(parts) != 2 or not valid_token(parts[0]) or parts[1] not in ("yes", "no"):
        return [Reply(INVALID_BUTTON)]
    token, answer = parts
    state = await turn.dialogs.state(msg.platform, msg.user_id)
    if await turn.dialogs.current(msg.platform, msg.user_id) != DIALOG or state.get("token") != token:
        return [Reply(STALE_CONFIRM)]
    return await _answer(msg, turn, answer == "yes")


@router.dialog(DIALOG, about="xóa dữ liệu", command="xoadulieu", cancelled=KEPT,
               buttons=PREFIX)
async def on_text(msg: Incoming, turn: Turn) -> list[Reply]:
    """Free text while the deletion waits for an answer: "có" / "không", else the question again."""
    typed = " ".join(fold(msg.text).strip(" .!?").split())
    if typed in YES_WORDS or typed in NO_WORDS:
        return await _answer(msg, turn, typed in YES_WORDS)
    state = await turn.dialogs.state(msg.platform, msg.user_id)
    return [_confirm(state.get("token", ""), CONFIRM_HINT)]


async def _answer(msg: Incoming, turn: Turn, delete: bool) -> list[Reply]:
    # take() succeeds once per request: a double tap or a replay finds nothing.
    if await turn.dialogs.take(msg.platform, msg.user_id, DIALOG) is None:
        return [Reply(STALE_CONFIRM)]
    if not delete:
        return in_place([Reply(KEPT)])
    async with transaction(turn) as session:
        await repo.delete_resident_data(session, msg.platform, msg.user_id)
    return in_place([Reply(DELETED)])      # the question's buttons go: they did their job
