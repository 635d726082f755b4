"""Free text in the chat: the conversation's reply, plus what needs storage.

What the bot says is decided by handlers/conversation.py (the same code
`civicbot ask` runs). This handler adds the chat's side: the answer log
(every answer and decline; declines also go to the question inbox), the
👍/👎 buttons on answers, the "Gửi câu hỏi này tới cán bộ" button on
declines, and the chat's context for follow-ups. It also serves the buttons
that open a passage ("p:") or one list item ("i:") whole.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.deps import Deps, Turn
from bot.messages import Button, Incoming, Reply
from bot.router import Router
from bot.storage import StorageUnavailable, repo, transaction
from handlers.browse import model_button
from handlers.context import recall, remember
from handlers.forms import in_place
from handlers.conversation import (  # noqa: F401 (EMPTY, NOT_TEXT, problem_with: re-exported)
    EMPTY,
    ITEM_PAGE_PREFIX,
    NOT_TEXT,
    Conversation,
    problem_with,
)
from handlers.quoting import quote
from handlers.ward_scope import search_question
from handlers.ratings import RATE_PREFIX, rating_row, record_answer  # noqa: F401 (re-exported)
from knowledge.enumerations import ITEM_PREFIX

router = Router()

PASSAGE_PREFIX = "p"            # button data "p:<passage id>": quote that passage in full

FORWARD_PREFIX = "hoi"
FORWARD_LABEL = "📨 Gửi câu hỏi này tới cán bộ"
FORWARDED = ("Mình đã gửi câu hỏi của bạn tới cán bộ phụ trách. Khi có câu trả lời, cán bộ có thể "
             "nhắn lại bạn tại đây. Cảm ơn bạn!")
FORWARDED_NO_WARD = ("Nếu bạn đăng ký nhận tin bằng /dangky, các câu hỏi sau sẽ kèm phường/xã của bạn "
                     "để cán bộ địa phương tiện hỗ trợ.")
ALREADY_FORWARDED = "Câu hỏi này đã được gửi tới cán bộ rồi, bạn không cần gửi lại nhé."
NOT_FORWARDABLE = ("Mình không gửi được câu hỏi này (lựa chọn có thể đã cũ, hoặc câu hỏi là của người khác). "
                   "Bạn gõ lại câu hỏi giúp mình nhé.")
NO_INBOX = "Xin lỗi, hiện mình chưa chuyển được câu hỏi tới cán bộ. Bạn vui lòng thử lại sau nhé."
GONE = "Đoạn văn này không còn trong cơ sở tri thức. Bạn gõ lại câu hỏi giúp mình nhé."

_conversations: dict[tuple[int, int], tuple[int, Conversation]] = {}


def conversation_of(deps: Deps) -> Conversation:
    """The conversation over the knowledge as it stands: built once, and again when a
    document is published, replaced or withdrawn (the live index's generation changes)."""
    key = (id(deps.knowledge), id(deps.router))
    generation = getattr(deps.knowledge, "generation", 0)
    cached = _conversations.get(key)
    if cached is None or cached[0] != generation:
        help_lines = [c.help_line for c in deps.router.public_commands()]
        cached = (generation, Conversation(deps.knowledge, help_lines, deps.settings.referral_line))
        _conversations[key] = cached
    return cached[1]


@router.prefetch
def start_search(msg: Incoming, deps: Deps):
    """Free text is nearly always a question: its search starts as soon as it arrives
    (the pipeline runs it while it checks the rest; see bot/pipeline.py)."""
    if problem_with(msg.text):
        return None
    return search_question(msg, deps)


@router.text
async def answer_question(msg: Incoming, turn: Turn) -> list[Reply]:
    """Trả lời câu hỏi về Nghị quyết 05 bằng trích dẫn văn bản."""
    conversation = conversation_of(turn.deps)
    response = await conversation.respond(
        msg.text,
        search=lambda question: turn.deps.searcher.search(question, k=turn.deps.settings.top_k),
        recall=lambda: recall(msg, turn.deps),
        search_ahead=turn.search_ahead,
        can_forward=turn.deps.answer_log is not None,
    )
    if not response.logged:
        await remember(msg, turn.deps, response.context)
        return [response.reply]
    answer_id = await record_answer(msg, turn.deps, response)
    if answer_id is None:                       # nothing stored: keep the context in memory
        await remember(msg, turn.deps, response.context)
    reply = response.reply
    if response.kind == "decline":
        forward = [Button(FORWARD_LABEL, f"{FORWARD_PREFIX}:{answer_id}")] if answer_id is not None else []
        return [replace(reply, buttons=(tuple(forward), *reply.buttons) if forward else reply.buttons)]
    # The rating buttons carry the answer-log id (handlers/ratings.py).
    rows = [*reply.buttons, tuple(rating_row(answer_id))]
    named_model = turn.deps.knowledge.catalog.find_model(msg.text) if response.kind == "answer" else None
    if named_model:
        rows.append((model_button(named_model),))
    return [replace(reply, buttons=tuple(r for r in rows if r))]


@router.button(PASSAGE_PREFIX)
async def show_passage(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "p:<passage id>": quote one passage in full."""
    passage_id = (msg.callback_data or "").partition(":")[2]
    passage = turn.deps.knowledge.corpus.by_id().get(passage_id)
    if passage is None:
        return [Reply(GONE)]
    response = conversation_of(turn.deps).open_section(passage.id.rsplit(".", 1)[0], focus=passage.id)
    await remember(msg, turn.deps, response.context)
    return [Reply(quote(passage), buttons=response.reply.buttons if response.kind == "follow_up" else ())]


@router.button(ITEM_PREFIX)
async def show_list_item(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "i:<section id>:<n>": list item n of a section, whole."""
    section_id, _, index = (msg.callback_data or "").partition(":")[2].rpartition(":")
    if not section_id or not re.fullmatch(r"[0-9]{1,3}", index):
        return [Reply(GONE)]
    response = conversation_of(turn.deps).show_list_item(section_id, int(index))
    await remember(msg, turn.deps, response.context)
    return [response.reply]


@router.button(ITEM_PAGE_PREFIX)
async def turn_list_item(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "iv:<section id>:<n>": as "i:…", in place of the item shown (a page turn)."""
    return in_place(await show_list_item(msg, turn))


@router.button(FORWARD_PREFIX)
async def forward_to_officials(msg: Incoming, turn: Turn) -> list[Reply]:
    """Button "hoi:<answer id>": send a declined question on to officials (once)."""
    payload = (msg.callback_data or "").partition(":")[2]
    if not re.fullmatch(r"[0-9]{1,12}", payload):
        return [Reply(NOT_FORWARDABLE)]
    try:
        async with transaction(turn) as session:
            outcome = await repo.forward_question(session, int(payload), msg.platform, msg.user_id,
                                                  msg.chat_id, turn.deps.clock())
            resident = await repo.find_resident(session, msg.platform, msg.user_id)
    except StorageUnavailable:
        return [Reply(NO_INBOX)]
    if outcome == repo.FORWARDED:
        text = FORWARDED if resident is None or resident.ward else f"{FORWARDED}\n\n{FORWARDED_NO_WARD}"
        return [Reply(text)]
    return [Reply(ALREADY_FORWARDED if outcome == repo.ALREADY_FORWARDED else NOT_FORWARDABLE)]
