"""/quiz: rounds of multiple-choice questions on the criteria and the 11 models.

A member picks a topic (tiêu chí CNXH, tiêu chí con người XHCN, 11 mô hình,
or mixed) and gets `QuizSettings.round_size` questions chosen by spaced
repetition (`knowledge.quiz_schedule`): questions missed before come back.
Each question is a `Reply` with a `QuizPoll`: a native quiz poll on
Telegram, numbered options on Zalo and in the terminal. After each answer:
right or wrong, the explanation and the source passage (section path and
verbatim text), then the next question; at the end the score, the time
taken, the questions missed with their sources, and buttons to play again.

Button and answer data:

    qa:<token>.<n>:<option>     answer question n of the round (option as displayed)
    qz:n:<nonce>:<topic>        start a round from a menu (the nonce: a double tap starts one)
    qz:menu                     the topic menu
    qz:<token>:skip:<n>         skip question n (also moves on once its time is up)
    qz:<token>:stop             end the round now (scored as it stands)
    qz:<token>:resume           show the current question again

One answer per question (`bot.storage.quiz_repo.settle`): a replayed
callback, a double tap, a second PollAnswer or an answer for an older
question changes nothing and gets a short note. An answer arriving after
the time limit (plus a little grace for the network) is not scored: the
question counts as timed out and the round moves on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.deps import Deps, Turn
from bot.messages import QUIZ_ANSWER_PREFIX, Button, Incoming, QuizPoll, Reply
from bot.router import Router
from bot.storage import quiz_repo, repo, transaction
from bot.storage.quiz_models import ANSWERED, DONE, OPEN, SKIPPED, TIMED_OUT, QuizRound
from handlers.forms import button_parts, new_token, valid_token
from handlers.leaderboard import PREFIX as LEADERBOARD_PREFIX
from knowledge.quiz import TOPIC_TITLES, QuizQuestion, shorten
from knowledge.quiz_schedule import (
    MIXED,
    TOPIC_LABELS,
    QuestionBank,
    option_order,
    pick_round,
    round_rng,
)
from vntext.normalize import fold

router = Router()

PREFIX = "qz"
ANSWER_PREFIX = QUIZ_ANSWER_PREFIX
LEADERBOARD_DATA = f"{LEADERBOARD_PREFIX}:w:m"        # handlers.leaderboard: this week, members

# Short topic codes for button data.
TOPIC_CODES = {"cnxh": "tieu_chi_cnxh", "cn": "tieu_chi_con_nguoi", "mh": "mo_hinh", "mix": MIXED}
CODE_OF = {topic: code for code, topic in TOPIC_CODES.items()}
MIXED_TITLE = "Tổng hợp: bộ tiêu chí và 11 mô hình"

MENU = (
    "🎯 Đố vui về Nghị quyết 05\n"
    "Mỗi bài có {size} câu trắc nghiệm{limit}. Sau mỗi câu, mình gửi kèm đoạn văn bản gốc làm căn cứ. "
    "Câu nào bạn trả lời chưa đúng sẽ được hỏi lại ở các bài sau để bạn nhớ lâu hơn.\n"
    "Điểm của bạn được tính vào /bangxephang (hiển thị tên của bạn khi bạn làm đủ {min_rounds} bài).\n\n"
    "Bạn chọn chủ đề nhé:"
)
OPEN_ROUND_NOTE = (
    "Bạn đang làm dở một bài ({done}/{size} câu). Chọn «Tiếp tục bài đang làm» để làm tiếp. Nếu bắt đầu bài mới, "
    "bài cũ sẽ kết thúc và được tính điểm theo các câu đã trả lời.\n\n"
)
STARTED = "🎯 Bắt đầu bài thứ {number} của bạn: {size} câu – {title}.{closed} Chúc bạn làm bài tốt!"
CLOSED_NOTE = " Bài đang làm dở trước đó đã kết thúc."
ALREADY_STARTED = "Bài này đã bắt đầu rồi. Bạn trả lời câu hỏi đang mở, hoặc chọn «Tiếp tục» để xem lại câu đó nhé."
OLD_MENU = "Lựa chọn này thuộc một bài đã làm xong. Gõ /quiz để làm bài mới nhé."
ALREADY_ANSWERED = "Bạn đã trả lời câu này rồi, mình chỉ tính lần trả lời đầu tiên nhé."
ROUND_OVER = "Bài đố vui này đã kết thúc nên câu trả lời không được tính nữa. Gõ /quiz để làm bài mới nhé."
NOT_CURRENT = "Câu hỏi này không còn hiệu lực. Bạn trả lời câu hỏi mới nhất, hoặc gõ /quiz để xem lại nhé."
NOT_YOURS = "Câu hỏi này thuộc bài đố vui của người khác. Gõ /quiz để làm bài của riêng bạn nhé."
INVALID = "Lựa chọn hoặc câu trả lời này không hợp lệ nên mình chưa ghi nhận gì. Gõ /quiz để làm bài mới nhé."
NOTHING_OPEN = "Bạn không có bài đố vui nào đang làm dở. Gõ /quiz để bắt đầu nhé."
BANK_CHANGED = "Bộ câu hỏi vừa được cập nhật nên bài này dừng tại đây. Gõ /quiz để làm bài mới nhé."

SKIP_LABEL = "⏭ Bỏ qua"
STOP_LABEL = "⏹ Dừng bài"


# ---------------------------------------------------------------- helpers

def _limit(deps: Deps) -> int:
    return deps.settings.quiz.time_limit_seconds


def _is_late(deps: Deps, rnd: QuizRound, now: datetime) -> bool:
    limit = _limit(deps)
    return bool(limit) and now - rnd.asked_at > timedelta(seconds=limit + deps.settings.quiz.grace_seconds)


def _title(topic: str) -> str:
    return MIXED_TITLE if topic == MIXED else TOPIC_TITLES.get(topic, topic)


def _duration(delta: timedelta) -> str:
    seconds = max(0, int(round(delta.total_seconds())))
    minutes, seconds = divmod(seconds, 60)
    if minutes >= 60:
        hours, minutes = divmod(minutes, 60)
        return f"{hours} giờ {minutes} phút"
    return f"{minutes} phút {seconds} giây" if minutes else f"{seconds} giây"


def _topic_buttons(nonce: str) -> list[list[Button]]:
    return [
        [Button(TOPIC_LABELS["tieu_chi_cnxh"], f"{PREFIX}:n:{nonce}:cnxh"),
         Button(TOPIC_LABELS["tieu_chi_con_nguoi"], f"{PREFIX}:n:{nonce}:cn")],
        [Button(TOPIC_LABELS["mo_hinh"], f"{PREFIX}:n:{nonce}:mh"),
         Button(TOPIC_LABELS[MIXED], f"{PREFIX}:n:{nonce}:mix")],
    ]


def _topic_from_text(text: str) -> str | None:
    """"/quiz mo hinh", "/quiz cnxh", ... → the topic, or None."""
    folded = " ".join(fold(text).split())
    if not folded:
        return None
    if "mo hinh" in folded or folded in ("mh", "11"):
        return "mo_hinh"
    if "con nguoi" in folded or "xhcn" in folded or folded == "cn":
        return "tieu_chi_con_nguoi"
    if "cnxh" in folded or "chu nghia xa hoi" in folded:
        return "tieu_chi_cnxh"
    if "tong hop" in folded or folded in ("mix", "tat ca"):
        return MIXED
    return None


async def _bank(deps: Deps) -> QuestionBank:
    return await deps.quiz_bank.get(deps.knowledge)


def question_reply(deps: Deps, bank: QuestionBank, rnd: QuizRound, position: int) -> Reply | None:
    """Question ``position`` of the round, options in the round's order; None if the bank lost it."""
    question = bank.get(rnd.question_ids[position])
    if question is None:
        return None
    order = option_order(rnd.token, position, len(question.options))
    poll = QuizPoll(
        key=quiz_repo.answer_key(rnd.token, position),
        question=question.question,
        options=tuple(question.options[i] for i in order),
        correct=order.index(question.answer),
        explanation=question.explanation,
        open_period=_limit(deps) or None,
    )
    controls = [Button(SKIP_LABEL, f"{PREFIX}:{rnd.token}:skip:{position}"),
                Button(STOP_LABEL, f"{PREFIX}:{rnd.token}:stop")]
    return Reply(f"Câu {position + 1}/{rnd.size}", (tuple(controls),), quiz=poll)


def source_block(question: QuizQuestion) -> str:
    return f"📖 Căn cứ – {question.source_section}:\n«{question.source_text}»"


def feedback_reply(deps: Deps, question: QuizQuestion, outcome: str, correct: bool) -> Reply:
    right = question.options[question.answer]
    if outcome == ANSWERED and correct:
        head = "✅ Chính xác!"
    elif outcome == ANSWERED:
        head = f"❌ Chưa đúng. Đáp án đúng: «{right}»."
    elif outcome == SKIPPED:
        head = f"⏭ Bạn đã bỏ qua câu này. Đáp án đúng: «{right}»."
    else:
        head = (f"⏰ Câu này đã hết thời gian ({_limit(deps)} giây) nên câu trả lời không được tính. "
                f"Đáp án đúng: «{right}».")
    return Reply(f"{head}\n{question.explanation}\n\n{source_block(question)}")


async def _summary(deps: Deps, session, bank: QuestionBank, rnd: QuizRound, stopped: bool) -> list[Reply]:
    answers = await quiz_repo.round_answers(session, rnd.id)
    finished = rnd.finished_at or deps.clock()
    lines = ["🏁 Bạn đã hoàn thành bài đố vui!" if not stopped else
             f"⏹ Bạn đã dừng bài sau {rnd.position}/{rnd.size} câu; các câu chưa làm được tính là chưa đúng."]
    lines.append(f"Kết quả: {rnd.score}/{rnd.size} câu đúng.")
    lines.append(f"Thời gian: {_duration(finished - rnd.started_at)}.")
    missed = [a for a in answers if not a.correct]
    if not missed and rnd.score == rnd.size:
        lines.append("\nTuyệt vời, bạn trả lời đúng tất cả các câu! 🎉")
    elif missed:
        lines.append("\nCác câu chưa đúng (sẽ được hỏi lại ở các bài sau):")
        for answer in missed:
            question = bank.get(answer.question_id)
            if question is None:
                continue
            lines.append(
                f"\n• Câu {answer.position + 1}: {shorten(question.question.replace(chr(10), ' '), 160)}\n"
                f"  Đáp án: {question.options[question.answer]}\n"
                f"  📖 {question.source_section}: «{shorten(question.source_text.replace(chr(10), ' '), 220)}»"
            )
    lines.append("\nBạn làm thêm một bài nữa nhé? Mỗi bài đều được tính vào /bangxephang.")
    code = CODE_OF.get(rnd.topic, "mix")
    return [Reply.with_buttons(
        "\n".join(lines),
        [Button("🔁 Làm bài mới", f"{PREFIX}:n:{new_token()}:{code}"), Button("📚 Chủ đề khác", f"{PREFIX}:menu")],
        [Button("🏆 Bảng xếp hạng", LEADERBOARD_DATA)],
    )]


# ---------------------------------------------------------------- commands and buttons

@router.command("quiz", "Đố vui 10 câu về bộ tiêu chí và 11 mô hình")
async def start_quiz(msg: Incoming, turn: Turn) -> list[Reply]:
    """Đố vui 10 câu về bộ tiêu chí và 11 mô hình."""
    topic = _topic_from_text(msg.args)
    if topic is not None:
        return await _start_round(msg, turn, topic, None)
    return await _menu(msg, turn)


async def _menu(msg: Incoming, turn: Turn) -> list[Reply]:
    settings = turn.deps.settings.quiz
    async with transaction(turn) as session:
        resident = await repo.find_resident(session, msg.platform, msg.user_id)
        current = await quiz_repo.open_round(session, resident.id) if resident else None
    limit = f", mỗi câu {settings.time_limit_seconds} giây" if settings.time_limit_seconds else ""
    text = MENU.format(size=settings.round_size, limit=limit, min_rounds=settings.min_rounds)
    rows = _topic_buttons(new_token())
    if current is not None:
        text = OPEN_ROUND_NOTE.format(done=current.position, size=current.size) + text
        rows.insert(0, [Button("▶️ Tiếp tục bài đang làm", f"{PREFIX}:{current.token}:resume")])
    return [Reply.with_buttons(text, *rows)]


@router.button(PREFIX)
async def on_button(msg: Incoming, turn: Turn) -> list[Reply]:
    """Buttons "qz:n:<nonce>:<topic>", "qz:menu", "qz:<token>:skip:<n>|stop|resume"."""
    parts = button_parts(msg, PREFIX)
    if parts == ["menu"]:
        return await _menu(msg, turn)
    if not parts or len(parts) > 3:
        return [Reply(INVALID)]
    if parts[0] == "n":
        if len(parts) != 3 or not valid_token(parts[1]) or parts[2] not in TOPIC_CODES:
            return [Reply(INVALID)]
        return await _start_round(msg, turn, TOPIC_CODES[parts[2]], parts[1])
    if len(parts) < 2 or not valid_token(parts[0]):
        return [Reply(INVALID)]
    token, action = parts[0], parts[1]
    if action == "skip" and len(parts) == 3 and parts[2].isascii() and parts[2].isdigit():
        return await _settle(msg, turn, token, int(parts[2]), None)
    if action == "stop" and len(parts) == 2:
        return await _stop(msg, turn, token)
    if action == "resume" and len(parts) == 2:
        return await _resume(msg, turn, token)
    return [Reply(INVALID)]


@router.button(ANSWER_PREFIX)
async def on_answer(msg: Incoming, turn: Turn) -> list[Reply]:
    """Answers "qa:<token>.<n>:<option>": a numbered option, or a Telegram PollAnswer."""
    head, _, rest = (msg.callback_data or "").partition(":")
    key, _, option = rest.rpartition(":")
    parsed = quiz_repo.parse_answer_key(key) if head == ANSWER_PREFIX else None
    if parsed is None or not (option.isascii() and option.isdigit() and len(option) <= 2):
        return [Reply(INVALID)]
    token, position = parsed
    return await _settle(msg, turn, token, position, int(option))


async def _start_round(msg: Incoming, turn: Turn, topic: str, menu_token: str | None) -> list[Reply]:
    bank = await _bank(turn.deps)
    settings = turn.deps.settings.quiz
    now = turn.deps.clock()
    async with transaction(turn) as session:
        resident = await repo.ensure_resident(session, msg.platform, msg.user_id, msg.display_name, now)
        if menu_token is not None:
            earlier = await quiz_repo.round_by_menu_token(session, resident.id, menu_token)
            if earlier is not None:
                return [_already_started(earlier)]
        number = await quiz_repo.next_round_number(session, resident.id)
        states = await quiz_repo.card_states(session, resident.id)
        rng = round_rng(settings.seed, resident.id, number)
        picked = pick_round(bank, topic, states, number, settings.round_size, rng)
        if not picked:
            return [Reply("Chủ đề này hiện chưa có câu hỏi. Bạn chọn chủ đề khác giúp mình nhé.")]
        rnd = await quiz_repo.create_round(
            session, resident_id=resident.id, platform=msg.platform, token=new_token(), menu_token=menu_token,
            topic=topic, number=number, question_ids=[q.id for q in picked], now=now,
        )
        if rnd is None:          # the same menu button, pressed twice at once
            earlier = await quiz_repo.round_by_menu_token(session, resident.id, menu_token or "")
            return [_already_started(earlier)] if earlier else [Reply(ALREADY_STARTED)]
        closed = await quiz_repo.close_open_rounds(session, resident.id, now, keep=rnd.id)
    intro = STARTED.format(number=number, size=rnd.size, title=_title(topic), closed=CLOSED_NOTE if closed else "")
    first = question_reply(turn.deps, bank, rnd, 0)
    assert first is not None
    return [Reply(intro), first]


def _already_started(rnd: QuizRound) -> Reply:
    if rnd.status != OPEN:
        return Reply(OLD_MENU)
    return Reply.with_buttons(ALREADY_STARTED, [Button("▶️ Tiếp tục", f"{PREFIX}:{rnd.token}:resume")])


async def _own_round(session, msg: Incoming, token: str) -> tuple[QuizRound | None, list[Reply]]:
    """The round with ``token`` if it belongs to the sender, else the note to send."""
    rnd = await quiz_repo.round_by_token(session, token)
    if rnd is None:
        return None, [Reply(NOT_CURRENT)]
    resident = await repo.find_resident(session, msg.platform, msg.user_id)
    if resident is None or resident.id != rnd.resident_id:
        return None, [Reply(NOT_YOURS)]
    return rnd, []


async def _settle(msg: Incoming, turn: Turn, token: str, position: int, shown: int | None) -> list[Reply]:
    """Answer (``shown``: the option as displayed) or skip (None) question ``position``."""
    bank = await _bank(turn.deps)
    now = turn.deps.clock()
    async with transaction(turn) as session:
        rnd, note = await _own_round(session, msg, token)
        if rnd is None:
            return note
        if rnd.status != OPEN:
            return [Reply(ROUND_OVER)]
        if position != rnd.position:
            return [Reply(ALREADY_ANSWERED if position < rnd.position else NOT_CURRENT)]
        question = bank.get(rnd.question_ids[position]) if position < len(rnd.question_ids) else None
        if question is None:
            await quiz_repo.stop_round(session, rnd, now)
            return [Reply(BANK_CHANGED)]
        order = option_order(rnd.token, position, len(question.options))
        if shown is not None and not 0 <= shown < len(order):
            return [Reply(INVALID)]
        if _is_late(turn.deps, rnd, now):
            outcome, chosen, correct = TIMED_OUT, None, False
        elif shown is None:
            outcome, chosen, correct = SKIPPED, None, False
        else:
            chosen = order[shown]
            outcome, correct = ANSWERED, chosen == question.answer
        settled = await quiz_repo.settle(
            session, rnd, position, question_id=question.id, topic=question.topic,
            criteria_group=bank.group(question), chosen=chosen, correct=correct, outcome=outcome, now=now,
        )
        if not settled:           # a concurrent copy of this answer got there first
            return [Reply(ALREADY_ANSWERED)]
        replies = [feedback_reply(turn.deps, question, outcome, correct)]
        replies += await _after(turn.deps, session, bank, rnd, now)
    return replies


async def _after(deps: Deps, session, bank: QuestionBank, rnd: QuizRound, now: datetime) -> list[Reply]:
    """What follows a settled question: the next one, or the round's summary."""
    if rnd.status == DONE:
        return await _summary(deps, session, bank, rnd, stopped=False)
    following = question_reply(deps, bank, rnd, rnd.position)
    if following is None:
        await quiz_repo.stop_round(session, rnd, now)
        return [Reply(BANK_CHANGED)]
    return [following]


async def _stop(msg: Incoming, turn: Turn, token: str) -> list[Reply]:
    bank = await _bank(turn.deps)
    now = turn.deps.clock()
    async with transaction(turn) as session:
        rnd, note = await _own_round(session, msg, token)
        if rnd is None:
            return note
        if not await quiz_repo.stop_round(session, rnd, now):
            return [Reply(ROUND_OVER)]
        if rnd.position == 0:
            return [Reply.with_buttons("Đã dừng bài đố vui. Bài chưa có câu trả lời nào nên không được tính điểm.",
                                       [Button("📚 Làm bài mới", f"{PREFIX}:menu")])]
        return await _summary(turn.deps, session, bank, rnd, stopped=True)


@router.cancels
async def stop_open_round(msg: Incoming, turn: Turn) -> list[Reply] | None:
    """/huy during a round: the round ends as "⏹ Dừng bài" ends it; None when none is open."""
    async with transaction(turn) as session:
        resident = await repo.find_resident(session, msg.platform, msg.user_id)
        current = await quiz_repo.open_round(session, resident.id) if resident else None
    return await _stop(msg, turn, current.token) if current is not None else None


async def _resume(msg: Incoming, turn: Turn, token: str) -> list[Reply]:
    """Show the current question again; one whose time ran out is settled as timed out first."""
    bank = await _bank(turn.deps)
    now = turn.deps.clock()
    async with transaction(turn) as session:
        rnd, note = await _own_round(session, msg, token)
        if rnd is None:
            return note
        if rnd.status != OPEN:
            return [Reply(ROUND_OVER)]
        if not _is_late(turn.deps, rnd, now):
            current = question_reply(turn.deps, bank, rnd, rnd.position)
            return [current] if current else [Reply(BANK_CHANGED)]
    return await _settle(msg, turn, token, rnd.position, None)
