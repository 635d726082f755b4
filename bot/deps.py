"""Everything a handler may use, built once at start-up and passed explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
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


@dataclass
class Deps:
    settings: Settings
    knowledge: KnowledgeBase
    searcher: AsyncSearcher
    router: Router
    dialogs: DialogStore = field(default_factory=MemoryDialogStore)
    clock: Callable[[], datetime] = utcnow
    db: "Database | None" = None             # engine + session factory; None: nothing is stored
    session: "AsyncSession | None" = None    # the current update's, see for_update
    # The search for this update's text, run before its transaction opened (bot/pipeline.py).
    search_ahead: "SearchResult | None" = None
    # The quiz question bank, built on first use and shared by every copy of these deps.
    quiz_bank: BankLoader = field(default_factory=BankLoader)
    # Records answers by group commit (bot/storage/answer_log.py); made from ``db``.
    answer_log: "AnswerLogWriter | None" = None
    # What the last answer in each chat showed, for follow-ups; in the database when there is one.
    chat_contexts: "ChatContexts | None" = None

    def __post_init__(self) -> None:
        if self.answer_log is None and self.db is not None:
            from bot.storage.answer_log import AnswerLogWriter

            self.answer_log = AnswerLogWriter(self.db.sessions, self.clock)
        if self.chat_contexts is None:
            if self.db is not None:
                from bot.storage.chat_contexts import DbChatContexts

                self.chat_contexts = DbChatContexts(self.db.sessions, self.clock)
            else:
                self.chat_contexts = MemoryChatContexts(self.clock)

    @property
    def sessions(self) -> "async_sessionmaker[AsyncSession] | None":
        return self.db.sessions if self.db is not None else None

    def for_update(self, session: "AsyncSession | None", search_ahead: "SearchResult | None" = None) -> "Deps":
        """These deps for one update: handlers and the dialog store share ``session``."""
        bind = getattr(self.dialogs, "bind", None)
        dialogs = bind(session) if bind and session is not None else self.dialogs
        return replace(self, session=session, dialogs=dialogs, search_ahead=search_ahead)
