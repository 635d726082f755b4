"""Broadcasts by officials and their outbox (one row per recipient).

Revision ID: 0003_broadcast
Revises: 0001_core
Create Date: 2025-11-29

Chained to 0001_core: no 0002 existed when this was written, and the quiz
tables came next as 0004_quiz (down_revision 0003_broadcast). The two touch
different tables, so their order does not matter to either.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_broadcast"
down_revision: str | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("photo_url", sa.String(500), nullable=True),
        sa.Column("segment", JSON_DOC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("report_platform", sa.String(16), nullable=True),
        sa.Column("report_chat_id", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("scheduled_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("cancelled_by", sa.String(100), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("blocked", sa.Integer(), nullable=False),
        sa.Column("out_of_window", sa.Integer(), nullable=False),
        sa.Column("progress_message_id", sa.String(64), nullable=True),
        sa.Column("progress_at", TS, nullable=True),
        sa.Column("progress_milestone", sa.Integer(), nullable=False),
        sa.Column("report_claimed_at", TS, nullable=True),
        sa.Column("report_sent_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_index(op.f("ix_broadcasts_status_scheduled_at"), "broadcasts", ["status", "scheduled_at"])

    op.create_table(
        "broadcast_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"], ondelete="CASCADE",
                                name=op.f("fk_broadcast_recipients_broadcast_id_broadcasts")),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE",
                                name=op.f("fk_broadcast_recipients_resident_id_residents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_recipients")),
        sa.UniqueConstraint("broadcast_id", "platform", "chat_id",
                            name=op.f("uq_broadcast_recipients_broadcast_id_platform_chat_id")),
    )
    op.create_index(op.f("ix_broadcast_recipients_status_next_attempt_at"), "broadcast_recipients",
                    ["status", "next_attempt_at"])
    op.create_index(op.f("ix_broadcast_recipients_broadcast_id_status"), "broadcast_recipients",
                    ["broadcast_id", "status"])
    op.create_index(op.f("ix_broadcast_recipients_claimed_by_status"), "broadcast_recipients",
                    ["claimed_by", "status"])
    op.create_index(op.f("ix_broadcast_recipients_resident_id"), "broadcast_recipients", ["resident_id"])


def downgrade() -> None:
    op.drop_table("broadcast_recipients")
    op.drop_table("broadcasts")
