"""Dialog state in the database (the `bot.dialogs.DialogStore` protocol).

Inside the pipeline the store is bound to the update's session, so a dialog
step and the rows it writes commit or roll back together. Unbound (tests,
scripts), each call is its own short transaction.

A dialog left open longer than ``ttl`` counts as closed: a resident who
started /gopy and comes back days later with a question gets an answer, not
a feedback confirmation, and is told once that the unfinished dialog was
dropped (`expired`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.group_commit import GroupCommit
from bot.storage.models import DialogState, utcnow
from bot.storage.sql import insert_for

DIALOG_TTL = timedelta(hours=6)
# Expired dialogs the peeks came across, waiting for `expired` to report them.
MAX_EXPIRED_SEEN = 10_000


class DbDialogStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        session: AsyncSession | None = None,
        clock: Callable[[], datetime] = utcnow,
        ttl: timedelta = DIALOG_TTL,
        peeks: "GroupCommit[tuple[str, str], str | None] | None" = None,
        expired_seen: dict[tuple[str, str], str] | None = None,
    ):
        self._sessions = sessions
        self._session = session
        self._clock = clock
        self._ttl = ttl
        self._peeks = peeks or GroupCommit(self._open_dialogs, "dialog-peek")
        # The peeks' SELECT reads expired rows anyway: remembering them here lets
        # `expired` report one without another query on the question path.
        self._expired_seen = expired_seen if expired_seen is not None else {}

    def bind(self, session: AsyncSession) -> "DbDialogStore":
        """The same store, working inside ``session``'s transaction."""
        return DbDialogStore(self._sessions, session, self._clock, self._ttl, self._peeks, self._expired_seen)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        if self._session is not None:
            yield self._session
        else:
            async with self._sessions.begin() as session:
                yield session

    @staticmethod
    def _key(platform: str, user_id: str):
        return (DialogState.platform == platform) & (DialogState.platform_user_id == user_id)

    async def _row(self, session: AsyncSession, platform: str, user_id: str) -> Row | None:
        row = (await session.execute(
            select(DialogState.name, DialogState.state, DialogState.revision, DialogState.updated_at)
            .where(self._key(platform, user_id))
        )).one_or_none()
        return row if row is not None and self._live(row.updated_at) else None

    def _live(self, updated_at: datetime) -> bool:
        return self._clock() - updated_at <= self._ttl

    async def current(self, platform: str, user_id: str) -> str | None:
        async with self._tx() as session:
            row = await self._row(session, platform, user_id)
            return row.name if row else None

    async def peek(self, platform: str, user_id: str) -> str | None:
        """`current`, read by one SELECT for all the updates in flight.

        Outside the update's transaction: the router asks this first, before
        the update has written anything, so the update's own transaction would
        not see anything newer (and holds no connection while this runs).
        """
        return await self._peeks.submit((platform, user_id))

    async def _open_dialogs(self, keys: list[tuple[str, str]]) -> list[str | None]:
        async with self._sessions() as session:
            rows = (await session.execute(
                select(DialogState.platform, DialogState.platform_user_id, DialogState.name,
                       DialogState.updated_at)
                .where(tuple_(DialogState.platform, DialogState.platform_user_id).in_(sorted(set(keys))))
            )).all()
        names = {}
        for r in rows:
            if self._live(r.updated_at):
                names[(r.platform, r.platform_user_id)] = r.name
            else:
                if len(self._expired_seen) >= MAX_EXPIRED_SEEN:
                    self._expired_seen.clear()
                self._expired_seen[(r.platform, r.platform_user_id)] = r.name
        return [names.get(key) for key in keys]

    async def state(self, platform: str, user_id: str) -> dict[str, Any]:
        async with self._tx() as session:
            row = await self._row(session, platform, user_id)
            return dict(row.state) if row else {}

    async def open(self, platform: str, user_id: str, name: str, state: dict[str, Any]) -> None:
        """Open dialog ``name`` (replacing any other) or move it to ``state``."""
        now = self._clock()
        async with self._tx() as session:
            insert = insert_for(session)
            stmt = insert(DialogState).values(
                platform=platform, platform_user_id=user_id, name=name, state=dict(state),
                revision=1, updated_at=now,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[DialogState.platform, DialogState.platform_user_id],
                set_={"name": name, "state": dict(state), "updated_at": now,
                      "revision": DialogState.revision + 1},
            )
            await session.execute(stmt)

    async def close(self, platform: str, user_id: str) -> None:
        async with self._tx() as session:
            await session.execute(delete(DialogState).where(self._key(platform, user_id)))

    async def take(self, platform: str, user_id: str, name: str) -> dict[str, Any] | None:
        """Close dialog ``name`` and return its state, exactly once.

        Two presses of the same "Gửi" button racing each other: only one
        sees the state; the other gets None. The delete is conditional on
        the revision read, so a concurrent step makes it fail too.
        """
        async with self._tx() as session:
            row = await self._row(session, platform, user_id)
            if row is None or row.name != name:
                return None
            result = await session.execute(
                delete(DialogState).where(
                    self._key(platform, user_id), DialogState.revision == row.revision
                )
            )
            return dict(row.state) if result.rowcount == 1 else None

    async def expired(self, platform: str, user_id: str) -> str | None:
        """The dialog a peek found expired for this user, deleted now so it is reported once.

        In a short transaction of its own, like the peek: the update's own
        transaction has not started yet, and must not hold a connection while
        the answer log (a separate writer) records the question.
        """
        name = self._expired_seen.pop((platform, user_id), None)
        if name is None:
            return None
        async with self._sessions.begin() as session:
            result = await session.execute(delete(DialogState).where(
                self._key(platform, user_id), DialogState.name == name,
                DialogState.updated_at < self._clock() - self._ttl))
        return name if result.rowcount == 1 else None

    async def prune(self) -> int:
        """Delete dialogs idle longer than the time-to-live."""
        async with self._tx() as session:
            result = await session.execute(
                delete(DialogState).where(DialogState.updated_at < self._clock() - self._ttl)
            )
            return result.rowcount or 0

