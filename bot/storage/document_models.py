"""The document registry: every version of every document added as knowledge.

One row per version. ``code`` names the document across its versions
("vb3": the row id of its first version), so passage ids and citations stay
the same when a newer version replaces it. Status: ``active`` (quoted),
``replaced`` (kept for the record, never quoted), ``withdrawn``. The files
themselves (the original and its parsed structure) live under the data
directory (knowledge/library.py); the row holds their hash.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage.models import WARD_LEN, Base, UTCDateTime, utcnow

ACTIVE, REPLACED, WITHDRAWN = "active", "replaced", "withdrawn"
DOCUMENT_STATUSES = (ACTIVE, REPLACED, WITHDRAWN)


class KnowledgeDocument(Base):
    __tablename__ = "knowledge_documents"
    __table_args__ = (UniqueConstraint("code", "version"), Index(None, "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16))                  # "vb3", the same for every version
    version: Mapped[int] = mapped_column(Integer)                  # 1, 2, ...
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(255))             # as given
    file_sha256: Mapped[str] = mapped_column(String(64))
    issued: Mapped[date | None] = mapped_column(Date)
    ward: Mapped[str | None] = mapped_column(String(WARD_LEN))     # None: the whole city
    announcement: Mapped[bool] = mapped_column(Boolean, default=False)
    broadcast_id: Mapped[int | None] = mapped_column(Integer)      # the broadcast it was published from
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    passages: Mapped[int] = mapped_column(Integer, default=0)
    added_by: Mapped[str] = mapped_column(String(100))             # "cli", "console:telegram:123"
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)                 # why it was withdrawn
