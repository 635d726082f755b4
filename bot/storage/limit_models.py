"""Tables of the shared sending limiter (bot/channels/limits.py, PostgreSQL).

``rate_limit_state``: one row per platform, locked for the moment of each
decision: the last admission times (the sliding window), a platform-wide
pause after a flood 429, and until when replies are waiting.
``rate_limit_chats``: when each recently written chat may get its next message.

Times are seconds since the epoch on the database's clock. On SQLite (one
process) the limiter keeps the same state in memory and these stay empty.
"""

from __future__ import annotations

from sqlalchemy import ARRAY, JSON, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import PLATFORM_ID_LEN, PLATFORM_LEN, Base

ADMISSIONS = ARRAY(Float).with_variant(JSON(), "sqlite")


class RateLimitState(Base):
    __tablename__ = "rate_limit_state"

    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN), primary_key=True)
    sends: Mapped[list[float]] = mapped_column(ADMISSIONS)
    paused_until: Mapped[float] = mapped_column(Float, default=0.0)
    replies_waiting_until: Mapped[float] = mapped_column(Float, default=0.0)


class RateLimitChat(Base):
    __tablename__ = "rate_limit_chats"

    platform: Mapped[str] = mapped_column(String(PLATFORM_LEN), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(PLATFORM_ID_LEN), primary_key=True)
    ready_at: Mapped[float] = mapped_column(Float, index=True)
