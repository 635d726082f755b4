"""The tables: who residents are, what they subscribed to, and what they told us.

Every table that holds something a resident said or chose hangs off
`residents` with ON DELETE CASCADE, so /xoadulieu removes it all. Tables
keyed by a platform id without a resident row (dialog state, officials)
are named in `bot.storage.repo.delete_resident_data`.

Schema changes go through Alembic (bot/storage/migrations); a test checks
that these models and the migrations agree.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PLATFORM_LEN = 16
PLATFORM_ID_LEN = 64
WARD_LEN = 128

JsonDocument = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps in UTC, timezone-aware on the way out whatever the backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones and stores
    the UTC wall time, which this type reads back as aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Resident(Base):
    """Anyone who has asked, given feedback or subscribed (one row per platform account)."""

    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN))
    platform_user_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN))
    display_name: Mapped[str | None] = mapped_column(String(128))
    ward: Mapped[str | None] = mapped_column(String(WARD_LEN))       # as chosen in /dangky
    chi_doan: Mapped[str | None] = mapped_column(String(128))        # youth-union branch, for đoàn viên
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(Base):
    """A resident's wish to receive announcements (at most one per resident)."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index(None, "ward", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), unique=True
    )
    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN))
    chat_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN))     # where announcements go
    ward: Mapped[str] = mapped_column(String(WARD_LEN))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriptionGroup(Base):
    """The groups a subscription covers: "cu_dan", "doan_vien", "can_bo"."""

    __tablename__ = "subscription_groups"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    group_code: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN))
    topic: Mapped[str] = mapped_column(String(64), index=True)   # "mohinh:<id>", "tieuchi:<key>", "khac"
    topic_label: Mapped[str] = mapped_column(String(300))          # as shown to the resident
    ward: Mapped[str | None] = mapped_column(String(WARD_LEN), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AnswerLog(Base):
    """Every question the bot answered or declined, and the asker's one rating."""

    __tablename__ = "answer_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN))
    question: Mapped[str] = mapped_column(Text)
    top_passage_id: Mapped[str | None] = mapped_column(String(128), index=True)
    confident: Mapped[bool] = mapped_column(Boolean)
    confidence: Mapped[float] = mapped_column(Float)
    ward: Mapped[str | None] = mapped_column(String(WARD_LEN))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # +1 (👍) or -1 (👎); the first tap counts, later taps change nothing.
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# How a question reached the inbox: logged when the bot declined it, or sent on by the
# resident ("Gửi câu hỏi này tới cán bộ"); a declined question that is then sent is one row.
QUESTION_ORIGINS = ("declined", "asked")
# Where officials are with it.
QUESTION_STATUSES = ("new", "answered", "not_needed", "duplicate")


class InboxQuestion(Base):
    """A resident's question for officials: one the text did not answer, or one sent on.

    Officials work from this inbox (the console reads it); `chat_id` is where
    an answer can be delivered.
    """

    __tablename__ = "question_inbox"
    __table_args__ = (
        CheckConstraint(f"origin IN {QUESTION_ORIGINS}", name="origin"),
        CheckConstraint(f"status IN {QUESTION_STATUSES}", name="status"),
        Index(None, "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("answer_log.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN))
    chat_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LEN))
    ward: Mapped[str | None] = mapped_column(String(WARD_LEN), index=True)
    question: Mapped[str] = mapped_column(Text)
    nearest_passage_id: Mapped[str | None] = mapped_column(String(128))
    confidence: Mapped[float | None] = mapped_column(Float)
    origin: Mapped[str] = mapped_column(String(16), default="declined")
    status: Mapped[str] = mapped_column(String(16), default="new")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)       # when the resident sent it on
    note: Mapped[str | None] = mapped_column(Text)                       # officials' own note
    answer_text: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(128))         # who answered or closed it
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ChatContextState(Base):
    """What the last answer in a chat showed, so "còn nhóm 3 thì sao?" can follow it.

    Kept in the database because several bot processes may serve one chat;
    read only within its time to live (handlers/context.py).
    """

    __tablename__ = "chat_contexts"

    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN), primary_key=True)
    # Whose answer it was (so /xoadulieu finds it in a group chat too).
    platform_user_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN))
    state: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Official(Base):
    """Accounts allowed to use official-only commands. Managed with `civicbot admin`."""

    __tablename__ = "officials"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN))
    platform_user_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN))
    role: Mapped[str] = mapped_column(String(32), default="official")   # "official" or "admin"
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProcessedDelivery(Base):
    """Platform message ids already handled, so a redelivered webhook is answered once."""

    __tablename__ = "processed_deliveries"

    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class DialogState(Base):
    """The one open multi-step dialog of a user (feedback, subscription, ...)."""

    __tablename__ = "dialog_states"

    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN), primary_key=True)
    platform_user_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    state: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    revision: Mapped[int] = mapped_column(Integer, default=1)   # bumped on every write
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
