"""Quiz tables: rounds, every answer, the Leitner box of each question, poll links.

``quiz_rounds``: one row per round a member started: topic, the questions
chosen (ids from the bank), how far it got (``position``), the score, and
its status: "open" while being played, "done" once finished (all questions
settled, stopped, or replaced by a new round after at least one answer),
"void" when replaced before any answer. Leaderboards read done rounds only,
so the score lives here and is updated with each answer in the same
transaction: no leaderboard query ever scans the answers.

``quiz_answers``: every settled question: chosen option (in the bank's
order; NULL when skipped or timed out), right or wrong, time taken. The
unique (round, position) key makes an answer count once, whatever replays.

``quiz_leitner``: spaced repetition state per (member, question): the box
(1 = just missed … 5 = mastered) and the member's round number from which
the question is due again (see `knowledge.quiz_schedule`).

``quiz_polls``: the Telegram poll ids sent for round questions, so that a
PollAnswer (which carries the poll id and the voter, not the chat) finds
its round and chat.

All rows hang off the resident with ON DELETE CASCADE (/xoadulieu).
Imported by `bot.storage`, so `Base.metadata` always holds these tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import PLATFORM_ID_LEN, PLATFORM_LEN, Base, UTCDateTime, utcnow

OPEN, DONE, VOID = "open", "done", "void"
ROUND_STATUSES = (OPEN, DONE, VOID)

# How a question was settled.
ANSWERED, SKIPPED, TIMED_OUT = "answered", "skipped", "timeout"

QUESTION_ID_LEN = 160
TOKEN_LEN = 16
TOPIC_LEN = 32
GROUP_LEN = 16


class QuizRound(Base):
    __tablename__ = "quiz_rounds"
    __table_args__ = (
        UniqueConstraint("token"),
        # The menu button that started the round: a double tap starts it once.
        UniqueConstraint("resident_id", "menu_token"),
        # Leaderboards read only these columns: covering indexes, no table lookups.
        # This week's done rounds: a range of the first; all of them, member by
        # member: the second (also a member's open round and round count).
        Index(None, "status", "finished_at", "resident_id", "score", "size"),
        Index(None, "resident_id", "status", "finished_at", "score", "size"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN))
    token: Mapped[str] = mapped_column(String(TOKEN_LEN))          # in answer keys and buttons
    menu_token: Mapped[str | None] = mapped_column(String(TOKEN_LEN))
    topic: Mapped[str] = mapped_column(String(TOPIC_LEN))          # a bank topic or "mixed"
    number: Mapped[int] = mapped_column(Integer)                   # the member's n-th round
    question_ids: Mapped[list[str]] = mapped_column(JSON)
    size: Mapped[int] = mapped_column(SmallInteger)
    position: Mapped[int] = mapped_column(SmallInteger, default=0)  # questions settled so far
    score: Mapped[int] = mapped_column(SmallInteger, default=0)     # right answers
    status: Mapped[str] = mapped_column(String(8), default=OPEN)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)   # the current question
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class QuizAnswer(Base):
    __tablename__ = "quiz_answers"
    __table_args__ = (
        UniqueConstraint("round_id", "position"),
        Index(None, "resident_id", "answered_at"),
        Index(None, "question_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("quiz_rounds.id", ondelete="CASCADE"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(SmallInteger)
    question_id: Mapped[str] = mapped_column(String(QUESTION_ID_LEN))
    topic: Mapped[str] = mapped_column(String(TOPIC_LEN))
    criteria_group: Mapped[str] = mapped_column(String(GROUP_LEN))  # "II.5", "III.3", "mo_hinh", ...
    chosen: Mapped[int | None] = mapped_column(SmallInteger)        # bank order; NULL: skipped/timed out
    correct: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[str] = mapped_column(String(8))                 # answered, skipped, timeout
    time_taken_ms: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuizLeitner(Base):
    __tablename__ = "quiz_leitner"

    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[str] = mapped_column(String(QUESTION_ID_LEN), primary_key=True)
    box: Mapped[int] = mapped_column(SmallInteger)
    due_round: Mapped[int] = mapped_column(Integer)
    times_right: Mapped[int] = mapped_column(Integer, default=0)
    times_wrong: Mapped[int] = mapped_column(Integer, default=0)
    last_answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuizPollLink(Base):
    """A poll sent on a messenger for one question of a round."""

    __tablename__ = "quiz_polls"

    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN), primary_key=True)
    poll_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("quiz_rounds.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    chat_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN))
    message_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LEN))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
