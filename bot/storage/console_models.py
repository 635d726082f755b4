"""Tables of the officials' web console (console/): who sees which wards, one-time
sign-in links, the audit log, and what officials did with questions and feedback.

Sessions are not stored: they live in an encrypted, signed cookie that says
which official it is and when it was opened; every request re-reads the
official's role and wards, so removing someone ends their sessions at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import WARD_LEN, AnswerLog, Base, UTCDateTime, utcnow

# Console roles (officials.role): admin sees and does everything; official acts on
# their wards only; viewer reads (their wards, or all when none are given).
ADMIN, OFFICIAL, VIEWER = "admin", "official", "viewer"
CONSOLE_ROLES = (ADMIN, OFFICIAL, VIEWER)

# Feedback as officials work through it.
FEEDBACK_NEW, FEEDBACK_SEEN, FEEDBACK_REPLIED = "new", "seen", "replied"
FEEDBACK_STATUSES = (FEEDBACK_NEW, FEEDBACK_SEEN, FEEDBACK_REPLIED)


class OfficialWard(Base):
    """A ward an official (or viewer) is responsible for."""

    __tablename__ = "official_wards"

    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id", ondelete="CASCADE"), primary_key=True)
    ward: Mapped[str] = mapped_column(String(WARD_LEN), primary_key=True)


class LoginLink(Base):
    """A one-time sign-in link; only the SHA-256 of its token is kept."""

    __tablename__ = "console_login_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("officials.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what in the console (or to admins), when."""

    __tablename__ = "console_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))           # "telegram:123", "cli"
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str | None] = mapped_column(String(100))   # "question:12", "broadcast:3"
    detail: Mapped[str | None] = mapped_column(Text)


class QuestionGroup(Base):
    """The similarity group of an inbox question (folded text key), assigned when first listed."""

    __tablename__ = "question_groups"
    __table_args__ = (Index(None, "group_key"),)

    question_id: Mapped[int] = mapped_column(ForeignKey("question_inbox.id", ondelete="CASCADE"), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(200))


class QuestionReply(Base):
    """An answer sent to the resident who asked: the one-recipient outbox message carrying it."""

    __tablename__ = "question_replies"

    question_id: Mapped[int] = mapped_column(ForeignKey("question_inbox.id", ondelete="CASCADE"), primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True)


class FeedbackState(Base):
    """Where officials are with one piece of feedback (no row: new)."""

    __tablename__ = "feedback_states"

    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reply_text: Mapped[str | None] = mapped_column(Text)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"))
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The overview counts answers per day, rating and passage over a period, for every ward
# or for one: covering indexes, so the counts read the index alone (migration 0012_console).
OVERVIEW_COLUMNS = (AnswerLog.confident, AnswerLog.rating, AnswerLog.top_passage_id)
Index("ix_answer_log_overview", AnswerLog.created_at, AnswerLog.ward, *OVERVIEW_COLUMNS)
Index("ix_answer_log_ward_overview", AnswerLog.ward, AnswerLog.created_at, *OVERVIEW_COLUMNS)
