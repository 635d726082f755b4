"""The engine and session factory, and the migrations that shape the schema.

SQLite (the default, a file under data/) runs in WAL mode with foreign keys
on, so readers never wait for the writer and ON DELETE CASCADE works.
PostgreSQL is used when CIVICBOT_DATABASE_URL is ``postgresql+asyncpg://``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)

STORAGE_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = STORAGE_DIR / "alembic.ini"
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_POOL_SIZE = 1
CONNECT_TIMEOUT_SECONDS = 5
MIGRATION_LOCK_KEY = 5_2026_0005     # any constant shared by all civicbot processes
_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")   # safe with WAL, much faster than FULL
    finally:
        cursor.close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``, tuned for its backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # One connection, reused: SQLite has one writer at a time, and writers
        # that find the lock taken sleep in SQLite's busy handler (1, 2, 5 ...
        # up to 100 ms per retry). Queueing for the connection in the pool is
        # FIFO and wakes the next caller at once: at 100 questions/s this took
        # the answer-log write from 30 ms to 4 ms on average. Hot-path writes
        # are grouped (see group_commit.py), so one connection is plenty.
        # Consequence: code holding the update's session must never wait for a
        # second connection (it would wait for itself until the pool times out).
        kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
        kwargs.setdefault("max_overflow", 0)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    connect_args = {"timeout": CONNECT_TIMEOUT_SECONDS, **kwargs.pop("connect_args", {})}
    schema = pg_schema(url)
    if schema:
        # "?search_path=civicbot": the bot's tables live in that schema (created by upgrade).
        parsed = parsed.difference_update_query(["search_path"])
        connect_args["server_settings"] = {**connect_args.get("server_settings", {}), "search_path": schema}
    # Enough connections kept for the updates processed at once (dispatch.py) and the chat
    # workers' reads, so that a burst does not open and close overflow connections (each a
    # TLS attempt, a handshake and statements prepared again): with 10 kept, that churn
    # took a tenth of the event loop at 100 updates/s (bench/zalo_webhook.py).
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(parsed, connect_args=connect_args, **kwargs)


def pg_schema(url: str) -> str | None:
    """The schema named by ``?search_path=`` in a PostgreSQL URL, if any."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return None
    schema = parsed.query.get("search_path")
    if isinstance(schema, tuple):
        schema = schema[-1]
    if schema and not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"invalid schema name in search_path: {schema!r}")
    return schema or None


def alembic_config(url: str | None = None) -> Config:
    """The packaged alembic.ini, whatever the current directory."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(STORAGE_DIR / "migrations"))
    if url:
        # ConfigParser interpolation: a literal "%" in a password must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


class Database:
    """One engine and its session factory; opened at start-up, disposed at shutdown."""

    def __init__(self, engine: AsyncEngine, schema: str | None = None):
        self.engine = engine
        self.schema = schema       # PostgreSQL schema from ?search_path=, created on upgrade
        # expire_on_commit=False: rows read in a unit of work stay usable after it commits.
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False
        )

    @classmethod
    def from_url(cls, url: str, **engine_kwargs: Any) -> "Database":
        return cls(create_engine(url, **engine_kwargs), pg_schema(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def upgrade(self, revision: str = "head") -> None:
        """Apply the migrations up to ``revision`` (idempotent)."""
        await self._alembic(command.upgrade, revision)

    async def downgrade(self, revision: str) -> None:
        await self._alembic(command.downgrade, revision)

    async def current_revision(self) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())

    async def _alembic(self, fn, revision: str) -> None:
        config = alembic_config()

        def run(connection: Connection) -> None:
            # env.py sees this connection and migrates through it (no nested event loop).
            config.attributes["connection"] = connection
            fn(config, revision)

        async with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                # Several workers starting at once: one migrates, the others wait and
                # then find nothing to do. Released at commit.
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                if self.schema and fn is command.upgrade:
                    await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await conn.run_sync(run)
            await conn.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Migrate ``url`` from synchronous code, even while this thread runs an event loop.

    The migration gets its own engine and event loop in a helper thread, so
    `build_deps` can be called from a sync CLI command or an async fixture.
    """
    async def run() -> None:
        db = Database.from_url(url)
        try:
            await db.upgrade(revision)
        finally:
            await db.dispose()

    with ThreadPoolExecutor(1, thread_name_prefix="migrate") as pool:
        pool.submit(asyncio.run, run()).result()
