"""What every adapter shares: splitting long text and degrading buttons.

A platform without inline buttons (the terminal, Zalo text messages) shows
them as numbered choices; the user answers with the number, which the core
(bot/choices.py, which decides the numbers) turns back into the button's
callback data. A quiz
question (`Reply.quiz`) degrades the same way: its options come first as
numbered choices whose data answers the question, then the reply's buttons.
"""

from __future__ import annotations

import re

from bot.choices import flat_buttons
from bot.messages import Button, Reply

TELEGRAM_TEXT_LIMIT = 4096
ZALO_TEXT_LIMIT = 2000


def split_message(text: str, limit: int) -> list[str]:
    """Split at paragraph, then line, then word boundaries; never mid-word."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = max(window.rfind("\n\n"), -1)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:            # one "word" longer than the limit (a URL, say)
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def reply_text(reply: Reply) -> str:
    """The text a platform without polls shows: a quiz's header, question and time limit."""
    quiz = reply.quiz
    if quiz is None:
        return reply.text
    text = f"{reply.text}\n{quiz.question}" if reply.text else quiz.question
    if quiz.open_period:
        text += f"\n⏱ Bạn có {quiz.open_period} giây để trả lời."
    return text


def numbered_texts(replies: list[Reply]) -> list[str]:
    """Each reply's text followed by its buttons as "n. label" lines.

    Numbers run on across the replies, as bot/choices.py reads them back;
    a reply numbered after held choices starts at its ``numbered_from``.
    Choices the text already lists line by line are numbered there, not
    listed a second time (`_number_listed_lines`).
    """
    texts, number = [], 0
    for reply in replies:
        if reply.numbered_from:
            number = reply.numbered_from - 1
        buttons = flat_buttons(reply)
        text, shown = _number_listed_lines(reply_text(reply), buttons, number + 1)
        number += shown
        lines = []
        for button in buttons[shown:]:
            number += 1
            lines.append(f"{number}. {button.full_label or button.label}")
        if lines:
            text += "\n\n" + "\n".join(lines)
        texts.append(text + "\n(Trả lời bằng số để chọn.)" if buttons else text)
    return texts


# A line of a list in a reply's text: "3. item" or "• item".
_LIST_LINE = re.compile(r"^(?:(\d+)\.|•) (.+)$")
# A label this short could begin an unrelated line: such choices are listed apart.
_MIN_MATCHED_LABEL = 8


def text_lists_choices(text: str, buttons: list[Button], first: int) -> bool:
    """Whether ``text`` already lists (some of) the choices line by line."""
    return _number_listed_lines(text, buttons, first)[1] > 0


def _number_listed_lines(text: str, buttons: list[Button], first: int) -> tuple[str, int]:
    """``text`` with the lines that already list the first choices (the 11 models,
    a list's items, in order) numbered as those choices; and how many it shows.

    A line keeps its own number only when it is the choice's number, so a
    document's "8." never turns into another number; the first choice not
    found in the text ends the run, and the rest are listed after the text.
    """
    lines, at, shown = text.split("\n"), 0, 0
    for button in buttons:
        label = (button.full_label or button.label).removesuffix("…").strip()
        if len(label) < _MIN_MATCHED_LABEL:
            break
        number = first + shown
        for index in range(at, len(lines)):
            match = _LIST_LINE.match(lines[index])
            if match and match.group(2).startswith(label) and match.group(1) in (None, str(number)):
                lines[index] = f"{number}. {match.group(2)}"
                at, shown = index + 1, shown + 1
                break
        else:
            break
    return "\n".join(lines), shown
