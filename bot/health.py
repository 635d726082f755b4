"""The HTTP face of `bot.readiness`: /healthz, /readyz, the webhook gate, a warm start.

    app = web.Application(middlewares=[health.until_ready])
    health.add_routes(app, readiness)
    ... messengers add their routes and lifecycles ...
    held = health.HeldBack(app)        # their start waits for the warm-up
    (server listening) → warm up → await held.start(app) → readiness.mark_ready()
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.readiness import Readiness

log = logging.getLogger(__name__)

READINESS = web.AppKey("readiness", Readiness)
HEALTH_PATHS = ("/healthz", "/readyz")


def add_routes(app: web.Application, readiness: Readiness | None) -> None:
    """Without ``readiness`` (tests that start an adapter directly) the app counts as ready."""
    if readiness is not None:
        app[READINESS] = readiness
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)


async def healthz(request: web.Request) -> web.Response:
    """503 "starting" until the bot takes updates, then 200 "ok"."""
    readiness = request.app.get(READINESS)
    if readiness is not None and not readiness.ready:
        return web.json_response({"status": "starting"}, status=503)
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Each dependency (database, index, model, each messenger's token); 200 when all are fine."""
    readiness = request.app.get(READINESS)
    if readiness is None:
        return web.json_response({"status": "ready", "checks": {}})
    ok, body = await readiness.report()
    return web.json_response(body, status=200 if ok else 503)


@web.middleware
async def until_ready(request: web.Request, handler):
    """Webhooks (anything but the health endpoints) answer 503 until the bot is warm:
    Telegram and Zalo deliver them again later."""
    readiness = request.app.get(READINESS)
    if readiness is not None and not readiness.ready and request.path not in HEALTH_PATHS:
        return web.Response(status=503, text="starting")
    return await handler(request)


class HeldBack:
    """The app's cleanup contexts so far (messengers, broadcast worker), started once the
    bot is warm instead of at app start-up, in order; stopped with the app, in reverse."""

    def __init__(self, app: web.Application):
        self._contexts = list(app.cleanup_ctx)
        app.cleanup_ctx.clear()
        app.cleanup_ctx.append(self._stop_started)
        self._running: list[AsyncIterator[None]] = []

    async def start(self, app: web.Application) -> None:
        for context in self._contexts:
            running = context(app).__aiter__()
            await running.__anext__()
            self._running.append(running)

    async def _stop_started(self, app: web.Application) -> AsyncIterator[None]:
        yield
        while self._running:
            running = self._running.pop()
            try:
                await running.__anext__()
            except StopAsyncIteration:
                pass
            except Exception:
                log.exception("stopping %r failed", running)
