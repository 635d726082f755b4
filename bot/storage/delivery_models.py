"""The durable message path: updates in (inbox), replies out (reply outbox).

``inbox_updates``: every update a messenger handed us, written before it is
acknowledged (webhook 200, polling offset). The unique (platform, key) makes
a redelivered update a no-op, so this table is also the deduplication log.
``processed_at`` is set in the same transaction as everything the update's
handlers wrote and its replies: after a crash, what has no ``processed_at``
is processed on restart, exactly once.

``reply_outbox``: the replies to one update, in order (``id``), sent by the
chat's worker (bot/channels/conversations.py) and retried until delivered or
``deadline_at``. What finally failed stays with its reason (``civicbot stats``).

``platform_tokens``: rotating token pairs (Zalo), one refresher at a time
across processes (bot/storage/tokens.py).

``chat_leases``: the process working on a chat, so that several replicas
still process a chat's updates one at a time, in order.

Imported by `bot.storage` (package import), so `Base.metadata` holds these tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import PLATFORM_ID_LEN, PLATFORM_LEN, Base, JsonDocument, UTCDateTime, utcnow

# Reply statuses.
PENDING, SENT, FAILED = "pending", "sent", "failed"


class InboxUpdate(Base):
    __tablename__ = "inbox_updates"
    __table_args__ = (
        UniqueConstraint("platform", "update_key"),
        Index(None, "processed_at", "platform", "chat_id"),
        Index(None, "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN))
    update_key: Mapped[str] = mapped_column(String(128))     # the platform's update / message id
    chat_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN))
    incoming: Mapped[dict[str, Any]] = mapped_column(JsonDocument)   # bot.channels.wire
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxReply(Base):
    __tablename__ = "reply_outbox"
    __table_args__ = (Index(None, "status", "platform", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN))
    chat_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN))
    inbox_id: Mapped[int | None] = mapped_column(Integer)    # the update it answers
    reply: Mapped[dict[str, Any]] = mapped_column(JsonDocument)       # bot.channels.wire
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts whose verdict was "maybe delivered" (5xx, timeout): a retry may have duplicated it.
    maybe_delivered: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[str] = mapped_column(String(200), default="")


class PlatformToken(Base):
    """A platform's rotating token pair (Zalo: the refresh token is single-use), shared by
    every process; ``refresh_claimed_until`` lets one of them refresh at a time."""

    __tablename__ = "platform_tokens"

    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[float | None] = mapped_column(Float)
    seeded_from: Mapped[str] = mapped_column(String(32), default="")
    refresh_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChatLease(Base):
    """Which process works on a chat right now (bot/channels/dispatch.py): with several
    replicas, a chat's updates are still processed one at a time, in order."""

    __tablename__ = "chat_leases"

    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    until: Mapped[datetime] = mapped_column(UTCDateTime)
