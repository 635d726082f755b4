"""Question inbox (was unanswered_questions) and per-chat conversation context.

The declined-questions list becomes the inbox officials work from: where an
answer can be delivered (chat_id), how the question came (declined by the
bot, or sent on by the resident), its status, a note, the answer and who
gave it. Rows are copied over; a question an official had marked handled
(resolved_at) becomes "answered" at that time.

Revision ID: 0005_question_inbox
Revises: 0004_quiz
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_question_inbox"
down_revision: str | None = "0004_quiz"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "question_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=True),
        sa.Column("ward", sa.String(128), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("nearest_passage_id", sa.String(128), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("asked_at", TS, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(128), nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.CheckConstraint("origin IN ('declined', 'asked')", name=op.f("ck_question_inbox_origin")),
        sa.CheckConstraint("status IN ('new', 'answered', 'not_needed', 'duplicate')",
                           name=op.f("ck_question_inbox_status")),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE",
                                name=op.f("fk_question_inbox_resident_id_residents")),
        sa.ForeignKeyConstraint(["answer_id"], ["answer_log.id"], ondelete="CASCADE",
                                name=op.f("fk_question_inbox_answer_id_answer_log")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_inbox")),
    )
    op.create_index(op.f("ix_question_inbox_resident_id"), "question_inbox", ["resident_id"])
    op.create_index(op.f("ix_question_inbox_answer_id"), "question_inbox", ["answer_id"])
    op.create_index(op.f("ix_question_inbox_ward"), "question_inbox", ["ward"])
    op.create_index(op.f("ix_question_inbox_created_at"), "question_inbox", ["created_at"])
    op.create_index(op.f("ix_question_inbox_status_created_at"), "question_inbox", ["status", "created_at"])
    op.execute(
        "INSERT INTO question_inbox (id, resident_id, answer_id, platform, ward, question, nearest_passage_id,"
        " confidence, origin, status, created_at, answered_at)"
        " SELECT id, resident_id, answer_id, platform, ward, question, nearest_passage_id, confidence,"
        " 'declined', CASE WHEN resolved_at IS NULL THEN 'new' ELSE 'answered' END, created_at, resolved_at"
        " FROM unanswered_questions"
    )
    _continue_ids("question_inbox")
    op.drop_table("unanswered_questions")

    op.create_table(
        "chat_contexts",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("platform_user_id", sa.String(64), nullable=False),
        sa.Column("state", JSON_DOC, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("platform", "chat_id", name=op.f("pk_chat_contexts")),
    )
    op.create_index(op.f("ix_chat_contexts_updated_at"), "chat_contexts", ["updated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_chat_contexts_updated_at"), table_name="chat_contexts")
    op.drop_table("chat_contexts")
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
    # Questions the resident sent on without a decline have no confidence: 0 (nothing matched).
    op.execute(
        "INSERT INTO unanswered_questions (id, resident_id, answer_id, platform, question, ward,"
        " nearest_passage_id, confidence, created_at, resolved_at)"
        " SELECT id, resident_id, answer_id, platform, question, ward, nearest_passage_id,"
        " COALESCE(confidence, 0), created_at, CASE WHEN status = 'new' THEN NULL"
        " ELSE COALESCE(answered_at, created_at) END FROM question_inbox"
    )
    _continue_ids("unanswered_questions")
    op.drop_table("question_inbox")


def _continue_ids(table: str) -> None:
    """After copying rows with their ids, new rows must not reuse them (PostgreSQL's sequence)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false)"
                   f" FROM {table}")
