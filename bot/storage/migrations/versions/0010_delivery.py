"""The durable message path: inbox_updates, reply_outbox, platform_tokens, chat_leases (bot/storage/delivery_models.py).

Revision ID: 0010_delivery
Revises: 0009_documents
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0010_delivery"
down_revision: str | None = "0009_documents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbox_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("update_key", sa.String(128), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("incoming", JSON, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("processed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_updates")),
        sa.UniqueConstraint("platform", "update_key", name=op.f("uq_inbox_updates_platform_update_key")),
    )
    op.create_index(op.f("ix_inbox_updates_processed_at_platform_chat_id"), "inbox_updates",
                    ["processed_at", "platform", "chat_id"])
    op.create_index(op.f("ix_inbox_updates_received_at"), "inbox_updates", ["received_at"])
    op.create_table(
        "reply_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=True),
        sa.Column("reply", JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("maybe_delivered", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("deadline_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_outbox")),
    )
    op.create_index(op.f("ix_reply_outbox_status_platform_chat_id_id"), "reply_outbox",
                    ["status", "platform", "chat_id", "id"])
    op.create_table(
        "platform_tokens",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("seeded_from", sa.String(32), nullable=False),
        sa.Column("refresh_claimed_until", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("platform", name=op.f("pk_platform_tokens")),
    )
    op.create_table(
        "chat_leases",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("until", TS, nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", name=op.f("pk_chat_leases")),
    )


def downgrade() -> None:
    op.drop_table("chat_leases")
    op.drop_table("platform_tokens")
    op.drop_index(op.f("ix_reply_outbox_status_platform_chat_id_id"), table_name="reply_outbox")
    op.drop_table("reply_outbox")
    op.drop_index(op.f("ix_inbox_updates_received_at"), table_name="inbox_updates")
    op.drop_index(op.f("ix_inbox_updates_processed_at_platform_chat_id"), table_name="inbox_updates")
    op.drop_table("inbox_updates")
