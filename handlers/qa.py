"""Answer a resident's free-text question by quoting the source text.

The answer is always the retrieved passage(s), verbatim, with their section
path. When the text does not cover the question, the bot says so, points to
the nearest topics and to the menus, and never makes up an answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.deps import Deps
from bot.messages import Button, Incoming, Reply
from handlers.browse import model_button
from handlers.quoting import quote
from handlers.ratings import RATE_PREFIX, rating_row, record_answer  # noqa: F401 (re-exported)
from retrieval.searcher import Hit, SearchResult
from vntext.normalize import fold, has_diacritics, is_mostly_letters

MAX_QUESTION_CHARS = 1000
# A second passage is quoted too when it scores nearly as well as the first.
SECOND_QUOTE_RATIO = 0.9

EMPTY = (
    "Bạn chưa nhập câu hỏi. Hãy gõ điều bạn muốn biết về Nghị quyết 05, "
    "ví dụ: «11 mô hình trọng tâm là gì?»"
)
NOT_TEXT = (
    "Mình chưa hiểu tin nhắn này. Bạn hãy gõ câu hỏi bằng chữ, ví dụ: "
    "«Tiêu chí con người xã hội chủ nghĩa gồm những gì?»"
)
TOO_LONG = (
    "Câu hỏi dài quá ({length} ký tự). Bạn vui lòng rút gọn dưới {limit} ký tự "
    "và gửi lại giúp mình nhé."
)
DECLINE = (
    "Xin lỗi, văn bản Nghị quyết 05 và Bộ tiêu chí mà mình có chưa đề cập đến điều bạn hỏi, "
    "nên mình không trả lời để tránh đưa thông tin không chính xác."
)
ENGLISH_NOTE = "(Sorry, I can only answer questions in Vietnamese about Hải Phòng's Resolution 05.)"
NEAREST = "Có thể bạn quan tâm:"
MENUS = "Bạn cũng có thể xem 11 mô hình trọng tâm (/mohinh) hoặc bộ tiêu chí (/tieuchi)."

_ENGLISH_HINTS = frozenset("the what who how is are was were do does did of and you your which when where why".split())


@dataclass(frozen=True)
class Answer:
    text: str
    confident: bool
    result: SearchResult | None


def problem_with(question: str) -> str | None:
    """A friendly reply for input that is not a question we can search, else None."""
    if not question:
        return EMPTY
    if len(question) > MAX_QUESTION_CHARS:
        return TOO_LONG.format(length=len(question), limit=MAX_QUESTION_CHARS)
    if not is_mostly_letters(question):
        return NOT_TEXT
    return None


def compose(result: SearchResult) -> Answer:
    if result.confident and result.hits:
        return Answer(_quote_answer(result.hits), True, result)
    return Answer(_decline(result), False, result)


def _quote_answer(hits: list[Hit]) -> str:
    parts = ["Theo văn bản:", quote(hits[0].passage)]
    if len(hits) > 1 and hits[1].score >= SECOND_QUOTE_RATIO * hits[0].score:
        parts.append(quote(hits[1].passage))
    return "\n\n".join(parts)


def _decline(result: SearchResult) -> str:
    parts = [DECLINE]
    if _looks_english(result.question):
        parts.append(ENGLISH_NOTE)
    topics = _nearest_sections(result.hits)
    if topics:
        parts.append(NEAREST + "\n" + "\n".join(f"• {t}" for t in topics))
    parts.append(MENUS)
    return "\n\n".join(parts)


def _nearest_sections(hits: list[Hit], limit: int = 3) -> list[str]:
    seen: list[str] = []
    for hit in hits:
        if hit.passage.section not in seen:
            seen.append(hit.passage.section)
    return seen[:limit]


def _looks_english(text: str) -> bool:
    words = fold(text).split()
    return not has_diacritics(text) and sum(w.strip("?!.,") in _ENGLISH_HINTS for w in words) >= 1


async def answer_question(msg: Incoming, deps: Deps) -> list[Reply]:
    """Trả lời câu hỏi về Nghị quyết 05 bằng trích dẫn văn bản."""
    problem = problem_with(msg.text)
    if problem:
        return [Reply(problem)]
    result = deps.search_ahead or await deps.searcher.search(msg.text, k=deps.settings.top_k)
    answer = compose(result)
    answer_id = await record_answer(msg, deps, result, answer.confident)   # declines too
    named_model = deps.knowledge.catalog.find_model(msg.text)
    model_row = [model_button(named_model)] if named_model else []
    if answer.confident:
        # The rating buttons carry the answer-log id (handlers/ratings.py).
        return [Reply.with_buttons(answer.text, rating_row(answer_id), model_row)]
    topics = [Button(f"📄 {h.passage.section_path[-1]}", f"p:{h.passage.id}") for h in result.hits[:2]]
    return [Reply.with_buttons(answer.text, topics, [
        Button("11 mô hình", "m:list"), Button("Bộ tiêu chí", "t:root"),
    ])]


async def show_passage(msg: Incoming, deps: Deps) -> list[Reply]:
    """Button "p:<passage id>": quote one passage in full."""
    passage_id = (msg.callback_data or "").partition(":")[2]
    passage = deps.knowledge.corpus.by_id().get(passage_id)
    if passage is None:
        return [Reply("Đoạn văn này không còn trong cơ sở tri thức. Bạn gõ lại câu hỏi giúp mình nhé.")]
    return [Reply(quote(passage))]
