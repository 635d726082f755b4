"""The shared sending limiter's tables; honest counts in the broadcast outbox.

* ``rate_limit_state`` / ``rate_limit_chats`` (bot/storage/limit_models.py).
* ``broadcast_recipients.maybe_delivered``: attempts that reached the platform
  without a verdict (5xx, timeout) and were retried: possible duplicates.
* ``broadcast_recipients.via``: how a row went out when not the usual way
  ("promotion": Zalo's promotion message, outside the 7-day window).

Revision ID: 0007_shared_limits
Revises: 0009_documents
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_shared_limits"
down_revision: str | None = "0009_documents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADMISSIONS = sa.ARRAY(sa.Float()).with_variant(sa.JSON(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rate_limit_state",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("sends", ADMISSIONS, nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=False),
        sa.Column("replies_waiting_until", sa.Float(), nullable=False),
    )
    op.create_table(
        "rate_limit_chats",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("chat_id", sa.String(64), primary_key=True),
        sa.Column("ready_at", sa.Float(), nullable=False),
    )
    op.create_index(op.f("ix_rate_limit_chats_ready_at"), "rate_limit_chats", ["ready_at"])
    with op.batch_alter_table("broadcast_recipients") as batch:
        batch.add_column(sa.Column("maybe_delivered", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("via", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcast_recipients") as batch:
        batch.drop_column("via")
        batch.drop_column("maybe_delivered")
    op.drop_index(op.f("ix_rate_limit_chats_ready_at"), table_name="rate_limit_chats")
    op.drop_table("rate_limit_chats")
    op.drop_table("rate_limit_state")
