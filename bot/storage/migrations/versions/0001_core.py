"""Core tables: residents, subscriptions, feedback, answer log and ratings,
unanswered questions, officials, processed deliveries, dialog state.

Revision ID: 0001_core
Revises:
Create Date: 2025-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001_core"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "residents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("platform_user_id", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(128), nullable=True),
        sa.Column("ward", sa.String(128), nullable=True),
        sa.Column("chi_doan", sa.String(128), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residents")),
        sa.UniqueConstraint("platform", "platform_user_id",
                            name=op.f("uq_residents_platform_platform_user_id")),
    )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("ward", sa.String(128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE",
                                name=op.f("fk_subscriptions_resident_id_residents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("resident_id", name=op.f("uq_subscriptions_resident_id")),
    )
    op.create_index(op.f("ix_subscriptions_ward_active"), "subscriptions", ["ward", "active"])

    op.create_table(
        "subscription_groups",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("group_code", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="CASCADE",
                                name=op.f("fk_subscription_groups_subscription_id_subscriptions")),
        sa.PrimaryKeyConstraint("subscription_id", "group_code", name=op.f("pk_subscription_groups")),
    )
    op.create_index(op.f("ix_subscription_groups_group_code"), "subscription_groups", ["group_code"])

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("topic_label", sa.String(300), nullable=False),
        sa.Column("ward", sa.String(128), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE",
                                name=op.f("fk_feedback_resident_id_residents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_resident_id"), "feedback", ["resident_id"])
    op.create_index(op.f("ix_feedback_topic"), "feedback", ["topic"])
    op.create_index(op.f("ix_feedback_ward"), "feedback", ["ward"])
    op.create_index(op.f("ix_feedback_created_at"), "feedback", ["created_at"])

    op.create_table(
        "answer_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("top_passage_id", sa.String(128), nullable=True),
        sa.Column("confident", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("ward", sa.String(128), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("rated_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE",
                                name=op.f("fk_answer_log_resident_id_residents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_log")),
    )
    op.create_index(op.f("ix_answer_log_resident_id"), "answer_log", ["resident_id"])
    op.create_index(op.f("ix_answer_log_top_passage_id"), "answer_log", ["top_passage_id"])
    op.create_index(op.f("ix_answer_log_created_at"), "answer_log", ["created_at"])

    op.create_table(
        "unanswered_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("ward", sa.String(128), nullable=True),
        sa.Column("nearest_passage_id", sa.String(128), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE",
                                name=op.f("fk_unanswered_questions_resident_id_residents")),
        sa.ForeignKeyConstraint(["answer_id"], ["answer_log.id"], ondelete="CASCADE",
                                name=op.f("fk_unanswered_questions_answer_id_answer_log")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unanswered_questions")),
    )
    op.create_index(op.f("ix_unanswered_questions_resident_id"), "unanswered_questions", ["resident_id"])
    op.create_index(op.f("ix_unanswered_questions_answer_id"), "unanswered_questions", ["answer_id"])
    op.create_index(op.f("ix_unanswered_questions_ward"), "unanswered_questions", ["ward"])
    op.create_index(op.f("ix_unanswered_questions_created_at"), "unanswered_questions", ["created_at"])

    op.create_table(
        "officials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("platform_user_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_officials")),
        sa.UniqueConstraint("platform", "platform_user_id",
                            name=op.f("uq_officials_platform_platform_user_id")),
    )

    op.create_table(
        "processed_deliveries",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("platform", "message_id", name=op.f("pk_processed_deliveries")),
    )
    op.create_index(op.f("ix_processed_deliveries_seen_at"), "processed_deliveries", ["seen_at"])

    op.create_table(
        "dialog_states",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("platform_user_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("state", JSON_DOC, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("platform", "platform_user_id", name=op.f("pk_dialog_states")),
    )
    op.create_index(op.f("ix_dialog_states_updated_at"), "dialog_states", ["updated_at"])


def downgrade() -> None:
    for table in (
        "dialog_states", "processed_deliveries", "officials", "unanswered_questions",
        "answer_log", "feedback", "subscription_groups", "subscriptions", "residents",
    ):
        op.drop_table(table)
