"""The messengers of one serving process: their channels, their inbound sides, the dispatcher.

    messengers = Messengers(pipeline, settings)
    messengers.install(app, readiness)     # routes + lifecycles of every enabled platform
    ... server runs ...
    await messengers.send(platform, chat_id, reply)   # one attempt, through the platform's channel

A process without messengers' inbound sides (a standalone broadcast worker,
the officials' console) sends through the same channels with `open_channels`:

    async with open_channels(settings, db) as channels:
        delivery = await channels["telegram"].send(chat_id, Reply(text, preview_url=photo))

Which platforms run comes from the registry (credentials configured); this
module names none of them. One aiohttp session serves every channel. Start
order (cleanup contexts): channels and dispatcher first (unsent replies and
unprocessed updates from before a crash are resumed), then each platform's
inbound side; shutdown in reverse, so nothing is accepted that cannot be stored.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from aiohttp import web

from bot.channels import registry
from bot.channels.base import Channel, PlatformContext, SendGate
from bot.channels.delivery import Delivery
from bot.channels.dispatch import ChatDispatcher, NotAccepting
from bot.messages import Incoming, Reply
from bot.pipeline import Pipeline
from bot.readiness import Readiness
from bot.settings import Settings
from bot.storage import Database

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 100
DRAIN_SECONDS = 5.0     # at shutdown, for replies in flight


class Messengers:
    def __init__(self, pipeline: Pipeline, settings: Settings, *, gate: SendGate | None = None,
                 on_unfollow: Callable[[str, str], Awaitable[None]] | None = None,
                 token_store: object | None = None, inbound_options: dict | None = None,
                 rehearsal: Callable[[ChatDispatcher], Awaitable[None]] | None = None):
        self.pipeline = pipeline
        # Run with the dispatcher before any platform takes updates (bot/runner.py: warm start).
        self.rehearsal = rehearsal
        self.settings = settings
        self.gate = gate
        self.specs = registry.enabled(settings)
        deps = pipeline.deps
        fields: dict = {"commands": tuple((c.name, c.description) for c in deps.router.public_commands()),
                        "on_unfollow": on_unfollow}
        if token_store is not None:                     # one store for every platform (benchmarks)
            fields["token_store_for"] = lambda platform, old: token_store
        self._context = platform_context(deps.db, **fields)
        self._inbound_options = inbound_options or {}
        self.session: aiohttp.ClientSession | None = None
        self.channels: dict[str, Channel] = {}
        self.dispatcher: ChatDispatcher | None = None
        self.drain_seconds = DRAIN_SECONDS

    def install(self, app: web.Application, readiness: Readiness | None = None) -> None:
        """Build the channels, add each platform's routes and lifecycle to ``app`` (call it
        before the server starts, inside the event loop)."""
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS))
        app.cleanup_ctx.append(self._lifecycle)
        app[MESSENGERS] = self
        for spec in self.specs:
            module = spec.module()
            channel = self.channels[spec.name] = module.build_channel(self.settings, self.session, self._context)
            context = PlatformContext(**{**self._context.__dict__, "channel": channel})
            check = module.start_inbound(app, self.accept, self.settings, context, **self._inbound_options)
            if readiness is not None:
                readiness.add(spec.name, check)

    async def accept(self, msg: Incoming) -> None:
        """`bot.channels.base.Accept` for every platform: stored when this returns."""
        if self.dispatcher is None:
            raise NotAccepting("not started")
        await self.dispatcher.accept(msg)

    async def send(self, platform: str, chat_id: str, reply: Reply) -> Delivery:
        """One attempt through the platform's channel (broadcasts, the officials' console)."""
        return await self.channels[platform].send(chat_id, reply)

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        try:
            for channel in self.channels.values():
                start = getattr(channel, "start", None)       # a channel with state to load
                if start is not None:
                    await start()
            self.dispatcher = ChatDispatcher(self.pipeline, self.channels, gate=self.gate,
                                             deadline_seconds=self.settings.reply_deadline_seconds)
            if self.rehearsal is not None:
                await self.rehearsal(self.dispatcher)
            await self.dispatcher.resume()
            self.dispatcher.start_sweeping()
            yield
        finally:
            if self.dispatcher is not None:
                await self.dispatcher.close(self.drain_seconds)
            for channel in self.channels.values():
                await channel.aclose()
            if self.session is not None:
                await self.session.close()


MESSENGERS = web.AppKey("messengers", Messengers)


def platform_context(db: Database | None, **fields) -> PlatformContext:
    """What the platforms get from the core: the quiz poll store and the token pairs in
    the database (shared by every process), when there is one."""
    if db is None:
        return PlatformContext(**fields)
    from bot.storage.poll_links import DbPollStore
    from bot.storage.tokens import DbTokenStore

    sessions = db.sessions
    fields.setdefault("token_store_for", lambda platform, old: DbTokenStore(sessions, platform, legacy=old))
    return PlatformContext(polls=DbPollStore(sessions), **fields)


@contextlib.asynccontextmanager
async def open_channels(settings: Settings, db: Database | None,
                        platforms: tuple[str, ...] | None = None) -> AsyncIterator[dict[str, Channel]]:
    """The channels of the enabled platforms (or of ``platforms`` among them), on one HTTP
    session, for a process that only sends. Each ``send`` is one attempt (`Delivery`)."""
    context = platform_context(db)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS)) as session:
        channels = {spec.name: spec.module().build_channel(settings, session, context)
                    for spec in registry.enabled(settings) if platforms is None or spec.name in platforms}
        try:
            for channel in channels.values():
                start = getattr(channel, "start", None)
                if start is not None:
                    await start()
            yield channels
        finally:
            for channel in channels.values():
                await channel.aclose()
