"""Helpers shared by the storage tests (fixtures are in conftest.py)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text

from bot.messages import Incoming, Reply
from bot.pipeline import Pipeline
from bot.settings import Settings
from bot.storage import Database
from bot.storage.models import Base
from knowledge.base import KnowledgeBase
from retrieval.searcher import Hit, SearchResult

PG_URL = os.environ.get("CIVICBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TABLES = [t.name for t in Base.metadata.sorted_tables]


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


async def pg_admin(sql: str) -> None:
    db = Database.from_url(PG_URL)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await db.dispose()


DECLINED_WORDS = ("bóng đá", "thời tiết")


class StubSearcher:
    """Confident on anything but questions about football or the weather."""

    def __init__(self, knowledge: KnowledgeBase):
        self.passages = knowledge.corpus.passages

    async def search(self, question: str, k: int = 5) -> SearchResult:
        declined = any(w in question.lower() for w in DECLINED_WORDS)
        hits = [Hit(p, score, score, score) for p, score in zip(self.passages[:k], (0.9, 0.5, 0.4))]
        return SearchResult(question, question, hits, 0.1 if declined else 0.95, not declined)

    async def close(self) -> None:
        pass


def make_settings(tmp_path, url: str | None = None, **extra: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", database_url=url,
                    flood_max_messages=1000, **extra)


@dataclass
class Chat:
    """A resident (or official) talking to the bot through the real pipeline."""

    pipeline: Pipeline
    user_id: str
    platform: str = "telegram"
    serial: int = 0

    def _incoming(self, text: str | None = None, data: str | None = None, media: str = "") -> Incoming:
        self.serial += 1
        return Incoming.from_platform(self.platform, f"chat-{self.user_id}", self.user_id, text,
                                      callback_data=data, display_name=f"Tên {self.user_id}", media=media,
                                      message_id=f"{self.user_id}-{self.serial}-{secrets.token_hex(3)}")

    async def say(self, text: str) -> list[Reply]:
        return await self.pipeline.process(self._incoming(text))

    async def send(self, media: str, caption: str = "") -> list[Reply]:
        """A voice note, photo, sticker, … (``caption``: a photo's text)."""
        return await self.pipeline.process(self._incoming(caption, media=media))

    async def press(self, data: str) -> list[Reply]:
        return await self.pipeline.process(self._incoming(data=data))


def buttons(reply: Reply) -> list:
    return [b for row in reply.buttons for b in row]


def button(replies: list[Reply], label_part: str):
    """The first button whose label contains ``label_part``."""
    for reply in replies:
        for b in buttons(reply):
            if label_part in b.label:
                return b
    raise AssertionError(f"no button with {label_part!r} in {[b.label for r in replies for b in buttons(r)]}")


async def count(db: Database, model, *where) -> int:
    async with db.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def snapshot(db: Database) -> dict[str, list]:
    """Every row of every table but the delivery log, to show that something changed nothing."""
    out = {}
    async with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name == "processed_deliveries":       # the pipeline's own bookkeeping
                continue
            rows = (await conn.execute(select(table))).all()
            out[table.name] = sorted(map(repr, rows))
    return out


def migrated_pg_schema(prefix: str) -> Iterator[str]:
    """Yield the URL of a fresh, migrated PostgreSQL schema, dropped afterwards."""
    import pytest

    schema = f"{prefix}_{secrets.token_hex(4)}"
    url = with_schema(PG_URL, schema)

    async def create() -> None:
        db = Database.from_url(url)
        try:
            await db.upgrade()
        finally:
            await db.dispose()

    try:
        asyncio.run(create())
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server
        # A missing server must not pass quietly as skips: CI has one.
        if os.environ.get("CIVICBOT_TEST_WITHOUT_POSTGRES"):
            pytest.skip(f"PostgreSQL unavailable at {PG_URL}: {exc}")
        pytest.fail(f"PostgreSQL unavailable at {PG_URL}: {exc} "
                    "(set CIVICBOT_TEST_WITHOUT_POSTGRES=1 to skip its tests)")
    yield url
    asyncio.run(pg_admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


async def emptied_database(url: str) -> Database:
    """The database at ``url``, migrated and with every table emptied (the caller disposes of it)."""
    database = Database.from_url(url)
    await database.upgrade()
    async with database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())
    return database
