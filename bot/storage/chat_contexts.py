"""Chat contexts in the database (the `bot.chat_contexts.ChatContexts` protocol).

Reads are grouped: the follow-ups of every update in flight are looked up
in one SELECT (`GroupCommit`), outside the update's transaction. Answers
write their chat's context in the answer log's own round
(`repo.log_answers`); other replies (a list item opened with a button)
write it here in a short transaction of their own. Neither holds the
update's connection, which on SQLite is the only one (see database.py).
Expired contexts are never read; they are deleted now and then (one row
per chat at most, so this is housekeeping, not a growing log).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.chat_contexts import CONTEXT_TTL
from bot.storage import repo
from bot.storage.group_commit import GroupCommit
from bot.storage.models import utcnow

PRUNE_EVERY = timedelta(hours=1)


class DbChatContexts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime] = utcnow,
                 ttl: timedelta = CONTEXT_TTL):
        self._sessions = sessions
        self._clock = clock
        self.ttl = ttl
        self._reads: GroupCommit[tuple[str, str], dict[str, Any] | None] = GroupCommit(self._read, "chat-context")
        self._next_prune: datetime | None = None

    async def get(self, platform: str, chat_id: str) -> dict[str, Any] | None:
        return await self._reads.submit((platform, chat_id))

    async def _read(self, keys: list[tuple[str, str]]) -> list[dict[str, Any] | None]:
        async with self._sessions() as session:
            found = await repo.chat_contexts(session, keys, self._clock() - self.ttl)
        return [found.get(key) for key in keys]

    async def put(self, platform: str, chat_id: str, user_id: str, state: dict[str, Any]) -> None:
        now = self._clock()
        async with self._sessions.begin() as session:
            await repo.save_chat_contexts(session, {(platform, chat_id): (user_id, state)}, now)
            if self._next_prune is None or now >= self._next_prune:
                self._next_prune = now + PRUNE_EVERY
                await repo.prune_chat_contexts(session, now - self.ttl)

    async def prune(self) -> int:
        """Delete contexts older than their time to live."""
        async with self._sessions.begin() as session:
            return await repo.prune_chat_contexts(session, self._clock() - self.ttl)
