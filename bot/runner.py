"""Start the bot: the messengers whose credentials are set, else the terminal chat.

One aiohttp server carries everything HTTP: GET /healthz, the Zalo webhook
and, in webhook mode, the Telegram webhook. Start-up and shutdown of shared
resources (search worker, database engine, HTTP sessions) happen here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from bot.app import build_deps, close_deps
from bot.broadcast.service import start_broadcast_worker
from bot.pipeline import Pipeline
from bot.platforms.console import run_console
from bot.platforms.telegram import start_telegram
from bot.platforms.zalo import start_zalo
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


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_http_app() -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get("/healthz", healthz)
    return app


async def serve(settings: Settings) -> None:
    settings = serving_settings(settings)
    deps = build_deps(settings)
    pipeline = Pipeline(deps)
    try:
        if not (settings.telegram.enabled or settings.zalo.enabled):
            await run_console(pipeline)
            return
        app = build_http_app()
        # Each messenger adds its webhook route and a start/stop lifecycle to the app.
        if settings.telegram.enabled:
            start_telegram(app, pipeline, settings)
        if settings.zalo.enabled:
            start_zalo(app, pipeline, settings)
        # Officials' announcements: started after the messengers, stopped before them.
        start_broadcast_worker(app, settings)
        await run_http(app, settings)
    finally:
        await close_deps(deps)          # search worker, database engine


async def run_http(app: web.Application, settings: Settings) -> None:
    """Serve ``app`` until SIGINT/SIGTERM (or cancelled); shutdown drains in-flight events and closes sessions."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.http.host, settings.http.port).start()
        log.info("HTTP server on %s:%s", settings.http.host, settings.http.port)
        await until_stopped()
    finally:
        await runner.cleanup()


async def until_stopped() -> None:
    """Wait for SIGINT or SIGTERM, so that shutdown runs the cleanups in order."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):   # Windows, non-main thread
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("stop signal received, shutting down")
    finally:
        for sig in signals:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
