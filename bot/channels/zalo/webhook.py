"""Zalo Official Account in: the signed webhook, each event stored before it is acknowledged.

    Zalo → POST /zalo/webhook → verify → Incoming → accept (stored in the inbox) → 200

Zalo does not resend an event it saw acknowledged, and retries one it did not
see acknowledged within about 2 seconds: so the event is stored first (group
commit, a few ms) and answered 200, and processed afterwards
(bot/channels/dispatch.py). Redelivered events carry the same ``msg_id``,
which the inbox's unique key drops.

Every request is checked before anything happens: the ``X-ZEvent-Signature``
header must be ``mac=`` + SHA-256(app_id + raw body + timestamp + OA secret
key), the event's timestamp (ms) must be recent (replays of an old, validly
signed event are refused) and the body must be a JSON object.

A "2" typed (or sent back by a list template's tap) after a numbered menu is
stored as typed; the core reads it against the choices kept with the chat
(bot/choices.py) when it is processed, after the replies before it went out.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bot.channels.base import Accept, PlatformContext
from bot.messages import Incoming
from bot.readiness import Check
from bot.settings import Settings, ZaloSettings

log = logging.getLogger(__name__)

PLATFORM = "zalo"
WEBHOOK_PATH = "/zalo/webhook"
SIGNATURE_HEADER = "X-ZEvent-Signature"
DRAIN_SECONDS = 10.0

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


class _Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class ZaloWebhook:
    """The aiohttp handler: verify, store (``accept``), acknowledge."""

    def __init__(self, accept: Accept, settings: ZaloSettings, clock: Callable[[], float] = time.time,
                 on_unfollow: Callable[[str], Awaitable[None]] | None = None):
        if not settings.app_id or settings.oa_secret_key is None:
            raise ValueError("Zalo webhook needs app_id and oa_secret_key")
        self.accept = accept
        self._app_id = settings.app_id
        self._secret = settings.oa_secret_key
        self._max_age_ms = settings.max_event_age_seconds * 1000
        self._clock = clock
        self._on_unfollow = on_unfollow
        # Unfollow hooks in flight; strong references (the loop keeps weak ones).
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    async def handle(self, request: web.Request) -> web.Response:
        if self._closing:
            return web.Response(status=503, text="shutting down")   # Zalo will retry
        body = await request.read()
        try:
            event = self._verified(body, request.headers.get(SIGNATURE_HEADER, ""))
        except _Rejected as rejected:
            log.warning("Zalo webhook rejected: %s", rejected.reason)
            return web.Response(status=rejected.status, text=rejected.reason)
        incoming = self._incoming(event)
        if incoming is not None:
            try:
                await self.accept(incoming)
            except Exception:
                log.exception("Zalo event could not be stored")
                return web.Response(status=503, text="try again")   # not acknowledged: Zalo retries
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

    def _incoming(self, event: dict) -> Incoming | None:
        """The neutral message for ``event``; None for events with nothing to answer."""
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
            return Incoming.from_platform(PLATFORM, user_id, user_id, text if isinstance(text, str) else "",
                                          message_id=str(msg_id) if msg_id else None, media=media)
        if name == EVENT_FOLLOW:
            user_id = _id_of(event.get("follower"))
            if not user_id:
                return None
            # A follow has no msg_id; user + event time identifies its redeliveries.
            return Incoming.from_platform(PLATFORM, user_id, user_id, "/start",
                                          message_id=f"follow:{user_id}:{event['timestamp']}")
        if name == EVENT_UNFOLLOW:
            user_id = _id_of(event.get("follower"))
            log.info("Zalo user unfollowed the OA")
            if user_id and self._on_unfollow:
                task = asyncio.create_task(self._guarded(self._on_unfollow(user_id)))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return None
        log.debug("Zalo event %r acknowledged and ignored", name)
        return None

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Zalo event hook failed")

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        yield
        await self.close()

    async def close(self, timeout: float = DRAIN_SECONDS) -> None:
        """Refuse new events; let the hooks in flight finish (up to ``timeout``)."""
        self._closing = True
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


def _id_of(party: object) -> str | None:
    if isinstance(party, dict) and party.get("id") not in (None, ""):
        return str(party["id"])
    return None


def start_inbound(app: web.Application, accept: Accept, settings: Settings,
                  context: PlatformContext = PlatformContext(), *,
                  clock: Callable[[], float] = time.time) -> Callable[[], Check]:
    """Add the Zalo webhook to ``app``; returns the readiness check (the channel's token)."""
    on_unfollow = context.on_unfollow
    webhook = ZaloWebhook(accept, settings.zalo, clock,
                          (lambda user: on_unfollow(PLATFORM, user)) if on_unfollow else None)
    app.router.add_post(WEBHOOK_PATH, webhook.handle)
    app.cleanup_ctx.append(webhook.lifecycle)
    app[ZALO_WEBHOOK] = webhook
    channel = context.channel

    def check() -> Check:
        client = getattr(channel, "client", None)
        if client is None:
            return Check(False, "no channel")
        return Check(*client.token_health())
    return check


ZALO_WEBHOOK = web.AppKey("zalo_webhook", ZaloWebhook)
