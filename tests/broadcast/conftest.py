"""Fixtures for the broadcast tests: each test taking ``db`` runs on a fresh
SQLite file and on the real PostgreSQL server (a schema of its own for this
test session, as in tests/storage/conftest.py; skipped when unreachable).
"""

from __future__ import annotations


import pytest
from sqlalchemy import text

from bot.app import build_router
from bot.deps import Deps
from bot.pipeline import FloodControl, Pipeline
from bot.settings import DEFAULT_KNOWLEDGE_DIR
from bot.storage import Database, DbDialogStore
from knowledge.base import KnowledgeBase
from tests.storage.storage_helpers import (
    TABLES, Chat, StubSearcher, make_settings, migrated_pg_schema,
)


@pytest.fixture(scope="session")
def pg_broadcast_url():
    yield from migrated_pg_schema("civicbot_b")


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'civicbot.db'}"
    return request.getfixturevalue("pg_broadcast_url")


@pytest.fixture
def pg_url(pg_broadcast_url) -> str:
    return pg_broadcast_url


async def fresh_database(url: str) -> Database:
    database = Database.from_url(url)
    if database.dialect == "postgresql":
        async with database.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    else:
        await database.upgrade()
    return database


@pytest.fixture
async def db(db_url) -> Database:
    database = await fresh_database(db_url)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return KnowledgeBase.load(DEFAULT_KNOWLEDGE_DIR)


@pytest.fixture
def settings(tmp_path, db_url):
    return make_settings(tmp_path, db_url)


@pytest.fixture
def deps(db, knowledge, settings) -> Deps:
    return Deps(settings=settings, knowledge=knowledge, searcher=StubSearcher(knowledge),
                router=build_router(), dialogs=DbDialogStore(db.sessions), db=db)


@pytest.fixture
def pipeline(deps) -> Pipeline:
    return Pipeline(deps, flood=FloodControl(1000, 60))


@pytest.fixture
def chat(pipeline):
    """chat("u1") → a Chat for user u1 on Telegram (chat id "chat-u1")."""
    return lambda user_id, platform="telegram": Chat(pipeline, user_id, platform)
