"""Start the bot: the messengers whose credentials are set, else the terminal chat.

One aiohttp server carries everything HTTP: GET /healthz and /readyz, the
Zalo webhook and, in webhook mode, the Telegram webhook. Start-up and
shutdown of shared resources (search worker, database engine, HTTP
sessions) happen here, once.

Warm start: the server listens first (/healthz says "starting", webhooks
answer 503 and are retried), then the model and index are loaded and one
question answered, and only then do the messengers start taking updates
(polling, setWebhook) and the broadcast worker run (`HeldBack`), so the
first resident's answer is as fast as any other (bench/warm_start.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

import console
from bot import health
from bot.app import build_deps, close_deps, forget_warm_up, warm_up, warm_up_message
from bot.broadcast.service import start_broadcast_worker
from bot.channels import registry
from bot.channels.limits import sending_limiter
from bot.channels.messengers import Messengers
from bot.pipeline import Pipeline
from bot.platforms.console import run_console
from bot.readiness import Readiness, add_dependency_checks
from bot.settings import Settings

log = logging.getLogger(__name__)

SERVING_ENCODER_THREADS = 1


def serving_settings(settings: Settings) -> Settings:
    """Settings for a process serving many users at once.

    Unless configured, the encoder gets one thread, leaving the other core to
    the event loop and the database: at 100 questions/s on 2 cores this cut
    p95 latency from 1.2 s to 0.3 s (bench/telegram_throughput.py).
    """
    if settings.embedding_threads is not None:
        return settings
    return settings.model_copy(update={"embedding_threads": SERVING_ENCODER_THREADS})


def settle_heap() -> None:
    """Put what start-up built (model, index, knowledge, compiled statements), kept for the
    process's life, out of the garbage collector's reach: a full collection then scans only
    what came after. At 100 updates/s its pauses went from 150 ms (every ack waiting behind
    them) to under 10 ms (bench/zalo_webhook.py)."""
    gc.collect()
    gc.freeze()


def build_http_app(readiness: Readiness | None = None) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024, middlewares=[health.until_ready])
    health.add_routes(app, readiness)        # GET /healthz, /readyz
    return app


async def serve(settings: Settings, readiness: Readiness | None = None) -> None:
    started = time.monotonic()
    settings = serving_settings(settings)
    readiness = readiness or Readiness()
    deps = build_deps(settings)         # knowledge, index (built when missing or stale), database migrated
    pipeline = Pipeline(deps)
    try:
        if not registry.enabled(settings):
            await warm_up(deps, pipeline)
            readiness.mark_ready()
            await run_console(pipeline)
            return
        add_dependency_checks(readiness, deps)
        app = build_http_app(readiness)
        console.add_routes(app, deps)        # the officials' web console under /console
        # Each messenger adds its webhook route and a start/stop lifecycle to the app;
        # updates are stored before they are acknowledged and answered from there.
        # One sending limit per platform for chat replies and announcements (replies first),
        # shared through the database by every process (bot/channels/limits.py).
        limiter = sending_limiter(deps.db, settings.broadcast)
        async def rehearse(dispatcher) -> None:
            # The durable path's own first statements and connections (inbox, outbox,
            # chat worker), before polling starts or webhooks are taken.
            await dispatcher.rehearse(warm_up_message("warm-up-durable"))
            await forget_warm_up(deps)

        Messengers(pipeline, settings, gate=limiter, rehearsal=rehearse).install(app, readiness)
        # Officials' announcements: started after the messengers, stopped before them.
        start_broadcast_worker(app, settings, limiter)
        # ... all of which wait for the warm-up.
        held = health.HeldBack(app)

        async def when_listening() -> None:
            warm = time.monotonic()
            await warm_up(deps, pipeline)
            log.info("model and index warm in %.1f s", time.monotonic() - warm)
            await held.start(app)
            settle_heap()
            readiness.mark_ready()
            log.info("ready: taking updates %.1f s after start", time.monotonic() - started)

        await run_http(app, settings, when_listening)
    finally:
        await close_deps(deps)          # search worker, database engine


async def run_http(app: web.Application, settings: Settings,
                   when_listening: Callable[[], Awaitable[None]] | None = None) -> None:
    """Serve ``app`` until SIGINT/SIGTERM (or cancelled), running ``when_listening`` once the
    port is open; shutdown drains in-flight events and closes sessions."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.http.host, settings.http.port).start()
        log.info("HTTP server on %s:%s", settings.http.host, settings.http.port)
        await until_stopped(when_listening)
    finally:
        await runner.cleanup()


async def until_stopped(work: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run ``work``, then wait, until SIGINT or SIGTERM, so that shutdown runs the cleanups
    in order (a stop signal during ``work`` cancels it)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):   # Windows, non-main thread
            loop.add_signal_handler(sig, stop.set)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        if work is not None:
            working = asyncio.ensure_future(work())
            await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not working.done():
                working.cancel()
                await asyncio.gather(working, return_exceptions=True)
            else:
                working.result()                 # a failed start-up stops the bot with its error
        await stopping
        log.info("stop signal received, shutting down")
    finally:
        stopping.cancel()
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
