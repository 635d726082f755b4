"""What the multi-step handlers share: dialog tokens, button data, texts.

A dialog's buttons carry a short random token stored in the dialog's state
("fb:<token>:send"). A press whose token does not match the open dialog (an
old message, a replay, hand-made data) changes nothing and gets a friendly
reply. Button data never decides who may do what: that is checked in the
database (`bot.storage.repo.official_role`).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bot.messages import Button, Incoming, Reply
from vntext.normalize import is_mostly_letters

if TYPE_CHECKING:
    from bot.deps import Turn

TOKEN_BYTES = 4            # 6 url-safe characters
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,16}")

# Wording that fits every platform: a choice is a button on Telegram and a
# number to type on Zalo and in the terminal, so texts say "chọn «Gửi»",
# never "bấm nút" or "các nút bên dưới".
INVALID_BUTTON = (
    "Lựa chọn này đã cũ, đã hết hạn hoặc không hợp lệ nên mình chưa làm gì cả. "
    "Bạn gõ /help để xem các lệnh nhé."
)
# Every dialog step says how to leave it.
WAY_OUT = "Gõ /huy nếu bạn muốn dừng."
CANCEL_LABEL = "❌ Hủy"


def in_place(replies: list[Reply]) -> list[Reply]:
    """A menu changed by a tap (a toggle, a page, "⬅️"): where the platform can
    edit messages, the first reply replaces the tapped menu instead of adding one."""
    return [replace(reply, replaces_menu=True) if i == 0 else reply for i, reply in enumerate(replies)]


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def button_parts(msg: Incoming, prefix: str) -> list[str] | None:
    """``"fb:tok:send"`` → ``["tok", "send"]``; None when malformed."""
    data = msg.callback_data or ""
    head, sep, rest = data.partition(":")
    if head != prefix or not sep or len(data.encode()) > 64:
        return None
    parts = rest.split(":")
    return parts if all(parts) else None


def valid_token(token: str) -> bool:
    return bool(_TOKEN.fullmatch(token))


def cancel_button(prefix: str, token: str) -> Button:
    return Button(CANCEL_LABEL, f"{prefix}:{token}:cancel")


def count(n: int) -> str:
    """1200 → "1.200" (Vietnamese thousands separator)."""
    return f"{n:,}".replace(",", ".")


def too_long(what: str, length: int, limit: int) -> str:
    """The one way a length limit is stated: the message's real length, and the one limit."""
    return (f"{what[0].upper() + what[1:]} của bạn dài {count(length)} ký tự, mình chỉ nhận tối đa "
            f"{count(limit)} ký tự. Bạn rút gọn rồi gửi lại giúp mình nhé.")


def free_text_problem(text: str, *, what: str, max_chars: int, min_letters: int = 2) -> str | None:
    """A friendly reply when ``text`` is empty, too long or has no words; else None."""
    if not text.strip():
        return f"Bạn chưa viết {what}. Bạn gõ lại giúp mình nhé (hoặc /huy để hủy)."
    if len(text) > max_chars:
        return too_long(what, len(text), max_chars) + " (Gõ /huy nếu bạn muốn dừng.)"
    if not is_mostly_letters(text) or sum(ch.isalpha() for ch in text) < min_letters:
        return (f"Mình chỉ ghi nhận được {what} bằng chữ (biểu tượng cảm xúc hay hình ảnh thì "
                "mình chưa đọc được). Bạn gõ lại bằng chữ giúp mình nhé (hoặc /huy để hủy).")
    return None


@dataclass(frozen=True)
class DialogButton:
    """A press on a button of the user's open dialog: "<prefix>:<token>:<action>[:<arg>]"."""

    token: str
    action: str
    arg: str
    state: dict[str, Any]


async def dialog_button(msg: Incoming, turn: "Turn", prefix: str, dialog: str) -> DialogButton | None:
    """The press, when it belongs to ``dialog`` as it stands now; None when the
    data is malformed or tampered, the dialog is closed, or its token is stale
    (a replayed or old button)."""
    parts = button_parts(msg, prefix)
    if not parts or not valid_token(parts[0]) or len(parts) > 3:
        return None
    if await turn.dialogs.current(msg.platform, msg.user_id) != dialog:
        return None
    state = await turn.dialogs.state(msg.platform, msg.user_id)
    if state.get("token") != parts[0]:
        return None
    return DialogButton(parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "", state)
