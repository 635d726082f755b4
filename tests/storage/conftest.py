"""Fixtures for storage tests: every test that takes ``db`` runs twice, on a
fresh SQLite file and on the real PostgreSQL server.

PostgreSQL: one schema per test session (``civicbot_t_<random>``), migrated
once and dropped at the end, so parallel runs never see each other's rows;
tables are truncated before each test. The server is at
CIVICBOT_TEST_POSTGRES_URL (default: postgresql+asyncpg://postgres@127.0.0.1:5432/test);
when it is unreachable the PostgreSQL half fails (or, with
CIVICBOT_TEST_WITHOUT_POSTGRES=1, is skipped with the reason).
"""

from __future__ import annotations


import secrets

import pytest
from sqlalchemy import text

from bot.app import build_router
from bot.deps import Deps
from bot.pipeline import FloodControl, Pipeline
from bot.storage import Database, DbDialogStore
from storage_helpers import (
    PG_URL, TABLES, Chat, StubSearcher, make_settings, migrated_pg_schema, pg_admin, with_schema,
)

@pytest.fixture(scope="session")
def pg_session_url():
    """A migrated schema of its own for this test session."""
    yield from migrated_pg_schema("civicbot_t")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'civicbot.db'}"
    return request.getfixturevalue("pg_session_url")


@pytest.fixture
async def db(db_url) -> Database:
    database = Database.from_url(db_url)
    if database.dialect == "postgresql":
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    else:
        await database.upgrade()
    yield database
    await database.dispose()


@pytest.fixture
def deps(db, knowledge, tmp_path) -> Deps:
    return Deps(settings=make_settings(tmp_path), knowledge=knowledge, searcher=StubSearcher(knowledge),
                router=build_router(), dialogs=DbDialogStore(db.sessions), db=db)


@pytest.fixture
def pipeline(deps) -> Pipeline:
    return Pipeline(deps, flood=FloodControl(1000, 60))


@pytest.fixture
def chat(pipeline):
    """chat("u1") → a Chat for user u1 on Telegram."""
    return lambda user_id, platform="telegram": Chat(pipeline, user_id, platform)


@pytest.fixture
async def empty_db(request, tmp_path, db_url):
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL schema."""
    if db_url.startswith("sqlite"):
        database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'x.db'}")
        yield database
        await database.dispose()
        return
    schema = f"civicbot_m_{secrets.token_hex(4)}"
    database = Database.from_url(with_schema(PG_URL, schema))
    yield database
    await database.dispose()
    await pg_admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
