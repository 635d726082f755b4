"""The answer log's writer: every answer is recorded before it is sent.

Questions are most of the traffic, and each needs its log row's id (the
👍/👎 buttons carry it). The writer records the answers of all questions in
flight in one transaction per round (see `group_commit`): under load that is
one short transaction for dozens of answers instead of one each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage import repo
from bot.storage.group_commit import GroupCommit
from bot.storage.models import utcnow


class AnswerLogWriter:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime] = utcnow):
        self._sessions = sessions
        self._clock = clock
        self._rounds: GroupCommit[repo.AnswerEntry, int] = GroupCommit(self._write, "answer-log")

    async def record(self, entry: repo.AnswerEntry) -> int:
        """Log ``entry`` (committed when this returns); its id."""
        return await self._rounds.submit(entry)

    async def _write(self, entries: list[repo.AnswerEntry]) -> list[int]:
        async with self._sessions.begin() as session:
            return await repo.log_answers(session, entries, self._clock())
