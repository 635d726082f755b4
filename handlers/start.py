"""Welcome and help texts (/start, /help), and the buttons that run a command ("cmd:<name>")."""

from __future__ import annotations

from dataclasses import replace

from bot.deps import Turn
from bot.messages import Incoming, Reply
from bot.router import STALE_BUTTON, Router
from handlers.conversation import COMMAND_PREFIX, menu_buttons

router = Router()

WELCOME = (
    "Xin chào! Mình là trợ lý hỏi đáp về Nghị quyết 05 của Thành ủy Hải Phòng "
    "về xây dựng mô hình «Chủ nghĩa xã hội» gắn với con người «Xã hội chủ nghĩa» "
    "(giai đoạn 2026 – 2030).\n\n"
    "Bạn cứ gõ câu hỏi bằng tiếng Việt, có dấu hay không dấu đều được. "
    "Mình trả lời bằng cách trích nguyên văn và ghi rõ mục trong văn bản."
)


@router.command("start", "Bắt đầu")
async def start(msg: Incoming, turn: Turn) -> list[Reply]:
    """Bắt đầu trò chuyện."""
    return [Reply.with_buttons(WELCOME, *menu_buttons())]


@router.command("help", "Hướng dẫn sử dụng")
async def show_help(msg: Incoming, turn: Turn) -> list[Reply]:
    """Hướng dẫn sử dụng."""
    from handlers.qa import conversation_of

    return [conversation_of(turn.deps).help_reply()]


@router.button(COMMAND_PREFIX)
async def run_command(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "cmd:<name>": the same as typing /<name> (offered when someone asks how to do it)."""
    name = (msg.callback_data or "").partition(":")[2]
    command = next((c for c in turn.deps.router.public_commands() if c.name == name), None)
    if command is None:
        return [Reply(STALE_BUTTON)]
    return await command.handler(replace(msg, text=f"/{name}", text_lines=f"/{name}", callback_data=None), turn)

