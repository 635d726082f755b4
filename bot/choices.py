"""Numbered choices on platforms without buttons (Zalo, the terminal), kept by the core.

Where a platform has no inline buttons, a reply's buttons (and a quiz
question's options) are shown as numbered lines and the resident answers
"2". Which choice "2" means is decided here, for every such platform, and
kept with the chat (the chat-context store, under a key of its own, in the
update's transaction): it survives a restart and any of several bot
processes reads the same numbers.

Choices belong to what offered them. Those of an open dialog (/dangky,
/gopy, /xoadulieu, /thongbao: buttons with the prefix the dialog registered,
`bot.router.Dialog.buttons`) or of a quiz question are *held*: free text typed in between (a question, a declined
question with its suggestions) does not take their numbers. Its own choices
are numbered after them (quiz options 1–4, suggestions 5–7) and a line says
what is still waiting and how to leave it (/huy). Held choices end when the
resident picks one of them, types a command, or the dialog closes.
Choices nothing holds (a menu of /mohinh) stay valid until the next reply
that offers choices or answers a pick or a command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.messages import Button, Incoming, Reply

if TYPE_CHECKING:
    from bot.deps import Deps, Turn

# Kept beside the chat's follow-up context, under its own chat key.
KEY_PREFIX = "choices:"
MAX_DIGITS = 2
QUIZ = "quiz"

STILL_OPEN = "({about} vẫn đang chờ bạn: các số 1–{last} ở trên vẫn dùng được cho phần đó; gõ /huy nếu bạn muốn dừng.)"
QUIZ_ABOUT = "Câu đố vui"
NO_SUCH_CHOICE = (
    "Mình không thấy lựa chọn số {number} nào đang mở (các lựa chọn cũ hết hạn sau một thời gian). "
    "Bạn gõ lại lệnh vừa dùng để xem lại các lựa chọn (bài đố vui đang làm dở: /quiz), hoặc /help nhé."
)


def flat_buttons(reply: Reply) -> list[Button]:
    """The reply's choices in order: a quiz's options first, then its buttons."""
    options = []
    if reply.quiz is not None:
        options = [Button(option, reply.quiz.answer_data(i)) for i, option in enumerate(reply.quiz.options)]
    return options + [button for row in reply.buttons for button in row]


def has_buttons(platform: str) -> bool:
    """Whether ``platform`` shows inline buttons (else choices are numbered text)."""
    from bot.channels import registry

    try:
        return registry.get(platform).limits.buttons
    except KeyError:            # the terminal, the warm-up rehearsal: text only
        return False


def typed_number(text: str) -> int | None:
    text = text.strip()
    if text.isascii() and text.isdigit() and 0 < len(text) <= MAX_DIGITS:
        return int(text)
    return None


Dispatch = Callable[[Incoming], Awaitable[list[Reply]]]


async def dispatch_numbered(msg: Incoming, turn: "Turn", dispatch: Dispatch) -> list[Reply]:
    """``dispatch`` for a platform without buttons: a typed number becomes the
    choice it names; the replies' choices are numbered and remembered."""
    held = await _load(msg, turn.deps)
    number = typed_number(msg.text) if msg.callback_data is None and not msg.media else None
    if number is not None and number <= len(held["choices"]):
        msg = replace(msg, text="", text_lines="", callback_data=held["choices"][number - 1])
    elif number is not None and await turn.dialogs.current(msg.platform, msg.user_id) is None:
        # A number for choices that expired or never were: say so, rather than search for "7".
        return [Reply(NO_SUCH_CHOICE.format(number=number))]
    replies = await dispatch(msg)
    offered = [button.data for reply in replies for button in flat_buttons(reply)]
    owner = _owner(turn.deps, replies) if offered else None
    owned = held["choices"][: held.get("held", 0)] if held.get("owner") else []
    acted_on_held = bool(msg.command) or msg.callback_data in owned
    if owned and not acted_on_held and owner is None and await _still_open(msg, turn, held):
        # Something else said in between: the held numbers stay, its choices come after them.
        if offered:
            await _save(msg, turn, {**held, "choices": owned + offered})
            replies = _numbered_from(replies, len(owned) + 1)
            replies.append(Reply(STILL_OPEN.format(about=held.get("about") or QUIZ_ABOUT, last=len(owned))))
        return replies
    if offered:
        state: dict[str, Any] = {"choices": offered}
        if owner is not None:
            state.update(owner=owner[0], about=owner[1], held=len(offered))
        await _save(msg, turn, state)
        replies = _numbered_from(replies, 1)
    elif held["choices"] and (msg.command or msg.callback_data is not None or owned):
        # A pick or a command answered without choices, or the holding dialog
        # closed: the numbers shown before mean nothing any more.
        await _save(msg, turn, {"choices": []})
    return replies


def _numbered_from(replies: list[Reply], first: int) -> list[Reply]:
    """The replies with their choices numbered from ``first``, running on from one reply to
    the next; each reply carries its own first number, because the reply outbox sends them
    one at a time (bot/channels/dispatch.py)."""
    out, number = [], first
    for reply in replies:
        count = len(flat_buttons(reply))
        if count:
            reply = replace(reply, numbered_from=number)
            number += count
        out.append(reply)
    return out


def _owner(deps: "Deps", replies: list[Reply]) -> tuple[str, str] | None:
    """What holds the choices just offered: ("quiz", about) for a quiz question,
    ("dialog:<name>", about) for a dialog's menu (its buttons' prefix, see
    `bot.router.Dialog.buttons`); None for a plain menu."""
    if any(reply.quiz is not None for reply in replies):
        return QUIZ, QUIZ_ABOUT
    for reply in replies:
        for button in flat_buttons(reply):
            dialog = deps.router.dialog_of_button(button.data)
            if dialog is not None:
                return f"dialog:{dialog.name}", f"Phần {dialog.about}"
    return None


async def _still_open(msg: Incoming, turn: "Turn", held: dict[str, Any]) -> bool:
    """Whether what holds the numbers is still there (a dialog closed by free text is not)."""
    owner = held.get("owner") or ""
    if not owner.startswith("dialog:"):
        return True             # a quiz question is settled only by a pick or a command
    return await turn.dialogs.current(msg.platform, msg.user_id) == owner.split(":", 1)[1]


async def _load(msg: Incoming, deps: "Deps") -> dict[str, Any]:
    """Before the handler runs, in a short read of its own (the update's session
    has no connection yet; on SQLite a handler's own short writes need the only one)."""
    found = await deps.chat_contexts.get(msg.platform, KEY_PREFIX + msg.chat_id) if deps.chat_contexts else None
    choices = (found or {}).get("choices")
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        return {"choices": []}
    return {**found, "choices": choices}


async def _save(msg: Incoming, turn: "Turn", state: dict[str, Any]) -> None:
    """In the update's transaction when there is one: it commits with what the
    handler wrote, and the update may already hold SQLite's only connection."""
    key = (msg.platform, KEY_PREFIX + msg.chat_id)
    if turn.session is not None:
        from bot.storage import repo

        await repo.save_chat_contexts(turn.session, {key: (msg.user_id, state)}, turn.deps.clock())
    elif turn.deps.chat_contexts is not None:
        await turn.deps.chat_contexts.put(key[0], key[1], msg.user_id, state)
