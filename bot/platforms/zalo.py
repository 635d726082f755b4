"""Zalo Official Account adapter: the signed webhook in, customer-service messages out.

    Zalo → POST /zalo/webhook → verify → 200 at once → background task:
        event → Incoming → Pipeline.process → [Reply] → numbered text → split → OA API

Zalo retries an event it did not see acknowledged within about 2 seconds, so
the webhook answers before any work is done and the answer is sent later
through the OA API (`bot.platforms.zalo_api`). Redelivered events carry the
same ``msg_id``, which the pipeline's deduplication drops.

Every request is checked before anything happens: the ``X-ZEvent-Signature``
header must be ``mac=`` + SHA-256(app_id + raw body + timestamp + OA secret
key), the event's timestamp (ms) must be recent (replays of an old, validly
signed event are refused) and the body must be a JSON object.

Zalo CS text messages carry no buttons here, so buttons become numbered
choices, as in the terminal: the resident answers "2" and gets what the
second button would have done. Events of one resident are handled one after
another, in arrival order, so "2" is read against the menu just shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

import aiohttp
from aiohttp import web

from bot.messages import Incoming, Reply
from bot.pipeline import Pipeline
from bot.platforms.base import ZALO_TEXT_LIMIT
from bot.platforms.zalo_api import (
    SendResult, SendStatus, TokenStore, ZaloClient, default_token_store,
)
from bot.platforms.zalo_templates import zalo_messages
from bot.settings import Settings, ZaloSettings

log = logging.getLogger(__name__)

PLATFORM = "zalo"
WEBHOOK_PATH = "/zalo/webhook"
SIGNATURE_HEADER = "X-ZEvent-Signature"
DRAIN_SECONDS = 10.0
# Events answered at the same time. A burst beyond this waits here, cheaply,
# instead of each holding a database connection (the pool is small) while it
# queues for the search worker; 64 keeps the search batches (32) full.
MAX_CONCURRENT_EVENTS = 64

EVENT_TEXT = "user_send_text"
# Other messages a resident sends → Incoming.media; any other "user_send_*" is "unsupported".
EVENT_MEDIA = {"user_send_image": "photo", "user_send_gif": "photo", "user_send_sticker": "sticker",
               "user_send_audio": "voice", "user_send_video": "video", "user_send_file": "file",
               "user_send_location": "location"}
EVENT_FOLLOW = "follow"
EVENT_UNFOLLOW = "unfollow"


def signature(app_id: str, body: bytes, timestamp: str, oa_secret_key: str) -> str:
    """The value Zalo puts in X-ZEvent-Signature for ``body``."""
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + oa_secret_key.encode())
    return "mac=" + digest.hexdigest()


class ZaloChannel:
    """Sends neutral replies to a Zalo user: a short menu as a list template, else buttons
    as numbers and text split at 2000 chars (bot/platforms/zalo_templates.py)."""

    platform = PLATFORM
    text_limit = ZALO_TEXT_LIMIT

    def __init__(self, client: ZaloClient):
        self.client = client

    async def send(self, user_id: str, reply: Reply) -> SendResult:
        """One reply to one user (the broadcast worker's entry point)."""
        return await self.send_replies(user_id, [reply])

    async def send_replies(self, user_id: str, replies: list[Reply]) -> SendResult:
        """Send the parts in order; stop at the first part that does not go out."""
        if not replies:
            return SendResult(SendStatus.SENT)
        parts = zalo_messages(replies, self.text_limit)
        ids: list[str] = []
        for sent, part in enumerate(parts):
            result = await self.client.send_message(user_id, part)
            if not result.ok:
                return replace(result, message_ids=tuple(ids), parts_sent=sent)
            ids += result.message_ids
        return SendResult(SendStatus.SENT, 0, "", tuple(ids), len(parts))


@dataclass(frozen=True)
class _Event:
    user_id: str
    text: str
    message_id: str | None
    media: str = ""


class _Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class ZaloWebhook:
    """The aiohttp handler plus the background tasks it starts."""

    def __init__(self, pipeline: Pipeline, channel: ZaloChannel, settings: ZaloSettings,
                 clock: Callable[[], float] = time.time,
                 on_unfollow: Callable[[str], Awaitable[None]] | None = None,
                 max_concurrent: int = MAX_CONCURRENT_EVENTS):
        if not settings.app_id or settings.oa_secret_key is None:
            raise ValueError("Zalo webhook needs app_id and oa_secret_key")
        self.pipeline = pipeline
        self.channel = channel
        self._app_id = settings.app_id
        self._secret = settings.oa_secret_key
        self._max_age_ms = settings.max_event_age_seconds * 1000
        self._clock = clock
        self._on_unfollow = on_unfollow
        # Strong references: the event loop keeps only weak ones to tasks.
        self._tasks: set[asyncio.Task] = set()
        self._turns: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._slots = asyncio.Semaphore(max_concurrent)
        self._closing = False

    # -- HTTP ------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        if self._closing:
            return web.Response(status=503, text="shutting down")   # Zalo will retry
        body = await request.read()
        try:
            event = self._verified(body, request.headers.get(SIGNATURE_HEADER, ""))
        except _Rejected as rejected:
            log.warning("Zalo webhook rejected: %s", rejected.reason)
            return web.Response(status=rejected.status, text=rejected.reason)
        work = self._work_for(event)
        if work is not None:
            task = asyncio.create_task(work, name=f"zalo-{event.get('event_name')}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(text="ok")

    def _verified(self, body: bytes, given: str) -> dict:
        try:
            event = json.loads(body)
        except ValueError:
            raise _Rejected(400, "malformed JSON") from None
        if not isinstance(event, dict):
            raise _Rejected(400, "event is not a JSON object")
        # Milliseconds, as a string (Zalo's form) or a number; signed as written.
        raw_ts = event.get("timestamp")
        if isinstance(raw_ts, int) and not isinstance(raw_ts, bool) and 0 <= raw_ts < 10**16:
            timestamp = str(raw_ts)
        elif isinstance(raw_ts, str) and raw_ts.isascii() and raw_ts.isdigit() and len(raw_ts) <= 16:
            timestamp = raw_ts
        else:
            raise _Rejected(400, "missing or invalid timestamp")
        expected = signature(self._app_id, body, timestamp, self._secret.get_secret_value())
        if not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise _Rejected(403, "bad signature")
        # Both directions: a replayed old event, or a timestamp far in the future.
        if abs(self._clock() * 1000 - int(timestamp)) > self._max_age_ms:
            raise _Rejected(403, "stale event")
        return event

    def _work_for(self, event: dict) -> Awaitable[None] | None:
        name = event.get("event_name")
        if isinstance(name, str) and name.startswith("user_send_"):
            user_id = _id_of(event.get("sender"))
            message = event.get("message") if isinstance(event.get("message"), dict) else {}
            text = message.get("text")
            media = "" if name == EVENT_TEXT else EVENT_MEDIA.get(name, "unsupported")
            if not user_id or not (isinstance(text, str) or media):
                log.warning("Zalo %s without sender or text ignored", name)
                return None
            msg_id = message.get("msg_id")
            return self._answer(_Event(user_id, text if isinstance(text, str) else "",
                                       str(msg_id) if msg_id else None, media))
        if name == EVENT_FOLLOW:
            user_id = _id_of(event.get("follower"))
            if not user_id:
                return None
            # A follow has no msg_id; user + event time identifies its redeliveries.
            return self._answer(_Event(user_id, "/start", f"follow:{user_id}:{event['timestamp']}"))
        if name == EVENT_UNFOLLOW:
            user_id = _id_of(event.get("follower"))
            log.info("Zalo user unfollowed the OA")
            if user_id and self._on_unfollow:
                return self._guarded(self._on_unfollow(user_id))
            return None
        log.debug("Zalo event %r acknowledged and ignored", name)
        return None

    # -- background work -------------------------------------------------------

    async def _answer(self, event: _Event) -> None:
        try:
            async with self._turn(event.user_id), self._slots:
                msg = Incoming.from_platform(
                    PLATFORM, event.user_id, event.user_id, event.text,
                    message_id=event.message_id, media=event.media,
                )
                replies = await self.pipeline.process(msg)
                if not replies:           # duplicate or flood silence: keep the last menu
                    return
                result = await self.channel.send_replies(event.user_id, replies)
                if not result.ok:
                    log.info("Zalo reply not delivered (%s, error %s, %d part(s) sent)",
                             result.status.value, result.error, result.parts_sent)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Zalo event processing failed")

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Zalo event hook failed")

    @contextlib.asynccontextmanager
    async def _turn(self, user_id: str) -> AsyncIterator[None]:
        """One event per user at a time, in arrival order (asyncio.Lock is FIFO)."""
        lock, users = self._turns.setdefault(user_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._turns[user_id]

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def join(self) -> None:
        """Wait until every event received so far has been handled (tests, benchmarks)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self, timeout: float = DRAIN_SECONDS) -> None:
        """Refuse new events, let running ones finish (up to ``timeout``), cancel the rest."""
        self._closing = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("Zalo: %d event(s) cancelled at shutdown", len(pending))
            await asyncio.gather(*pending, return_exceptions=True)


def _id_of(party: object) -> str | None:
    if isinstance(party, dict) and party.get("id") not in (None, ""):
        return str(party["id"])
    return None


class ZaloAdapter:
    """Owns the HTTP client session, the API client, the channel and the webhook."""

    def __init__(self, pipeline: Pipeline, settings: Settings, token_store: TokenStore | None = None,
                 clock: Callable[[], float] = time.time,
                 on_unfollow: Callable[[str], Awaitable[None]] | None = None):
        self.pipeline = pipeline
        self.settings = settings
        self.token_store = token_store or default_token_store(settings.data_dir)
        self.clock = clock
        self.on_unfollow = on_unfollow
        self.session: aiohttp.ClientSession | None = None
        self.client: ZaloClient | None = None
        self.channel: ZaloChannel | None = None
        self.webhook: ZaloWebhook | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession()
        self.client = ZaloClient(self.settings.zalo, self.session, self.token_store)
        await self.client.start()
        self.channel = ZaloChannel(self.client)
        self.webhook = ZaloWebhook(self.pipeline, self.channel, self.settings.zalo, self.clock,
                                   self.on_unfollow)

    async def close(self) -> None:
        if self.webhook is not None:
            await self.webhook.close()
        if self.session is not None:
            await self.session.close()

    async def handle(self, request: web.Request) -> web.Response:
        if self.webhook is None:
            return web.Response(status=503, text="starting")
        return await self.webhook.handle(request)

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        await self.start()
        yield
        await self.close()


ZALO_ADAPTER = web.AppKey("zalo_adapter", ZaloAdapter)


def start_zalo(app: web.Application, pipeline: Pipeline, settings: Settings, *,
               token_store: TokenStore | None = None, clock: Callable[[], float] = time.time,
               on_unfollow: Callable[[str], Awaitable[None]] | None = None) -> ZaloAdapter:
    """Add the Zalo webhook to ``app``; the client session opens and closes with the app."""
    adapter = ZaloAdapter(pipeline, settings, token_store, clock, on_unfollow)
    app.router.add_post(WEBHOOK_PATH, adapter.handle)
    app.cleanup_ctx.append(adapter._lifecycle)
    app[ZALO_ADAPTER] = adapter
    return adapter
