"""Platform-neutral messages: what adapters produce and what handlers return.

Adapters (bot/platforms/) translate a Telegram update, a Zalo event or a
terminal line into an `Incoming`, and send each `Reply` back in their
platform's terms. Handlers never see a platform object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from vntext.normalize import clean_input


# A bound against abuse only (the HTTP body limit is 1 MB); Telegram sends at most
# 4,096 characters, handlers accept far less and say so (handlers/forms.too_long).
MAX_INCOMING_CHARS = 100_000


@dataclass(frozen=True)
class Button:
    label: str         # on the button: short enough to read on a phone (see `short_label`)
    data: str          # callback data, at most 64 bytes (Telegram's limit)
    # The choice as a numbered list shows it (Zalo, the terminal: no width
    # limit): the whole text, without a number of its own; "" = ``label``.
    full_label: str = ""

    @classmethod
    def shortened(cls, text: str, data: str, limit: int, listed: str = "") -> "Button":
        """A button labelled ``text`` cut to ``limit`` characters at a word boundary;
        numbered lists show ``listed`` (default: ``text`` when it was cut)."""
        label = short_label(text, limit)
        return cls(label, data, listed or (text if label != text else ""))


def short_label(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, cut at a word boundary and marked "…" when cut."""
    if len(text) <= limit:
        return text
    room = text[: limit]                        # keeps a character for the "…"
    cut = room.rfind(" ")
    if cut < limit // 2:                        # one very long word: cut inside it
        cut = limit - 1
    return text[:cut].rstrip(" ,;:.–-") + "…"


QUIZ_ANSWER_PREFIX = "qa"


def quiz_answer_data(key: str, option: int) -> str:
    """The neutral form of "answered option ``option`` of quiz question ``key``".

    Text platforms put it behind the numbered options; the Telegram adapter
    builds it from a PollAnswer. The quiz handler is registered for the prefix.
    """
    return f"{QUIZ_ANSWER_PREFIX}:{key}:{option}"


@dataclass(frozen=True)
class QuizPoll:
    """A multiple-choice question with one right answer (a Telegram quiz poll).

    Telegram sends it as a native, non-anonymous quiz poll; platforms without
    polls show the options as numbered choices (bot/platforms/base.py).
    """

    key: str                      # links an answer to the stored round question
    question: str                 # ≤ 300 characters (Telegram's limit)
    options: tuple[str, ...]      # 2–10 options, each ≤ 100 characters
    correct: int                  # index of the right option
    explanation: str = ""         # ≤ 200 characters, shown by Telegram once answered
    open_period: int | None = None    # seconds to answer (5–600), None: no limit

    def answer_data(self, option: int) -> str:
        return quiz_answer_data(self.key, option)


@dataclass(frozen=True)
class Reply:
    text: str
    # Rows of buttons. Platforms without buttons show numbered choices.
    buttons: tuple[tuple[Button, ...], ...] = ()
    # A quiz question; ``text`` is then its short header ("Câu 3/10").
    quiz: QuizPoll | None = None
    # A menu answering a tap: where the platform can edit messages, it replaces
    # the message that held the tapped button (Incoming.menu_message_id)
    # instead of sending a new one, so a dialog leaves one message per step.
    replaces_menu: bool = False
    # A link shown as a large preview above the text (Telegram), a link line
    # below it elsewhere: an announcement's photo stays one message.
    preview_url: str | None = None
    # Platforms without buttons: the number of this reply's first choice, when
    # bot/choices.py numbers it after choices still held by a dialog; 0 = the
    # numbers run on from the previous reply (1 for the first).
    numbered_from: int = 0

    @classmethod
    def with_buttons(cls, text: str, *rows: list[Button] | tuple[Button, ...]) -> "Reply":
        return cls(text, tuple(tuple(row) for row in rows if row))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Incoming:
    platform: str                  # "telegram", "zalo", "console"
    chat_id: str
    user_id: str
    text: str = ""                 # cleaned (NFC, no control characters)
    callback_data: str | None = None
    message_id: str | None = None  # the platform's id, for deduplication
    display_name: str | None = None
    received_at: datetime = field(default_factory=utcnow)
    # The text with its line breaks kept (cleaned the same way otherwise), for
    # long-form input such as an official's announcement; "" when not given.
    text_lines: str = ""
    # Non-text content: "voice", "photo", "sticker", "location", "file", "video", "unsupported"; "" for text.
    media: str = ""
    # For a tap: the platform's id of the message that held the button (a menu
    # the reply may edit in place, see Reply.replaces_menu); None otherwise.
    menu_message_id: str | None = None

    @classmethod
    def from_platform(cls, platform: str, chat_id: object, user_id: object, text: str | None = None,
                      **extra) -> "Incoming":
        """The one place incoming text is normalised, whatever the platform.

        The text keeps its full length (up to `MAX_INCOMING_CHARS`, far above
        any platform's own limit): each handler checks the length it accepts
        and can then tell the resident how long their message really was.
        """
        extra.setdefault("text_lines", clean_lines(text or "", MAX_INCOMING_CHARS))
        return cls(platform, str(chat_id), str(user_id), clean_input(text or "", MAX_INCOMING_CHARS), **extra)

    @property
    def command(self) -> str | None:
        """"/mohinh 3" → "mohinh"; "/start@civicbot" → "start"; free text → None."""
        if not self.text.startswith("/"):
            return None
        head = self.text[1:].split(" ", 1)[0].split("@", 1)[0]
        return head.lower() or None

    @property
    def args(self) -> str:
        return self.text.split(" ", 1)[1].strip() if self.command and " " in self.text else ""


def clean_lines(text: str, max_chars: int = 4096) -> str:
    """`clean_input` line by line: paragraphs survive, at most one blank line between them."""
    lines = [clean_input(line, max_chars) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()[:max_chars]
