"""Answer a resident's free-text question by quoting the source text.

The answer is always the retrieved passage(s), verbatim, with their section
path. When the text does not cover the question, the bot says so, points to
the nearest topics and to the menus, and never makes up an answer.
"""

from __future__ import annotations

from bot.deps import Deps
from bot.messages import Button, Incoming, Reply
from bot.router import Router
from handlers.answers import EMPTY, MAX_QUESTION_CHARS, NOT_TEXT, compose, problem_with  # noqa: F401 (re-exported)
from handlers.browse import CRITERIA_ROOT, MODEL_LIST, model_button
from handlers.quoting import quote
from handlers.ratings import RATE_PREFIX, rating_row, record_answer  # noqa: F401 (re-exported)
from knowledge.quiz import strip_number

router = Router()

PASSAGE_PREFIX = "p"            # button data "p:<passage id>": quote that passage in full


@router.text
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
    topics = [Button(f"📄 {h.passage.section_path[-1]}", f"{PASSAGE_PREFIX}:{h.passage.id}",
                     f"📄 {strip_number(h.passage.section_path[-1])}") for h in result.hits[:2]]
    return [Reply.with_buttons(answer.text, topics, [
        Button("11 mô hình", MODEL_LIST), Button("Bộ tiêu chí", CRITERIA_ROOT),
    ])]


@router.button(PASSAGE_PREFIX)
async def show_passage(msg: Incoming, deps: Deps) -> list[Reply]:
    """Button "p:<passage id>": quote one passage in full."""
    passage_id = (msg.callback_data or "").partition(":")[2]
    passage = deps.knowledge.corpus.by_id().get(passage_id)
    if passage is None:
        return [Reply("Đoạn văn này không còn trong cơ sở tri thức. Bạn gõ lại câu hỏi giúp mình nhé.")]
    return [Reply(quote(passage))]
