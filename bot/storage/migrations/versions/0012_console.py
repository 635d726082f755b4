"""The officials' web console: wards per official, one-time sign-in links, audit log,
question groups and replies, feedback status (bot/storage/console_models.py).

Revision ID: 0012_console
Revises: 0011_shared_limits
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_console"
down_revision: str | None = "0011_shared_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "official_wards",
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("ward", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(["official_id"], ["officials.id"], ondelete="CASCADE",
                                name=op.f("fk_official_wards_official_id_officials")),
        sa.PrimaryKeyConstraint("official_id", "ward", name=op.f("pk_official_wards")),
    )
    op.create_table(
        "console_login_links",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("official_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["official_id"], ["officials.id"], ondelete="CASCADE",
                                name=op.f("fk_console_login_links_official_id_officials")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_login_links")),
    )
    op.create_index(op.f("ix_console_login_links_official_id"), "console_login_links", ["official_id"])
    op.create_table(
        "console_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(100), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_audit")),
    )
    op.create_index(op.f("ix_console_audit_at"), "console_audit", ["at"])
    op.create_index(op.f("ix_console_audit_action"), "console_audit", ["action"])
    op.create_table(
        "question_groups",
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["question_inbox.id"], ondelete="CASCADE",
                                name=op.f("fk_question_groups_question_id_question_inbox")),
        sa.PrimaryKeyConstraint("question_id", name=op.f("pk_question_groups")),
    )
    op.create_index(op.f("ix_question_groups_group_key"), "question_groups", ["group_key"])
    op.create_table(
        "question_replies",
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["question_inbox.id"], ondelete="CASCADE",
                                name=op.f("fk_question_replies_question_id_question_inbox")),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"], ondelete="CASCADE",
                                name=op.f("fk_question_replies_broadcast_id_broadcasts")),
        sa.PrimaryKeyConstraint("question_id", name=op.f("pk_question_replies")),
    )
    op.create_index(op.f("ix_question_replies_broadcast_id"), "question_replies", ["broadcast_id"])
    op.create_table(
        "feedback_states",
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("broadcast_id", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["feedback_id"], ["feedback.id"], ondelete="CASCADE",
                                name=op.f("fk_feedback_states_feedback_id_feedback")),
        sa.ForeignKeyConstraint(["broadcast_id"], ["broadcasts.id"], ondelete="SET NULL",
                                name=op.f("fk_feedback_states_broadcast_id_broadcasts")),
        sa.PrimaryKeyConstraint("feedback_id", name=op.f("pk_feedback_states")),
    )
    op.create_index(op.f("ix_feedback_states_status"), "feedback_states", ["status"])
    # The overview counts answers by day over a period, for every ward or one (covering).
    covered = ["confident", "rating", "top_passage_id"]
    op.create_index("ix_answer_log_overview", "answer_log", ["created_at", "ward", *covered])
    op.create_index("ix_answer_log_ward_overview", "answer_log", ["ward", "created_at", *covered])


def downgrade() -> None:
    op.drop_index("ix_answer_log_ward_overview", table_name="answer_log")
    op.drop_index("ix_answer_log_overview", table_name="answer_log")
    for table in ("feedback_states", "question_replies", "question_groups", "console_audit",
                  "console_login_links", "official_wards"):
        op.drop_table(table)
