"""A whole quiz round end to end: native quiz polls through the fake Telegram Bot
API (sendPoll out, PollAnswer updates in, in polling and webhook mode), and
numbered options in the terminal chat (`run_console` on StringIO).

Deps are real (router, pipeline, SQLite database in tmp_path, knowledge
base, question bank) with the hash embedder; fixtures: tests/e2e/conftest.py.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.messages import QuizPoll, Reply
from bot.pipeline import FloodControl, Pipeline
from bot.platforms.console import run_console
from bot.storage.quiz_models import DONE, QuizAnswer, QuizPollLink, QuizRound
from handlers import quiz
from knowledge.quiz_schedule import BankLoader, QuestionBank

CHAT = 515151


@pytest.fixture(scope="session")
def bank(knowledge) -> QuestionBank:
    return QuestionBank.build(knowledge)


@pytest.fixture(params=["polling", "webhook"])
async def quiz_bot(request, start_telegram_bot, telegram_deps, bank):
    return await start_telegram_bot(request.param, deps=replace(telegram_deps, quiz_bank=BankLoader(bank)))


def button_data(call, label_part: str) -> str:
    for row in call.buttons:
        for b in row:
            if label_part in b["text"]:
                return b["callback_data"]
    raise AssertionError(f"no button {label_part!r} in {call.buttons}")


async def db_rows(deps, model):
    async with deps.db.sessions() as session:
        return list((await session.scalars(select(model))).all())


async def test_a_round_of_native_quiz_polls_from_start_to_score(quiz_bot, bank):
    bot, api = quiz_bot, quiz_bot.api
    await bot.say(CHAT, "/quiz")
    (menu,) = await bot.replies(CHAT, 1)
    await bot.press(CHAT, button_data(menu, "11 mô hình"))

    for n in range(10):
        (*_, poll_call) = await api.wait_for("sendPoll", n + 1, chat_id=CHAT)
        params = poll_call.params
        assert params["type"] == "quiz" and params["is_anonymous"] is False
        assert params["question"].startswith(f"Câu {n + 1}/10\n")
        assert params["open_period"] == 60 and len(params["options"]) == 4
        (correct,) = params["correct_option_ids"]
        texts = [o["text"] if isinstance(o, dict) else o for o in params["options"]]
        asked = next(q for q in bank.pool("mo_hinh") if params["question"].endswith(q.question))
        assert texts[correct] == asked.options[asked.answer] and params["explanation"] == asked.explanation
        assert "Bỏ qua" in str(poll_call.buttons) and "Dừng bài" in str(poll_call.buttons)
        choice = correct if n % 2 == 0 else (correct + 1) % 4          # 5 right, 5 wrong
        await bot.deliver(api.poll_answer_update(poll_call.result["poll"]["id"], CHAT, [choice]))
        # menu, "Bắt đầu …", then one message per answer
        feedback = (await api.wait_for("sendMessage", 3 + n, chat_id=CHAT))[2 + n]
        assert feedback.text.startswith("✅ Chính xác!" if n % 2 == 0 else "❌ Chưa đúng.")
        assert asked.source_section in feedback.text and asked.source_text in feedback.text
    (*_, summary) = await api.wait_for("sendMessage", 13, chat_id=CHAT)
    assert "Kết quả: 5/10 câu đúng." in summary.text and "Thời gian:" in summary.text
    assert button_data(summary, "Làm bài mới").startswith("qz:n:")
    await bot.idle()

    deps = bot.pipeline.deps
    (rnd,) = await db_rows(deps, QuizRound)
    assert (rnd.status, rnd.score, rnd.position) == (DONE, 5, 10)
    assert len(await db_rows(deps, QuizAnswer)) == 10 and len(await db_rows(deps, QuizPollLink)) == 10

    # Telegram redelivers an update (same update_id), then a new PollAnswer arrives
    # for an old poll: the first is dropped, the second only gets a note.
    first_poll = api.calls_to("sendPoll", CHAT)[0].result["poll"]["id"]
    replay = api.poll_answer_update(first_poll, CHAT, [0])
    await bot.deliver(replay)
    await bot.deliver(replay)
    await bot.deliver(api.poll_answer_update(first_poll, CHAT, [1]))
    await bot.idle()
    notes = [c.text for c in api.calls_to("sendMessage", CHAT)[13:]]
    assert notes == [quiz.ROUND_OVER, quiz.ROUND_OVER]
    (rnd,) = await db_rows(deps, QuizRound)
    assert (rnd.score, rnd.position) == (5, 10) and len(await db_rows(deps, QuizAnswer)) == 10


async def test_a_second_vote_on_the_current_poll_and_someone_elses_vote_change_nothing(quiz_bot):
    bot, api = quiz_bot, quiz_bot.api
    await bot.say(CHAT, "/quiz tong hop")
    (first,) = await api.wait_for("sendPoll", 1, chat_id=CHAT)
    poll_id = first.result["poll"]["id"]
    await bot.idle()                                                         # the poll is linked
    await bot.deliver(api.poll_answer_update(poll_id, 777, [0]))            # not the round's owner
    await bot.idle()            # (another user's updates are not ordered with the owner's)
    await bot.deliver(api.poll_answer_update(poll_id, CHAT, [0]))
    await bot.deliver(api.poll_answer_update(poll_id, CHAT, [1]))           # a second vote
    await api.wait_for("sendPoll", 2, chat_id=CHAT)
    await bot.idle()
    texts = [c.text for c in api.calls_to("sendMessage", CHAT)]
    assert texts[0].startswith("🎯 Bắt đầu") and texts[1] == quiz.NOT_YOURS
    assert texts[2].startswith(("✅", "❌")) and texts[3] == quiz.ALREADY_ANSWERED
    assert len(api.calls_to("sendPoll", CHAT)) == 2
    (answer,) = await db_rows(bot.pipeline.deps, QuizAnswer)
    assert answer.position == 0


async def test_a_long_question_gets_its_header_as_a_message_and_limits_are_kept(telegram_polling_bot):
    bot, api = telegram_polling_bot, telegram_polling_bot.api
    poll = QuizPoll("Ab3_xZ.0", "Hỏi " * 74 + "?", ("A", "B"), correct=1, explanation="Vì…", open_period=2)
    result = await bot.messengers.send("telegram", str(CHAT), Reply("Câu 1/10", quiz=poll))
    assert result.delivered and result.parts_sent == 2
    (header,) = api.calls_to("sendMessage", CHAT)
    (sent,) = api.calls_to("sendPoll", CHAT)
    assert header.text == "Câu 1/10" and sent.params["question"] == poll.question
    assert sent.params["open_period"] == 5 and sent.params["correct_option_ids"] == [1]


async def test_a_round_in_the_terminal_chat_with_numbered_options(telegram_deps, bank):
    deps = replace(telegram_deps, quiz_bank=BankLoader(bank))
    # /start's menu, then /quiz's topics (3 = 11 mô hình), ten answers "1", the leaderboard.
    stdin = io.StringIO("/quiz\n3\n" + "1\n" * 10 + "/bangxephang\n")
    stdout = io.StringIO()
    await run_console(Pipeline(deps, flood=FloodControl(1000, 60)), stdin, stdout)
    out = stdout.getvalue()

    blocks = re.findall(r"Câu (\d+)/10\n(.+?)\n⏱ Bạn có 60 giây để trả lời\.\n\n1\. (.+?)\n2\. ", out, re.S)
    assert [int(b[0]) for b in blocks] == list(range(1, 11))
    expected = 0
    for _, text, first_option in blocks:
        asked = next(q for q in bank.pool("mo_hinh") if q.question == text)
        expected += first_option == asked.options[asked.answer]
    assert out.count("📖 Căn cứ") == 10
    assert f"Kết quả: {expected}/10 câu đúng." in out
    assert "5. ⏭ Bỏ qua\n6. ⏹ Dừng bài" in out and "1. 🔁 Làm bài mới" in out
    assert "🏆 Bảng xếp hạng đố vui – Đoàn viên – Tuần này" in out
    assert "Bạn đã làm 1 bài trong thời gian này; cần thêm 2 bài nữa" in out
    assert out.rstrip().endswith("Tạm biệt! Hẹn gặp lại bạn.")
    rounds = await db_rows(deps, QuizRound)
    assert [(r.platform, r.status, r.score) for r in rounds] == [("console", DONE, expected)]


# -- Zalo: the same numbered options, over the signed webhook ------------------------

from tests.e2e.test_zalo import bot as zalo_bot, settings, text_event, zalo_api  # noqa: E402,F401


async def test_zalo_shows_numbered_options_and_a_number_answers(zalo_bot, bank):
    zalo_bot.pipeline.deps = replace(zalo_bot.pipeline.deps, quiz_bank=BankLoader(bank))
    for text, msg_id in [("/quiz", "q1"), ("3", "q2"), ("2", "q3"), ("2", "q3")]:     # q3: Zalo's retry
        await zalo_bot.post(text_event("zu1", text, msg_id=msg_id))
        await zalo_bot.settle()
    menu, intro, question, feedback = zalo_bot.api.texts_to("zu1")[:4]
    assert "3. 11 mô hình" in menu and intro.startswith("🎯 Bắt đầu")
    assert question.startswith("Câu 1/10\n") and "4. " in question and "5. ⏭ Bỏ qua" in question
    assert feedback.startswith(("✅", "❌")) and "📖 Căn cứ" in feedback
    assert zalo_bot.api.texts_to("zu1")[4].startswith("Câu 2/10") and len(zalo_bot.api.texts_to("zu1")) == 5
    (answer,) = await db_rows(zalo_bot.pipeline.deps, QuizAnswer)
    assert answer.position == 0 and answer.outcome == "answered"
