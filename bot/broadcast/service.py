"""Wiring: a broadcast worker with its database engine, HTTP session and senders.

    async with open_worker(settings) as worker:      # standalone / tests
        await worker.run()

    start_broadcast_worker(app, settings)             # inside `civicbot run`

The worker opens its own engine. On SQLite it is pooled (the bot's engine
is not): with no connection kept open, SQLite checkpoints and fsyncs the
WAL every time the last connection closes, ~14 ms per transaction, and
the worker writes one short transaction per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

import aiohttp
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.pool import AsyncAdaptedQueuePool

from bot.broadcast.senders import Notifier, Sender, TelegramBotApi, ZaloSender
from bot.broadcast.worker import BroadcastWorker
from bot.settings import Settings
from bot.storage import Database

log = logging.getLogger(__name__)



class WorkerHandle:
    """Set in the app before it starts; holds the running worker (None when not running)."""

    worker: BroadcastWorker | None = None


BROADCAST_WORKER = web.AppKey("broadcast_worker", WorkerHandle)


def open_worker_database(settings: Settings) -> Database:
    url = settings.effective_database_url
    lanes = settings.broadcast.concurrency
    if make_url(url).get_backend_name() == "sqlite":
        return Database.from_url(url, poolclass=AsyncAdaptedQueuePool, pool_size=4, max_overflow=lanes + 4)
    return Database.from_url(url, pool_size=min(lanes + 4, 20), max_overflow=10)


def zalo_configured(settings: Settings) -> bool:
    z = settings.zalo
    return bool(z.app_id) and (z.access_token is not None or z.refresh_token is not None)


@contextlib.asynccontextmanager
async def open_worker(settings: Settings, *, platforms: Sequence[str] | None = None, zalo_client=None,
                      worker_id: str | None = None, db: Database | None = None) -> AsyncIterator[BroadcastWorker]:
    """A worker for the platforms that are configured (and in ``platforms``, if given)."""
    wanted = set(platforms or ("telegram", "zalo"))
    own_db = db is None
    db = db or open_worker_database(settings)
    connections = settings.broadcast.concurrency * 2 + 8
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections, limit_per_host=connections))
    try:
        senders: dict[str, Sender] = {}
        notifiers: dict[str, Notifier] = {}
        if "telegram" in wanted and settings.telegram.enabled:
            api = TelegramBotApi(settings.telegram.token.get_secret_value(), settings.telegram.base_url,
                                 session, settings.broadcast.request_timeout_seconds)
            senders["telegram"] = notifiers["telegram"] = api
        if "zalo" in wanted and (zalo_client is not None or zalo_configured(settings)):
            if zalo_client is None:
                from bot.channels.zalo.api import ZaloClient, default_token_store

                zalo_client = ZaloClient(settings.zalo, session, default_token_store(settings.data_dir),
                                         timeout=settings.broadcast.request_timeout_seconds)
                await zalo_client.start()
            senders["zalo"] = notifiers["zalo"] = ZaloSender(zalo_client)
        if not senders:
            raise RuntimeError("no messenger configured for broadcasts (Telegram token or Zalo OA)")
        yield BroadcastWorker(db, settings.broadcast, senders, notifiers, worker_id=worker_id)
    finally:
        await session.close()
        if own_db:
            await db.dispose()


def start_broadcast_worker(app: web.Application, settings: Settings) -> None:
    """Run the worker with the HTTP app: started after the messengers, stopped before them.

    Zalo sends through the adapter's own client, so one lock guards the
    single-use refresh token.
    """
    if not settings.broadcast.worker:
        return
    handle = app[BROADCAST_WORKER] = WorkerHandle()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        from bot.channels.messengers import MESSENGERS

        messengers = app.get(MESSENGERS)
        zalo = messengers.channels.get("zalo") if messengers is not None else None
        async with contextlib.AsyncExitStack() as stack:
            try:
                worker = await stack.enter_async_context(
                    open_worker(settings, zalo_client=zalo.client if zalo is not None else None))
            except RuntimeError as exc:
                log.warning("broadcast worker not started: %s", exc)
                yield
                return
            handle.worker = worker
            task = asyncio.create_task(worker.run(), name="broadcast-worker")
            try:
                yield
            finally:
                worker.stop()
                for result in await asyncio.gather(task, return_exceptions=True):
                    if isinstance(result, Exception):
                        log.error("broadcast worker failed: %r", result)

    app.cleanup_ctx.append(lifecycle)
