"""Broadcasts as a service: what officials' tools call, and the worker's wiring.

For the tools that compose, send and cancel (the /thongbao dialog, the CLI,
the officials' web console), all on the caller's `AsyncSession`:

    count_recipients(session, segment) -> int          the preview's figure
    create_broadcast(session, text=, segment=, created_by=, scheduled_at=, now=,
                     photo_url=None, report_platform=None, report_chat_id=None) -> Broadcast
                                                        "send" = create it due now; the worker sends
    cancel_broadcast(session, id, by, now) -> CANCELLED_NOW | ALREADY_OVER | NOT_FOUND
                                                        once committed, no new message of it starts
    get_broadcast(session, id), counts(session, id) -> Counts, list_broadcasts(session, limit)
    Segment(wards, groups, platforms)                  platforms: registry names (bot/channels/registry.py)

The worker:

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
import fcntl
import hashlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy.engine import make_url
from sqlalchemy.pool import AsyncAdaptedQueuePool

from bot.broadcast.outbox import (  # the service API, see above
    ALREADY_OVER,
    CANCELLED_NOW,
    NOT_FOUND,
    Counts,
    Segment,
    cancel_broadcast,
    count_recipients,
    counts,
    create_broadcast,
    get_broadcast,
    list_broadcasts,
)
from bot.broadcast.worker import BroadcastWorker
from bot.channels import registry
from bot.channels.base import Channel
from bot.channels.limits import RateLimiter
from bot.settings import Settings
from bot.storage import Database

__all__ = [
    # for officials' tools
    "ALREADY_OVER", "CANCELLED_NOW", "NOT_FOUND", "Counts", "Segment", "cancel_broadcast", "count_recipients",
    "counts", "create_broadcast", "get_broadcast", "list_broadcasts",
    # the worker
    "BROADCAST_WORKER", "open_worker", "open_worker_database", "start_broadcast_worker",
    "worker_identity",
]

log = logging.getLogger(__name__)
WORKER_SLOTS = 64


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


@contextlib.contextmanager
def worker_identity(settings: Settings) -> Iterator[str]:
    """The worker's id: the configured one, else ``host:<data dir>:<n>``.

    ``n`` is the first slot whose lock file (in the data directory) no live
    process holds, so the id is the same after a restart (kill -9 included:
    the kernel drops the lock with the process) and a restarted worker takes
    back its own claimed rows at once, while two processes running together
    on one host never share an id.
    """
    if settings.broadcast.worker_id:
        yield settings.broadcast.worker_id
        return
    directory = Path(settings.data_dir) / "broadcast-workers"
    directory.mkdir(parents=True, exist_ok=True)
    place = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:8]
    for slot in range(WORKER_SLOTS):
        handle = open(directory / f"{slot}.lock", "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield f"{socket.gethostname()}:{place}:{slot}"
        finally:
            handle.close()                          # releases the lock
        return
    yield f"{socket.gethostname()}:{os.getpid()}"   # more live workers than slots: not stable


@contextlib.asynccontextmanager
async def open_worker(settings: Settings, *, platforms: Sequence[str] | None = None,
                      channels: Mapping[str, Channel] | None = None, worker_id: str | None = None,
                      db: Database | None = None, limiter: RateLimiter | None = None) -> AsyncIterator[BroadcastWorker]:
    """A worker for the configured platforms (those in ``platforms``, if given).

    ``channels``: the running bot's (`civicbot run`: one client per platform,
    one lock on Zalo's single-use refresh token); else the worker opens its own
    (bot.channels.messengers.open_channels). ``limiter``: the process's shared
    limiter, when chat replies in this process use one (on SQLite the window
    lives in memory, so replies and broadcasts of one process share the
    instance); else the worker's own.
    """
    from bot.channels.messengers import open_channels

    wanted = tuple(platforms or registry.names())
    async with contextlib.AsyncExitStack() as stack:
        if db is None:
            db = open_worker_database(settings)
            stack.push_async_callback(db.dispose)
        if channels is None:
            channels = await stack.enter_async_context(open_channels(settings, db, wanted))
        channels = {name: channel for name, channel in channels.items() if name in wanted}
        if not channels:
            raise RuntimeError("no messenger configured for broadcasts")
        promotion = None
        zalo_client = getattr(channels.get("zalo"), "client", None)
        if zalo_client is not None and settings.broadcast.zalo_promotion:
            from bot.broadcast.zalo_promotion import ZaloPromotionSender

            session = await stack.enter_async_context(aiohttp.ClientSession())
            promotion = ZaloPromotionSender(zalo_client, session, settings.zalo.api_base_url,
                                            settings.send_timeout_seconds)
        identity = stack.enter_context(worker_identity(settings) if worker_id is None
                                       else contextlib.nullcontext(worker_id))
        yield BroadcastWorker(db, settings.broadcast, channels, worker_id=identity, promotion=promotion,
                              limiter=limiter, send_timeout=settings.send_timeout_seconds)


def start_broadcast_worker(app: web.Application, settings: Settings, limiter: RateLimiter | None = None) -> None:
    """Run the worker with the HTTP app: started after the messengers, stopped before them.

    It sends through the messengers' own channels (one client per platform)
    and shares the chat replies' ``limiter``: replies first, one limit.
    """
    if not settings.broadcast.worker:
        return
    handle = app[BROADCAST_WORKER] = WorkerHandle()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        from bot.channels.messengers import MESSENGERS

        messengers = app.get(MESSENGERS)
        channels = messengers.channels if messengers is not None else None
        async with contextlib.AsyncExitStack() as stack:
            try:
                worker = await stack.enter_async_context(open_worker(settings, channels=channels, limiter=limiter))
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
