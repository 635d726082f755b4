"""Broadcast tables: the announcement an official wrote, and its outbox.

``broadcasts``: one row per announcement: text, segment (wards, groups,
platforms), status (scheduled → running → done, or cancelled), who created
it, when it is due, when it started and finished, and the final counts.

``broadcast_recipients``: the outbox, one row per (broadcast, recipient
chat), materialised from the active subscriptions when the broadcast starts.
The unique key makes materialising idempotent; the row's status is the
delivery state machine (see `bot.broadcast.outbox`). Rows hang off the
resident with ON DELETE CASCADE, so /xoadulieu removes them too.

Imported by `bot.storage` (package import), so `Base.metadata` always holds
these tables wherever the metadata is used (Alembic's env.py, tests).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import PLATFORM_ID_LEN, PLATFORM_LEN, Base, JsonDocument, UTCDateTime, utcnow

# Broadcast statuses.
SCHEDULED, RUNNING, DONE, CANCELLED = "scheduled", "running", "done", "cancelled"
BROADCAST_STATUSES = (SCHEDULED, RUNNING, DONE, CANCELLED)

# Recipient (outbox row) statuses.
PENDING, SENDING, SENT, FAILED, BLOCKED, OUT_OF_WINDOW, SKIPPED = (
    "pending", "sending", "sent", "failed", "blocked", "out_of_window", "cancelled",
)
# Zalo, outside the 7-day window, when the promotion message could not reach them either:
NO_QUOTA, NOT_FOLLOWER = "no_quota", "not_follower"    # -211 the OA's quota is used up; -213 not a follower
RECIPIENT_STATUSES = (PENDING, SENDING, SENT, FAILED, BLOCKED, OUT_OF_WINDOW, SKIPPED, NO_QUOTA, NOT_FOLLOWER)
PROMOTION = "promotion"                     # BroadcastRecipient.via
OPEN_STATUSES = (PENDING, SENDING)          # a running broadcast is done when none is left


class Broadcast(Base):
    __tablename__ = "broadcasts"
    __table_args__ = (Index(None, "status", "scheduled_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    photo_url: Mapped[str | None] = mapped_column(String(500))
    # {"wards": [...], "groups": [...], "platforms": [...]}; an empty list means "all".
    segment: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    status: Mapped[str] = mapped_column(String(16), default=SCHEDULED)
    created_by: Mapped[str] = mapped_column(String(100))                 # "telegram:123", "cli"
    # Where progress and the report go (the official's chat); None from the CLI.
    report_platform: Mapped[str | None] = mapped_column(String(PLATFORM_LEN))
    report_chat_id: Mapped[str | None] = mapped_column(String(PLATFORM_ID_LEN))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    # Counts: total when materialised; the others written when the broadcast ends
    # (while it runs they are counted from the outbox).
    total: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[int] = mapped_column(Integer, default=0)
    out_of_window: Mapped[int] = mapped_column(Integer, default=0)
    # Progress for the official: the message edited on Telegram, the last
    # milestone announced on Zalo, and a compare-and-set timestamp so that one
    # worker (of several) updates it at a time.
    progress_message_id: Mapped[str | None] = mapped_column(String(64))
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_milestone: Mapped[int] = mapped_column(Integer, default=0)
    report_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BroadcastRecipient(Base):
    """One outbox row: this broadcast, to this chat."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "platform", "chat_id"),
        Index(None, "status", "next_attempt_at"),          # claiming
        Index(None, "broadcast_id", "status"),             # counting, finishing
        Index(None, "claimed_by", "status"),               # lease renewal, release
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    resident_id: Mapped[int | None] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN))
    chat_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)     # answered attempts, 429s not counted
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(300))
    # Attempts that reached the platform without a verdict (5xx, timeout) and
    # were tried again: the recipient may have got the message more than once.
    maybe_delivered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    via: Mapped[str | None] = mapped_column(String(16))     # "promotion": Zalo, outside the 7-day window
