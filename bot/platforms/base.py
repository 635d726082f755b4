"""What every adapter shares: splitting long text and degrading buttons.

A platform without inline buttons (the terminal, Zalo text messages) shows
them as numbered choices; the user answers with the number, which the core
(bot/choices.py, which decides the numbers) turns back into the button's
callback data. A quiz
question (`Reply.quiz`) degrades the same way: its options come first as
numbered choices whose data answers the question, then the reply's buttons.
"""

from __future__ import annotations

from bot.choices import flat_buttons
from bot.messages import Reply

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
    """
    texts, number = [], 0
    for reply in replies:
        if reply.numbered_from:
            number = reply.numbered_from - 1
        lines = []
        for button in flat_buttons(reply):
            number += 1
            lines.append(f"{number}. {button.full_label or button.label}")
        text = reply_text(reply)
        texts.append(f"{text}\n\n" + "\n".join(lines) + "\n(Trả lời bằng số để chọn.)"
                     if lines else text)
    return texts
