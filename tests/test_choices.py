"""Numbered choices on platforms without buttons belong to the dialog or quiz that offered them
(bot/choices.py), through the real pipeline, router, handlers and SQLite database."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bot.app import build_deps, close_deps
from bot.choices import dispatch_numbered
from bot.deps import Turn
from bot.messages import Button, Incoming, Reply
from bot.pipeline import FLOOD_NOTICE, FloodControl, Pipeline
from bot.platforms.base import numbered_texts
from bot.settings import Settings
from knowledge.quiz_schedule import BankLoader, QuestionBank


@pytest.fixture(scope="module")
def bank(knowledge) -> QuestionBank:
    return QuestionBank.build(knowledge)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path)


@pytest.fixture
async def deps(settings, hash_searcher, knowledge, bank):
    deps = replace(build_deps(settings, searcher=hash_searcher, knowledge=knowledge), quiz_bank=BankLoader(bank))
    yield deps
    await close_deps(deps)


class Chat:
    """One Zalo resident: what they type goes through the pipeline; the texts they would read."""

    def __init__(self, pipeline: Pipeline, user: str = "z1"):
        self.pipeline, self.user, self.seen = pipeline, user, []

    async def say(self, text: str) -> str:
        replies = await self.pipeline.process(Incoming.from_platform("zalo", self.user, self.user, text))
        # One reply at a time, as the reply outbox sends them: each carries its own numbers.
        self.seen.append("\n\n".join(text for reply in replies for text in numbered_texts([reply])))
        return self.seen[-1]


def number_of(text: str, label: str) -> str:
    match = re.search(rf"^(\d+)\. [^\n]*{re.escape(label)}", text, re.M)
    assert match, f"no choice {label!r} in {text!r}"
    return match.group(1)


def right_option(bank: QuestionBank, shown: str) -> str:
    """The number of the right answer in a quiz question as shown."""
    question = next(q for q in bank.questions if q.question in shown)
    return number_of(shown, question.options[question.answer])


async def test_a_question_in_between_does_not_take_the_quiz_numbers(deps, bank):
    chat = Chat(Pipeline(deps, flood=FloodControl(1000, 60)))
    await chat.say("/quiz")
    first = (await chat.say(number_of(chat.seen[-1], "11 mô hình"))).split("\n\n", 1)[1]
    assert first.startswith("Câu 1/10")
    declined = await chat.say("xyz")
    # The decline's own choices come after the quiz's six, and the quiz is still waiting.
    assert re.search(r"^7\. ", declined, re.M) and not re.search(r"^1\. ", declined, re.M)
    assert "Câu đố vui vẫn đang chờ bạn: các số 1–6 ở trên" in declined and "/huy" in declined
    answered = await chat.say(right_option(bank, first))
    assert answered.startswith("✅ Chính xác!") and "Câu 2/10" in answered


async def test_the_numbers_of_an_open_dialog_survive_a_restart(settings, hash_searcher, knowledge):
    first = build_deps(settings, searcher=hash_searcher, knowledge=knowledge)
    chat = Chat(Pipeline(first, flood=FloodControl(1000, 60)))
    preview = await chat.say("/gopy Đề nghị xây thêm nhà ở xã hội cho công nhân khu công nghiệp")
    assert "Bạn xem lại góp ý trước khi gửi" in preview
    await chat.say("Nhà ở xã hội là gì?")       # a question in between, answered with its own choices
    await close_deps(first)
    second = build_deps(settings, searcher=hash_searcher, knowledge=knowledge)   # another process
    try:
        chat.pipeline = Pipeline(second, flood=FloodControl(1000, 60))
        sent = await chat.say(number_of(preview, "✅ Gửi"))
        assert sent.startswith("Cảm ơn bạn! Góp ý của bạn về «Mô hình 6")
    finally:
        await close_deps(second)


async def test_a_closed_dialog_gives_its_numbers_back(deps):
    chat = Chat(Pipeline(deps, flood=FloodControl(1000, 60)))
    await chat.say("/gopy Đề nghị xây thêm nhà ở xã hội cho công nhân khu công nghiệp")
    assert (await chat.say("thôi")).startswith("Đã hủy góp ý")
    # "1" no longer sends anything: the dialog is gone and its numbers with it.
    assert "Cảm ơn bạn" not in await chat.say("1")


async def test_a_flood_notice_keeps_the_quiz_numbers(deps, bank):
    chat = Chat(Pipeline(deps, flood=FloodControl(2, 60, clock=lambda: 0.0)))
    await chat.say("/quiz")
    question = (await chat.say(number_of(chat.seen[-1], "11 mô hình"))).split("\n\n", 1)[1]
    for text in ("Nhà ở xã hội là gì?", "Trường học là gì?", "Còn gì nữa?"):
        await chat.say(text)
    assert chat.seen[-1] == FLOOD_NOTICE
    assert (await chat.say(right_option(bank, question))).startswith("✅ Chính xác!")


async def test_a_menu_the_text_already_lists_is_listed_once(deps):
    chat = Chat(Pipeline(deps, flood=FloodControl(1000, 60)))
    models = await chat.say("/mohinh")
    assert models.count("Chính quyền thân thiện") == 1 and models.count("Thành phố âm nhạc") == 1
    assert "\n8. Cơ sở kinh doanh dịch vụ thân thiện với môi trường, không sử dụng sản phẩm nhựa dùng một lần" \
           in models                                              # whole, never cut
    assert not re.search(r"^\d+\. \d+\.", models, re.M) and len(models) < 800
    assert (await chat.say("8")).startswith("Mô hình 8/11")


def test_a_line_keeps_its_own_number_only_when_it_is_the_choice_number():
    from bot.messages import Button, Reply

    reply = Reply.with_buttons("Gồm:\n2. Hai mươi ký tự trở lên\n• Một mục khác dài dài", [
        Button("Hai mươi ký tự trở lên", "x:2"), Button("Một mục khác dài dài", "x:3")])
    (first,) = numbered_texts([reply])
    assert first.startswith("Gồm:\n2. Hai mươi ký tự trở lên\n• Một mục khác dài dài\n\n1. Hai mươi")
    (later,) = numbered_texts([Reply(reply.text, reply.buttons, numbered_from=2)])
    assert later == "Gồm:\n2. Hai mươi ký tự trở lên\n3. Một mục khác dài dài\n(Trả lời bằng số để chọn.)"


async def test_a_number_that_names_no_open_choice_says_so(deps):
    chat = Chat(Pipeline(deps, flood=FloodControl(1000, 60)))
    await chat.say("/xoadulieu")                                   # nothing stored: no choices offered
    assert (await chat.say("7")).startswith("Mình không thấy lựa chọn số 7 nào đang mở")
    await chat.say("/mohinh")
    assert (await chat.say("12")).startswith("Mình không thấy lựa chọn số 12")
    assert (await chat.say("11")).startswith("Mô hình 11/11")



async def test_each_reply_carries_its_own_first_number(deps):
    """The reply outbox sends an update's replies one at a time: the second menu's numbers
    run on from the first's without the channel seeing the first."""
    async def two_menus(msg: Incoming) -> list[Reply]:
        return [Reply.with_buttons("Một", [Button("Mô hình thứ nhất", "m:1"), Button("Mô hình thứ hai", "m:2")]),
                Reply("Không có lựa chọn"),
                Reply.with_buttons("Hai", [Button("Mô hình thứ ba", "m:3")])]

    async def echo(msg: Incoming) -> list[Reply]:
        return [Reply(msg.callback_data or "")]

    turn = Turn.begin(deps)
    replies = await dispatch_numbered(Incoming.from_platform("zalo", "z9", "z9", "/mohinh"), turn, two_menus)
    shown = [text for reply in replies for text in numbered_texts([reply])]
    assert number_of(shown[0], "thứ hai") == "2" and number_of(shown[2], "thứ ba") == "3"
    (picked,) = await dispatch_numbered(Incoming.from_platform("zalo", "z9", "z9", "3"), turn, echo)
    assert picked.text == "m:3"
