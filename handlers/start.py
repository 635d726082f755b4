"""Welcome and help texts: /start, /help."""

from __future__ import annotations

from bot.deps import Deps
from bot.messages import Button, Incoming, Reply
from bot.router import Router
from handlers.browse import CRITERIA_ROOT, MODEL_LIST

router = Router()

WELCOME = (
    "Xin chào! Mình là trợ lý hỏi đáp về Nghị quyết 05 của Thành ủy Hải Phòng "
    "về xây dựng mô hình «Chủ nghĩa xã hội» gắn với con người «Xã hội chủ nghĩa» "
    "(giai đoạn 2026 – 2030).\n\n"
    "Bạn cứ gõ câu hỏi bằng tiếng Việt, có dấu hay không dấu đều được. "
    "Mình trả lời bằng cách trích nguyên văn và ghi rõ mục trong văn bản."
)
EXAMPLE = "Hoặc gõ thẳng câu hỏi, ví dụ: «Tiêu chí con người xã hội chủ nghĩa gồm những gì?»"


def menu_buttons() -> list[list[Button]]:
    return [
        [Button("11 mô hình", MODEL_LIST), Button("Bộ tiêu chí", CRITERIA_ROOT)],
    ]


@router.command("start", "Bắt đầu")
async def start(msg: Incoming, deps: Deps) -> list[Reply]:
    """Bắt đầu trò chuyện."""
    return [Reply.with_buttons(WELCOME, *menu_buttons())]


@router.command("help", "Hướng dẫn sử dụng")
async def show_help(msg: Incoming, deps: Deps) -> list[Reply]:
    """Hướng dẫn sử dụng."""
    lines = ["Các lệnh bạn có thể dùng:"]
    lines += [c.help_line for c in deps.router.public_commands()]
    lines.append(EXAMPLE)
    return [Reply.with_buttons("\n".join(lines), *menu_buttons())]
