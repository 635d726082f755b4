"""Quizzes: rounds, answers, Leitner boxes, poll links (bot/storage/quiz_models.py).

Revision ID: 0004_quiz
Revises: 0003_broadcast
Create Date: 2025-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_quiz"
down_revision: str | None = "0003_broadcast"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "quiz_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("token", sa.String(16), nullable=False),
        sa.Column("menu_token", sa.String(16), nullable=True),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("question_ids", sa.JSON(), nullable=False),
        sa.Column("size", sa.SmallInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("asked_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE",
                                name=op.f("fk_quiz_rounds_resident_id_residents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_rounds")),
        sa.UniqueConstraint("token", name=op.f("uq_quiz_rounds_token")),
        sa.UniqueConstraint("resident_id", "menu_token", name=op.f("uq_quiz_rounds_resident_id_menu_token")),
    )
    op.create_index(op.f("ix_quiz_rounds_status_finished_at_resident_id_score_size"), "quiz_rounds",
                    ["status", "finished_at", "resident_id", "score", "size"])
    op.create_index(op.f("ix_quiz_rounds_resident_id_status_finished_at_score_size"), "quiz_rounds",
                    ["resident_id", "status", "finished_at", "score", "size"])

    op.create_table(
        "quiz_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("question_id", sa.String(160), nullable=False),
        sa.Column("topic", sa.String(32), nullable=False),
        sa.Column("criteria_group", sa.String(16), nullable=False),
        sa.Column("chosen", sa.SmallInteger(), nullable=True),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("time_taken_ms", sa.Integer(), nullable=False),
        sa.Column("answered_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["quiz_rounds.id"], ondelete="CASCADE",
                                name=op.f("fk_quiz_answers_round_id_quiz_rounds")),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE",
                                name=op.f("fk_quiz_answers_resident_id_residents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quiz_answers")),
        sa.UniqueConstraint("round_id", "position", name=op.f("uq_quiz_answers_round_id_position")),
    )
    op.create_index(op.f("ix_quiz_answers_resident_id_answered_at"), "quiz_answers",
                    ["resident_id", "answered_at"])
    op.create_index(op.f("ix_quiz_answers_question_id"), "quiz_answers", ["question_id"])

    op.create_table(
        "quiz_leitner",
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(160), nullable=False),
        sa.Column("box", sa.SmallInteger(), nullable=False),
        sa.Column("due_round", sa.Integer(), nullable=False),
        sa.Column("times_right", sa.Integer(), nullable=False),
        sa.Column("times_wrong", sa.Integer(), nullable=False),
        sa.Column("last_answered_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE",
                                name=op.f("fk_quiz_leitner_resident_id_residents")),
        sa.PrimaryKeyConstraint("resident_id", "question_id", name=op.f("pk_quiz_leitner")),
    )

    op.create_table(
        "quiz_polls",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("poll_id", sa.String(64), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["quiz_rounds.id"], ondelete="CASCADE",
                                name=op.f("fk_quiz_polls_round_id_quiz_rounds")),
        sa.PrimaryKeyConstraint("platform", "poll_id", name=op.f("pk_quiz_polls")),
    )
    op.create_index(op.f("ix_quiz_polls_round_id"), "quiz_polls", ["round_id"])


def downgrade() -> None:
    op.drop_table("quiz_polls")
    op.drop_table("quiz_leitner")
    op.drop_table("quiz_answers")
    op.drop_table("quiz_rounds")
