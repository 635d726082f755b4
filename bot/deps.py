"""What a handler may use: the app-wide `Deps`, and the `Turn` of one update.

`Deps` is built once at start-up (bot/app.py `build_deps`) and never changes:
settings, knowledge, searcher, router, stores. The pipeline makes a `Turn`
for each update (bot/pipeline.py `_dispatch`): that update's database
session, the dialog store bound to it, and the search already done for its
text. Handlers are called as ``handler(msg, turn)`` and reach the app-wide
dependencies as ``turn.deps``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.chat_contexts import ChatContexts, MemoryChatContexts
from bot.dialogs import DialogStore, MemoryDialogStore
from bot.messages import utcnow
from bot.router import Router
from bot.settings import Settings
from knowledge.base import KnowledgeBase
from knowledge.quiz_schedule import BankLoader
from retrieval.batching import AsyncSearcher

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.storage import Database
    from bot.storage.answer_log import AnswerLogWriter
    from retrieval.searcher import SearchResult


@dataclass(frozen=True)
class Deps:
    """The app-wide dependencies, shared by every update."""

    settings: Settings
    knowledge: KnowledgeBase
    searcher: AsyncSearcher
    router: Router
    # Not bound to any update's session: handlers use their turn's (`Turn.dialogs`).
    dialogs: DialogStore = field(default_factory=MemoryDialogStore)
    clock: Callable[[], datetime] = utcnow
    db: "Database | None" = None             # engine + session factory; None: nothing is stored
    # The quiz question bank, built on first use.
    quiz_bank: BankLoader = field(default_factory=BankLoader)
    # Records answers by group commit (bot/storage/answer_log.py); made from ``db``.
    answer_log: "AnswerLogWriter | None" = None
    # What the last answer in each chat showed, for follow-ups; in the database when there is one.
    chat_contexts: "ChatContexts | None" = None

    def __post_init__(self) -> None:
        # Defaults that depend on other fields; object.__setattr__ is how a frozen
        # dataclass completes itself while it is being built.
        if self.answer_log is None and self.db is not None:
            from bot.storage.answer_log import AnswerLogWriter

            object.__setattr__(self, "answer_log", AnswerLogWriter(self.db.sessions, self.clock))
        if self.chat_contexts is None:
            if self.db is not None:
                from bot.storage.chat_contexts import DbChatContexts

                object.__setattr__(self, "chat_contexts", DbChatContexts(self.db.sessions, self.clock))
            else:
                object.__setattr__(self, "chat_contexts", MemoryChatContexts(self.clock))

    @property
    def sessions(self) -> "async_sessionmaker[AsyncSession] | None":
        return self.db.sessions if self.db is not None else None


@dataclass(frozen=True)
class Turn:
    """One update being answered: what its handlers share besides the app-wide ``deps``."""

    deps: Deps
    # The dialog store, bound to ``session`` so dialog changes commit with the update.
    dialogs: DialogStore
    # The update's session: its one transaction, committed by the pipeline. None without
    # a database, or when a handler is called outside the pipeline (see bot/storage `transaction`).
    session: "AsyncSession | None" = None
    # The search for this update's text, run before its transaction opened (bot/pipeline.py).
    search_ahead: "SearchResult | None" = None

    @classmethod
    def begin(cls, deps: Deps, session: "AsyncSession | None" = None,
              search_ahead: "SearchResult | None" = None) -> "Turn":
        """The turn of one update on ``session``: handlers and the dialog store share it."""
        bind = getattr(deps.dialogs, "bind", None)
        dialogs = bind(session) if bind and session is not None else deps.dialogs
        return cls(deps, dialogs, session, search_ahead)
