"""The answer log behind Q&A, and the 👍/👎 buttons under each answer.

Every answer (and every decline) is logged; declined questions also go to
the question inbox officials work from. The rating buttons carry the log id
("rate:up:123"). Only the resident who got the answer can rate it, once:
the first tap counts and later taps (either button, or a replayed callback)
change nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.deps import Deps, Turn
from bot.messages import Button, Incoming, Reply
from bot.router import Router
from bot.storage import repo, transaction
from handlers.privacy import stored_text

if TYPE_CHECKING:
    from handlers.conversation import Response

router = Router()

RATE_PREFIX = "rate"
VALUES = {"up": 1, "down": -1}

THANKS_UP = "Cảm ơn bạn đã đánh giá! Mình rất vui vì câu trả lời có ích. 👍"
THANKS_DOWN = (
    "Cảm ơn bạn đã cho biết. Mình đã ghi nhận để cải thiện câu trả lời. "
    "Nếu muốn, bạn có thể góp ý chi tiết hơn bằng lệnh /gopy."
)
ALREADY = "Bạn đã đánh giá câu trả lời này rồi, mình giữ nguyên đánh giá đầu tiên. Cảm ơn bạn!"
NOT_RATABLE = (
    "Mình không ghi nhận được đánh giá cho câu trả lời này (lựa chọn có thể đã cũ, hoặc câu trả lời "
    "dành cho người khác). Mọi thứ vẫn giữ nguyên."
)


async def record_answer(msg: Incoming, deps: Deps, response: "Response") -> int | None:
    """Log the answer (a decline also into the question inbox) and the chat's context for
    follow-ups; the log id, or None without storage.

    Through the group-commit writer, not the update's transaction: under load
    one short transaction records the answers of every question in flight.
    The row is committed before the answer is sent.
    """
    if deps.answer_log is None:
        return None
    result = response.result
    if response.shown:
        top = response.shown[0].id
    else:
        top = result.hits[0].passage.id if result is not None and result.hits else None
    confidence = float(result.confidence) if result is not None else 1.0
    context = response.context.to_dict() if response.context is not None else None
    return await deps.answer_log.record(repo.AnswerEntry(
        msg.platform, msg.user_id, msg.display_name, stored_text(deps, msg.text), top, response.confident, confidence,
        deps.clock(), msg.chat_id, context))


def rating_row(answer_id: int | None) -> list[Button]:
    if answer_id is None:
        return []
    return [
        Button("👍 Hữu ích", f"{RATE_PREFIX}:up:{answer_id}"),
        Button("👎 Chưa đúng", f"{RATE_PREFIX}:down:{answer_id}"),
    ]


@router.button(RATE_PREFIX)
async def on_rate(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "rate:up|down:<answer id>"."""
    parts = (msg.callback_data or "").split(":")
    if len(parts) != 3 or parts[1] not in VALUES or not re.fullmatch(r"[0-9]{1,12}", parts[2]):
        return [Reply(NOT_RATABLE)]
    value, answer_id = VALUES[parts[1]], int(parts[2])
    async with transaction(turn) as session:
        outcome = await repo.rate_answer(session, answer_id, msg.platform, msg.user_id, value, turn.deps.clock())
    if outcome == repo.RATED:
        return [Reply(THANKS_UP if value > 0 else THANKS_DOWN)]
    if outcome == repo.ALREADY_RATED:
        return [Reply(ALREADY)]
    return [Reply(NOT_RATABLE)]
