"""A resident going quickly through every menu, on each platform: 40 taps within a minute
through /mohinh, /tieuchi, /dangky, /gopy, /quiz and /xoadulieu (the same script on
Telegram, Zalo and the terminal). Every tap gets a visible answer (flood control
protects the search, not the menus), on Telegram each dialog step leaves one message
(taps change the menu in place), and at the end the resident's data is really gone.

Telegram and Zalo run over real HTTP against the fake servers (tests/fakes); the
terminal is `run_console` with a scripted keyboard. Deps are real, with the hash
embedder and the default flood limits.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections import Counter
from dataclasses import dataclass, replace

import pytest

from bot.platforms.console import CHAT_ID, USER_ID, run_console
from bot.pipeline import FLOOD_NOTICE, TAP_NOTICE, Pipeline
from bot.storage import repo
from handlers.privacy import DELETED, NOTHING_STORED
from knowledge.quiz_schedule import BankLoader, QuestionBank
from tests.e2e.test_zalo import bot as zalo_bot, settings, text_event, zalo_api  # noqa: F401

TG_CHAT = 616161
FEEDBACK = "/gopy Đề nghị phường xây thêm nhà ở xã hội cho công nhân khu công nghiệp"


@dataclass(frozen=True)
class Step:
    kind: str          # "say": type text; "tap": choose the choice labelled ...; "quiz": answer right
    text: str = ""
    phase: str = ""    # the dialog step a "say" opens (for counting Telegram messages)


def script(knowledge, wards: list[str]) -> list[Step]:
    steps = [Step("say", "/mohinh", "mohinh")]
    for model in knowledge.catalog.models[:7]:
        steps += [Step("tap", model.title[:18]), Step("tap", "11 mô hình")]
    steps += [Step("say", "/tieuchi", "tieuchi"), Step("tap", "Bộ tiêu chí Chủ nghĩa"), Step("tap", "Quốc phòng"),
              Step("tap", "Quay lại"), Step("tap", "Quay lại")]
    steps += [Step("say", "/dangky", "dangky"), Step("tap", "Sau"), Step("tap", wards[8]),
              Step("tap", "Cư dân"), Step("tap", "Đoàn viên"), Step("tap", "Đoàn viên"), Step("tap", "Cán bộ"),
              Step("tap", "Xong")]
    steps += [Step("say", FEEDBACK, "gopy"), Step("tap", "Đổi chủ đề"), Step("tap", "Trường học"),
              Step("tap", "Gửi")]
    steps += [Step("say", "/quiz", "quiz"), Step("tap", "11 mô hình")] + [Step("quiz")] * 10
    steps += [Step("say", "/xoadulieu", "xoadulieu"), Step("tap", "Xóa hết")]
    return steps


@pytest.fixture(scope="module")
def bank(knowledge) -> QuestionBank:
    return QuestionBank.build(knowledge)


def number_of(text: str, label: str) -> str:
    """The number a text-only platform shows for the choice labelled ``label`` (the last one listed)."""
    found = re.findall(rf"^(\d+)\. [^\n]*{re.escape(label)}", text, re.M)
    assert found, f"no choice {label!r} in {text!r}"
    return found[-1]


def right_number(bank: QuestionBank, shown: str) -> str:
    question = next(q for q in bank.questions if f"\n{q.question}\n" in shown)
    return number_of(shown, question.options[question.answer])


async def summary(deps, platform: str, user_id: str):
    async with deps.db.sessions() as session:
        return await repo.data_summary(session, platform, user_id)


def assert_no_notice(texts: list[str]) -> None:
    assert not [t for t in texts if FLOOD_NOTICE in t or TAP_NOTICE in t]


# -- Telegram ------------------------------------------------------------------------------


class TelegramResident:
    def __init__(self, bot, bank: QuestionBank):
        self.bot, self.api, self.bank = bot, bot.api, bank
        self.menu: int | None = None        # message id of the newest message with buttons
        self.phase, self.messages = "", Counter()

    def _visible(self) -> int:
        return sum(len(self.api.calls_to(m, TG_CHAT)) for m in ("sendMessage", "editMessageText", "sendPoll"))

    def _sent(self) -> int:
        return len(self.api.calls_to("sendMessage", TG_CHAT)) + len(self.api.calls_to("sendPoll", TG_CHAT))

    async def run(self, step: Step) -> None:
        before_visible, before_sent = self._visible(), self._sent()
        if step.kind == "say":
            self.phase = step.phase
            await self.bot.say(TG_CHAT, step.text)
        elif step.kind == "tap":
            message = self.api.message(TG_CHAT, self.menu)
            rows = message.get("reply_markup", {}).get("inline_keyboard", [])
            data = next((b["callback_data"] for row in rows for b in row if step.text in b["text"]), None)
            assert data, f"no button {step.text!r} in {rows}"
            await self.bot.press(TG_CHAT, data, message=message)
        else:
            (*_, poll) = self.api.calls_to("sendPoll", TG_CHAT)
            right = poll.params["correct_option_ids"][0]
            await self.bot.deliver(self.api.poll_answer_update(poll.result["poll"]["id"], TG_CHAT, [right]))
        await self.bot.idle()
        assert self._visible() > before_visible, f"{step} got no visible answer"
        self.messages[self.phase] += self._sent() - before_sent
        with_buttons = [m for m in self.api.sent(TG_CHAT) if m.get("reply_markup")]
        self.menu = with_buttons[-1]["message_id"] if with_buttons else None


async def test_telegram_resident_session(start_telegram_bot, telegram_deps, bank, knowledge):
    bot = await start_telegram_bot("polling", deps=replace(telegram_deps, quiz_bank=BankLoader(bank)))
    me = TelegramResident(bot, bank)
    steps = script(knowledge, telegram_deps.settings.wards)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for step in steps:
        await me.run(step)
    taps = sum(step.kind != "say" for step in steps)
    assert taps == 40 and loop.time() - started < 60        # all inside one flood window
    assert_no_notice(bot.api.texts(TG_CHAT))
    # One message per dialog step: browsing /mohinh and /tieuchi edits one menu; /dangky has
    # three steps (ward, groups, done), /gopy four (preview, topics, preview, thanks); the quiz
    # sends its start, ten polls with ten explanations and the score; the deletion edits its question.
    assert dict(me.messages) == {"mohinh": 1, "tieuchi": 1, "dangky": 3, "gopy": 4, "quiz": 23, "xoadulieu": 1}
    assert len(bot.api.calls_to("editMessageText", TG_CHAT)) == 14 + 4 + 5 + 1
    confirmation = bot.api.calls_to("sendMessage", TG_CHAT)[-1]     # its question became the result
    deleted = bot.api.calls_to("editMessageText", TG_CHAT)[-1]
    assert deleted.text == DELETED and deleted.params["message_id"] == confirmation.result["message_id"]
    assert await summary(telegram_deps, "telegram", str(TG_CHAT)) is None
    await bot.say(TG_CHAT, "/quyenriengtu")
    await bot.idle()
    assert bot.api.texts(TG_CHAT)[-1] == NOTHING_STORED


# -- Zalo and the terminal: numbers ---------------------------------------------------------


def choose(step: Step, last: str, bank: QuestionBank) -> str:
    if step.kind == "say":
        return step.text
    if step.kind == "quiz":
        return right_number(bank, last)
    return number_of(last, step.text)


async def test_zalo_resident_session(zalo_bot, bank, knowledge):
    deps = zalo_bot.pipeline.deps = replace(zalo_bot.pipeline.deps, quiz_bank=BankLoader(bank))
    loop = asyncio.get_running_loop()
    started, last = loop.time(), ""
    steps = script(knowledge, deps.settings.wards)
    for step in steps:
        before = len(zalo_bot.api.texts_to("zs"))
        await zalo_bot.post(text_event("zs", choose(step, last, bank)))
        await zalo_bot.settle()
        texts = zalo_bot.api.texts_to("zs")
        assert len(texts) > before, f"{step} got no answer"
        last = "\n\n".join(texts[before:])
    assert loop.time() - started < 60
    texts = zalo_bot.api.texts_to("zs")
    assert_no_notice(texts)
    assert "Kết quả: 10/10 câu đúng." in "\n".join(texts)
    assert texts[-1] == DELETED and await summary(deps, "zalo", "zs") is None


async def test_terminal_resident_session(telegram_deps, bank, knowledge):
    deps = replace(telegram_deps, quiz_bank=BankLoader(bank))
    steps = script(knowledge, deps.settings.wards)
    stdout = io.StringIO()
    answered: list[bool] = []

    class Keyboard:
        """Types the script's next line, reading the screen as the resident would."""

        def __init__(self):
            self.steps, self.read_to = iter(steps), 0

        def readline(self) -> str:
            screen = stdout.getvalue()
            last, self.read_to = screen[self.read_to:], len(screen)
            answered.append(bool(last.strip()))
            step = next(self.steps, None)
            return "" if step is None else choose(step, last, bank) + "\n"

        def isatty(self) -> bool:
            return False

    await run_console(Pipeline(deps), Keyboard(), stdout)
    out = stdout.getvalue()
    assert all(answered) and len(answered) == len(steps) + 1     # /start's welcome, then every line
    assert_no_notice([out])
    assert "Kết quả: 10/10 câu đúng." in out and DELETED in out
    assert await summary(deps, "console", USER_ID) is None and CHAT_ID == "console"


async def test_a_zalo_quiz_survives_a_question_and_a_flood_notice(zalo_bot, bank):
    from sqlalchemy import select

    from bot.pipeline import FloodControl
    from bot.storage.quiz_models import DONE, QuizRound

    deps = zalo_bot.pipeline.deps = replace(zalo_bot.pipeline.deps, quiz_bank=BankLoader(bank))
    zalo_bot.pipeline.flood = FloodControl(3, 60)          # three questions a minute: easy to reach

    async def say(text: str) -> str:
        before = len(zalo_bot.api.texts_to("zq"))
        await zalo_bot.post(text_event("zq", text))
        await zalo_bot.settle()
        return "\n\n".join(zalo_bot.api.texts_to("zq")[before:])

    await say("/quiz")
    shown = await say("3")
    for n in range(10):
        if n == 2:
            declined = await say("xyz")                    # declined, with numbered choices of its own
            assert "vẫn đang chờ bạn" in declined and not re.search(r"^[1-6]\. ", declined, re.M)
        if n == 5:
            for question in ("Nhà ở xã hội là gì?", "Trường học là gì?", "Âm nhạc là gì?"):
                last = await say(question)
            assert last == FLOOD_NOTICE
        question = shown.rsplit("Câu ", 1)[1]
        right = right_number(bank, "Câu " + question)
        answer = right if n != 7 else str(int(right) % 4 + 1)      # one wrong answer, question 8
        shown = await say(answer)
        assert shown.startswith("✅ Chính xác!" if n != 7 else "❌ Chưa đúng."), shown
    assert "Kết quả: 9/10 câu đúng." in shown
    async with deps.db.sessions() as session:
        (rnd,) = (await session.scalars(select(QuizRound))).all()
    assert (rnd.status, rnd.score, rnd.position) == (DONE, 9, 10)
