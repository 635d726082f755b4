"""Messages the bot cannot read: voice notes, photos, stickers, locations, files, videos.

Every such message gets one short reply that says what the bot can read
(text), and, when a dialog is open, that it is still open and how to leave
it. A photo with a caption is not one of these: the caption is its text.
"""

from __future__ import annotations

from bot.deps import Turn
from bot.messages import Incoming, Reply
from bot.router import Router

router = Router()

CANNOT_READ = {
    "voice": "Mình chưa nghe được tin nhắn thoại.",
    "photo": "Mình chưa xem được hình ảnh.",
    "sticker": "Mình chưa hiểu được nhãn dán (sticker).",
    "location": "Mình chưa dùng được vị trí bạn gửi.",
    "file": "Mình chưa đọc được tệp đính kèm.",
    "video": "Mình chưa xem được video.",
}
UNKNOWN_KIND = "Mình chưa đọc được loại tin nhắn này."
READS_TEXT = (
    "Mình chỉ đọc được tin nhắn bằng chữ: bạn gõ câu hỏi về Nghị quyết 05 (có dấu hay không dấu "
    "đều được), hoặc gõ /help để xem các lệnh nhé."
)
DIALOG_OPEN = "Bạn đang {about} dở: cứ gõ tiếp bằng chữ nhé, hoặc gõ /huy nếu muốn dừng."


@router.media
async def cannot_read(msg: Incoming, turn: Turn) -> list[Reply]:
    """A message without text: say what the bot reads; an open dialog stays open."""
    dialog = turn.deps.router.find_dialog(await turn.dialogs.current(msg.platform, msg.user_id))
    follow = DIALOG_OPEN.format(about=dialog.about) if dialog else READS_TEXT
    return [Reply(f"{CANNOT_READ.get(msg.media, UNKNOWN_KIND)} {follow}")]
