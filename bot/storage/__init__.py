"""Storage: SQLAlchemy 2 async models, engine, Alembic migrations, stores.

The unit of work is one incoming update: the pipeline opens one session and
one transaction for it (the update's `bot.deps.Turn`), and everything the handlers and
the dialog store write commits or rolls back together. `transaction(turn)`
gives a handler that session, or, when a handler is called outside the
pipeline (tests, scripts), a fresh short transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.database import Database, create_engine, head_revision, upgrade_sync
from bot.storage.deliveries import DbSeenMessages
from bot.storage.dialogs import DbDialogStore
# The broadcast tables join Base.metadata whenever the storage package is imported.
from bot.storage import broadcast_models  # noqa: E402,F401
from bot.storage import limit_models  # noqa: E402,F401
# So do the quiz tables (rounds, answers, Leitner boxes, poll links).
from bot.storage import quiz_models  # noqa: E402,F401
# And the document registry (knowledge added with `civicbot docs`).
from bot.storage import document_models  # noqa: E402,F401
# And the durable message path (inbox, reply outbox).
from bot.storage import delivery_models  # noqa: E402,F401
# And the officials' console (wards, sign-in links, audit log, replies).
from bot.storage import console_models  # noqa: E402,F401

if TYPE_CHECKING:
    from bot.deps import Turn

__all__ = ["Database", "DbDialogStore", "DbSeenMessages", "StorageUnavailable", "create_engine",
           "head_revision", "transaction", "upgrade_sync"]


class StorageUnavailable(RuntimeError):
    """A handler that needs the database ran without one configured."""


@asynccontextmanager
async def transaction(turn: "Turn") -> AsyncIterator[AsyncSession]:
    if turn.session is not None:
        yield turn.session          # the update's own; the pipeline commits it
        return
    if turn.deps.db is None:
        raise StorageUnavailable("no database configured")
    async with turn.deps.db.sessions.begin() as session:
        yield session
