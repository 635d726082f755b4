"""`bot.channels.zalo.api.TokenStore` in the database: one token pair for every process.

Zalo's refresh token is single-use. Every process (the bot's replicas, a
separate broadcast worker) reads the pair from here, and before spending the
refresh token a process claims the refresh with a compare-and-swap on the
row (``refresh_claimed_until``, only while the refresh token is the one it
knows): exactly one wins, the others wait for the pair it saves. A claim
expires by itself, so a process killed mid-refresh blocks nobody for long.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.zalo.api import TokenPair, TokenStore
from bot.storage.delivery_models import PlatformToken
from bot.storage.models import utcnow
from bot.storage.sql import insert_for

log = logging.getLogger(__name__)

CLAIM_SECONDS = 30.0


class DbTokenStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], platform: str,
                 legacy: TokenStore | None = None):
        self._sessions = sessions
        self._platform = platform
        self._legacy = legacy          # the token file of earlier versions: imported once

    async def load(self) -> TokenPair | None:
        async with self._sessions() as session:
            row = await session.get(PlatformToken, self._platform)
        if row is not None:
            return TokenPair(row.access_token, row.refresh_token, row.expires_at, row.seeded_from)
        if self._legacy is not None:
            tokens = await self._legacy.load()
            if tokens is not None:
                log.info("importing the %s token pair from the token file into the database", self._platform)
                await self.save(tokens)
                return tokens
        return None

    async def save(self, tokens: TokenPair) -> None:
        values = {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token,
                  "expires_at": tokens.expires_at, "seeded_from": tokens.seeded_from,
                  "refresh_claimed_until": None, "updated_at": utcnow()}
        async with self._sessions.begin() as session:
            insert = insert_for(session)
            await session.execute(
                insert(PlatformToken).values(platform=self._platform, **values)
                .on_conflict_do_update(index_elements=[PlatformToken.platform], set_=values))

    async def claim_refresh(self, refresh_token: str) -> bool:
        """True when this process may spend ``refresh_token`` now."""
        now = utcnow()
        until = now + timedelta(seconds=CLAIM_SECONDS)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(PlatformToken)
                .where(PlatformToken.platform == self._platform, PlatformToken.refresh_token == refresh_token,
                       or_(PlatformToken.refresh_claimed_until.is_(None),
                           PlatformToken.refresh_claimed_until < now))
                .values(refresh_claimed_until=until))
            if result.rowcount == 1:
                return True
            if (await session.execute(select(PlatformToken.platform)
                                      .where(PlatformToken.platform == self._platform))).first():
                return False            # claimed by another process, or the pair moved on
            # No pair stored yet (tokens from the settings): the first claim creates the row.
            insert = insert_for(session)
            created = await session.execute(
                insert(PlatformToken).values(platform=self._platform, access_token="", refresh_token=refresh_token,
                                             seeded_from="", refresh_claimed_until=until, updated_at=now)
                .on_conflict_do_nothing(index_elements=[PlatformToken.platform]))
            return created.rowcount == 1

    async def release_refresh(self) -> None:
        async with self._sessions.begin() as session:
            await session.execute(update(PlatformToken).where(PlatformToken.platform == self._platform)
                                  .values(refresh_claimed_until=None))
