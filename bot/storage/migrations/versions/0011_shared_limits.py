"""The shared sending limiter's tables; honest counts in the broadcast outbox.

* ``rate_limit_state`` / ``rate_limit_chats`` (bot/storage/limit_models.py).
* ``broadcast_recipients.maybe_delivered``: attempts that reached the platform
  without a verdict (5xx, timeout) and were retried: possible duplicates.
* ``broadcast_recipients.via``: how a row went out when not the usual way
  ("promotion": Zalo's promotion message, outside the 7-day window).

Revision ID: 0011_shared_limits
Revises: 0010_delivery
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_shared_limits"
down_revision: str | None = "0010_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADMISSIONS = sa.ARRAY(sa.Float()).with_variant(sa.JSON(), "sqlite")

# The limiter's decision (bot/channels/limits.py, `decide`) in the database, so
# that the platform's row is locked for microseconds, not for several round
# trips: several processes polling it at 30 decisions a second must not queue
# on the lock. Returns (wait, now): wait > 0 means "not admitted, wait this
# long"; otherwise the message is admitted at ``now`` (the database's clock).
RATE_LIMIT_TRY = """
CREATE OR REPLACE FUNCTION rate_limit_try(
    p_platform text, p_chat text, p_reply boolean, p_size integer, p_window float8,
    p_min_gap float8, p_chat_interval float8, p_margin float8, p_grace float8,
    OUT wait float8, OUT now_s float8, OUT chat_bound boolean)
LANGUAGE plpgsql AS $$
DECLARE
    st rate_limit_state%ROWTYPE;
    chat_ready float8 := 0;
    due float8;
    n integer;
BEGIN
    -- The limiter's state is worth milliseconds: its commit need not wait for the disk.
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM 1 FROM rate_limit_state WHERE platform = p_platform;
    IF NOT FOUND THEN
        INSERT INTO rate_limit_state VALUES (p_platform, '{}', 0, 0) ON CONFLICT (platform) DO NOTHING;
    END IF;
    IF p_size > 0 THEN
        SELECT * INTO st FROM rate_limit_state WHERE platform = p_platform FOR UPDATE;
    ELSE
        SELECT * INTO st FROM rate_limit_state WHERE platform = p_platform;
    END IF;
    now_s := extract(epoch FROM clock_timestamp());
    IF p_chat IS NOT NULL AND p_chat_interval > 0 THEN
        SELECT coalesce(max(ready_at), 0) INTO chat_ready FROM rate_limit_chats
         WHERE platform = p_platform AND chat_id = p_chat;
    END IF;
    due := greatest(st.paused_until, chat_ready);
    n := coalesce(array_length(st.sends, 1), 0);
    IF p_size > 0 AND n >= p_size THEN
        due := greatest(due, st.sends[n - p_size + 1] + p_window + p_margin);
    END IF;
    IF p_size > 0 AND n > 0 THEN
        due := greatest(due, st.sends[n] + p_min_gap);
    END IF;
    IF NOT p_reply AND st.replies_waiting_until > now_s THEN
        due := greatest(due, st.replies_waiting_until);
    END IF;
    wait := due - now_s;
    chat_bound := chat_ready >= due;
    IF wait > 0 THEN
        IF p_reply AND chat_ready <= now_s THEN
            UPDATE rate_limit_state SET replies_waiting_until = greatest(replies_waiting_until, due + p_grace)
             WHERE platform = p_platform;
        END IF;
        RETURN;
    END IF;
    wait := 0;
    IF p_size > 0 THEN
        UPDATE rate_limit_state SET sends = (st.sends || now_s)[greatest(1, n + 2 - p_size):]
         WHERE platform = p_platform;
    END IF;
    IF p_chat IS NOT NULL AND p_chat_interval > 0 THEN
        INSERT INTO rate_limit_chats VALUES (p_platform, p_chat, now_s + p_chat_interval)
            ON CONFLICT (platform, chat_id) DO UPDATE
            SET ready_at = greatest(rate_limit_chats.ready_at, EXCLUDED.ready_at);
    END IF;
END $$;
"""


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
    if op.get_bind().dialect.name == "postgresql":
        op.execute(RATE_LIMIT_TRY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS rate_limit_try")
    with op.batch_alter_table("broadcast_recipients") as batch:
        batch.drop_column("via")
        batch.drop_column("maybe_delivered")
    op.drop_index(op.f("ix_rate_limit_chats_ready_at"), table_name="rate_limit_chats")
    op.drop_table("rate_limit_chats")
    op.drop_table("rate_limit_state")
