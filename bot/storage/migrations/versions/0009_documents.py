"""The document registry (bot/storage/document_models.py).

Revision ID: 0009_documents
Revises: 0004_quiz
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_documents"
down_revision: str | None = "0005_question_inbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "knowledge_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("issued", sa.Date(), nullable=True),
        sa.Column("ward", sa.String(128), nullable=True),
        sa.Column("announcement", sa.Boolean(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("passages", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("status_changed_at", TS, nullable=True),
        sa.Column("status_changed_by", sa.String(100), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_documents")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_knowledge_documents_code_version")),
    )
    op.create_index(op.f("ix_knowledge_documents_status"), "knowledge_documents", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_knowledge_documents_status"), table_name="knowledge_documents")
    op.drop_table("knowledge_documents")
