"""The console under test: a real HTTP server on its own event loop thread, a database,
a clock the test moves, and seeding helpers. Shared by the browser and the HTTP tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import insert

from bot.settings import Settings
from bot.storage import Database, console_repo, repo
from bot.storage.models import AnswerLog, Feedback, InboxQuestion, Resident, Subscription, SubscriptionGroup
from console.app import ConsoleDeps, create_app

T = TypeVar("T")
WARD_A = "Phường Lê Chân"
WARD_B = "Phường Hồng Bàng"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class ConsoleServer:
    """create_app(...) served on 127.0.0.1 from a thread with its own loop; ``run`` executes
    coroutines (seeding, assertions on the database) on that loop."""

    def __init__(self, settings: Settings, publish=None):
        self.settings = settings
        self.clock = Clock()
        self.published: list[tuple[str, str, str | None]] = []
        self._publish = publish
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.db: Database = self.run(self._open())
        self.port: int = self.run(self._serve())

    async def _open(self) -> Database:
        db = Database.from_url(self.settings.effective_database_url)
        await db.upgrade()
        return db

    async def _fake_publish(self, db, settings, question, answer, ward, by) -> str:
        self.published.append((question, answer, ward))
        return f"vb{len(self.published)}"

    async def _serve(self) -> int:
        deps = ConsoleDeps(self.db, self.settings, self.clock, publish=self._publish or self._fake_publish)
        self._runner = web.AppRunner(create_app(deps), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return self._runner.addresses[0][1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, coro: Awaitable[T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def stop() -> None:
            await self._runner.cleanup()
            await self.db.dispose()
        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    # -- seeding ---------------------------------------------------------------------

    def official(self, user_id: str, role: str = "official", wards: tuple[str, ...] = ()) -> int:
        async def job() -> int:
            async with self.db.sessions.begin() as session:
                await repo.add_official(session, "telegram", user_id, role, None, self.clock())
                officer = await console_repo.officer_by_account(session, "telegram", user_id)
                await console_repo.set_wards(session, officer.id, wards)
                return officer.id
        return self.run(job())

    def login_link(self, official_id: int) -> str:
        async def job() -> str:
            async with self.db.sessions.begin() as session:
                token = await console_repo.create_login_link(session, official_id, self.clock(),
                                                             self.settings.console.login_link_minutes)
            return f"{self.url}/console/login/{token}"
        return self.run(job())

    def resident(self, user_id: str, ward: str | None, platform: str = "telegram",
                 groups: tuple[str, ...] = ("cu_dan",), subscribed: bool = True, chi_doan: str | None = None) -> int:
        async def job() -> int:
            now = self.clock()
            async with self.db.sessions.begin() as session:
                resident = Resident(platform=platform, platform_user_id=user_id, ward=ward, chi_doan=chi_doan,
                                    created_at=now, updated_at=now)
                session.add(resident)
                await session.flush()
                if subscribed and ward:
                    sub = Subscription(resident_id=resident.id, platform=platform, chat_id=user_id, ward=ward,
                                       active=True, created_at=now, updated_at=now)
                    session.add(sub)
                    await session.flush()
                    for g in groups:
                        session.add(SubscriptionGroup(subscription_id=sub.id, group_code=g))
                return resident.id
        return self.run(job())

    def question(self, resident_id: int, text: str, ward: str | None, *, platform: str = "telegram",
                 chat_id: str | None = None, origin: str = "declined", days_ago: float = 0) -> int:
        async def job() -> int:
            when = self.clock() - timedelta(days=days_ago)
            async with self.db.sessions.begin() as session:
                row = InboxQuestion(resident_id=resident_id, platform=platform, chat_id=chat_id, ward=ward,
                                    question=text, origin=origin, status="new", created_at=when)
                session.add(row)
                await session.flush()
                return row.id
        return self.run(job())

    def answers(self, resident_id: int, ward: str | None, rows: list[tuple[float, bool, int | None, str | None]]) -> None:
        """Answer-log rows: (days ago, confident, rating, top passage id)."""
        async def job() -> None:
            now = self.clock()
            async with self.db.sessions.begin() as session:
                await session.execute(insert(AnswerLog), [
                    {"resident_id": resident_id, "platform": "telegram", "question": "q", "top_passage_id": passage,
                     "confident": confident, "confidence": 0.9 if confident else 0.1, "ward": ward,
                     "created_at": now - timedelta(days=days), "rating": rating}
                    for days, confident, rating, passage in rows])
        self.run(job())

    def feedback(self, resident_id: int, text: str, ward: str | None, topic: str = "khac",
                 label: str = "Góp ý khác") -> int:
        async def job() -> int:
            async with self.db.sessions.begin() as session:
                row = Feedback(resident_id=resident_id, platform="telegram", topic=topic, topic_label=label,
                               ward=ward, text=text, created_at=self.clock())
                session.add(row)
                await session.flush()
                return row.id
        return self.run(job())

    def query(self, fn: Callable[[Any], Awaitable[T]]) -> T:
        async def job() -> T:
            async with self.db.sessions() as session:
                return await fn(session)
        return self.run(job())

    def scalar(self, statement) -> Any:
        return self.query(lambda session: session.scalar(statement))

    def scalars(self, statement) -> list:
        async def job(session):
            return list((await session.scalars(statement)).all())
        return self.query(job)


def console_settings(tmp_path, **extra: Any) -> Settings:
    from bot.settings import ConsoleSettings

    return Settings(_env_file=None, data_dir=tmp_path / "data",
                    database_url=extra.pop("database_url", None),
                    console=ConsoleSettings(public_url="http://127.0.0.1", secure_cookie=False), **extra)



class RunningWorker:
    """Fake Telegram and Zalo APIs and the real broadcast worker sending to them, on the server's loop."""

    def __init__(self, server: ConsoleServer, **broadcast: object):
        from tests.broadcast.helpers import broadcast_settings
        from tests.fakes.telegram_api import FakeTelegramAPI
        from tests.fakes.zalo_api import FakeZaloAPI

        self.server = server
        self.telegram = FakeTelegramAPI()
        self.zalo = FakeZaloAPI()
        server.run(self.telegram.start())
        server.run(self.zalo.start())
        self.settings = broadcast_settings(server.settings, telegram=self.telegram, zalo=self.zalo, **broadcast)
        self._stack = None
        self.worker = None
        server.run(self._start())

    async def _start(self) -> None:
        import contextlib

        from bot.broadcast.service import open_worker

        self._stack = contextlib.AsyncExitStack()
        self.worker = await self._stack.enter_async_context(open_worker(self.settings, db=self.server.db))
        self._task = asyncio.ensure_future(self.worker.run())

    def close(self) -> None:
        async def stop() -> None:
            self.worker.stop()
            await asyncio.gather(self._task, return_exceptions=True)
            await self._stack.aclose()
            await self.telegram.close()
            await self.zalo.close()
        self.server.run(stop())
