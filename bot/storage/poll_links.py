"""`bot.channels.base.PollStore` on the quiz tables: the Telegram channel and adapter use
it instead of writing quiz storage themselves."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.messages import utcnow
from bot.storage import quiz_repo

log = logging.getLogger(__name__)

# In a group, another member's vote (not ordered with the sender's updates) may
# arrive while the link of a poll just sent is still being stored.
FIND_ATTEMPTS = 3
FIND_RETRY_SECONDS = 0.2


class DbPollStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions

    async def link(self, platform: str, poll_id: str, key: str, chat_id: str, message_id: str) -> None:
        async with self._sessions.begin() as session:
            if not await quiz_repo.link_poll(session, platform, poll_id, key, chat_id, message_id, utcnow()):
                log.warning("quiz poll sent for an unknown question key")

    async def find(self, platform: str, poll_id: str) -> tuple[str, str] | None:
        for attempt in range(FIND_ATTEMPTS):
            async with self._sessions() as session:
                link = await quiz_repo.poll_link(session, platform, poll_id)
            if link is not None or attempt == FIND_ATTEMPTS - 1:
                return link
            await asyncio.sleep(FIND_RETRY_SECONDS)
        return None
