"""What every adapter shares: splitting long text and degrading buttons.

A platform without inline buttons (the terminal, Zalo text messages) shows
them as numbered choices; the user answers with the number, which
`NumberedChoices` turns back into the button's callback data. A quiz
question (`Reply.quiz`) degrades the same way: its options come first as
numbered choices whose data answers the question, then the reply's buttons.
"""

from __future__ import annotations

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


def flat_buttons(reply: Reply) -> list[Button]:
    """The reply's choices in order: a quiz's options first, then its buttons."""
    options = []
    if reply.quiz is not None:
        options = [Button(option, reply.quiz.answer_data(i)) for i, option in enumerate(reply.quiz.options)]
    return options + [button for row in reply.buttons for button in row]


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

    Numbers run on across the replies, matching `NumberedChoices.remember`.
    """
    texts, number = [], 0
    for reply in replies:
        lines = []
        for button in flat_buttons(reply):
            number += 1
            lines.append(f"{number}. {button.full_label or button.label}")
        text = reply_text(reply)
        texts.append(f"{text}\n\n" + "\n".join(lines) + "\n(Trả lời bằng số để chọn.)"
                     if lines else text)
    return texts


class NumberedChoices:
    """Remembers, per chat, the last buttons shown as numbers."""

    def __init__(self) -> None:
        self._last: dict[str, list[Button]] = {}

    def remember(self, chat_id: str, replies: list[Reply]) -> None:
        buttons = [b for r in replies for b in flat_buttons(r)]
        if buttons:
            self._last[chat_id] = buttons
        else:
            self._last.pop(chat_id, None)

    def resolve(self, chat_id: str, text: str) -> str | None:
        """Callback data for a reply like "2", or None if it is not a choice."""
        choices = self._last.get(chat_id)
        if choices and text.strip().isdigit():
            index = int(text.strip()) - 1
            if 0 <= index < len(choices):
                return choices[index].data
        return None
