"""Inbound: Zalo Bot updates → `Incoming` → ``accept`` (stored durably), by long polling or webhook.

An update is one message event:

    {"event_name": "message.text.received",
     "message": {"message_id": "…", "date": 1749632637199, "text": "Xin chào",
                 "from": {"id": "…", "display_name": "…", "is_bot": false},
                 "chat": {"id": "…", "chat_type": "PRIVATE"}}}

Images (with an optional caption, which is their text), stickers, voice
notes and messages the platform does not show bots ("unsupported") become
`Incoming.media`, so the resident gets a polite "I read text only". A typed
number stays text: the core reads it against the choices the chat was shown
(bot/choices.py).

Polling: getUpdates has no offset: an update is Zalo's to forget once it has
answered the call, so each one is handed to ``accept`` before the next call
(retried until stored), and at shutdown the call in flight is let finish
rather than cut off, so the update it may carry is not dropped. One update per
call, in order. Webhook: Zalo sends ``X-Bot-Api-Secret-Token``; it is
compared in constant time before anything is read, and the call is answered
200 only once ``accept`` has stored the update (500 otherwise, so Zalo may
retry). Redelivered updates keep their ``message_id``, by which the core drops
copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from bot.channels.base import Accept
from bot.channels.zalo_bot.api import NO_UPDATE, Answer, ZaloBotAPI
from bot.channels.zalo_bot.channel import PLATFORM
from bot.channels.zalo_bot.settings import ZaloBotSettings
from bot.messages import Incoming
from bot.readiness import Check

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/zalo_bot/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
POLL_SECONDS = 10.0              # how long one getUpdates call waits for an update
HTTP_MARGIN_SECONDS = 5.0        # on top of it, before the client gives up on the call

TEXT_EVENT = "message.text.received"
MEDIA_EVENTS = {
    "message.image.received": "photo",
    "message.sticker.received": "sticker",
    "message.voice.received": "voice",
    "message.unsupported.received": "unsupported",
}


def incoming_from(update: object) -> Incoming | None:
    """The `Incoming` for one update; None for anything that is not a person's message."""
    if not isinstance(update, dict) or not isinstance(update.get("message"), dict):
        return None
    event, message = update.get("event_name"), update["message"]
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    chat_id = _id_of(message.get("chat")) or _id_of(sender)
    if not chat_id or sender.get("is_bot") is True:
        return None
    text = message.get("text" if event == TEXT_EVENT else "caption")
    text = text if isinstance(text, str) else ""
    # Any other event carrying a message is something new the bot cannot read: say so politely.
    media = "" if event == TEXT_EVENT and text.strip() else MEDIA_EVENTS.get(event, "unsupported")
    message_id = message.get("message_id")
    name = sender.get("display_name") or sender.get("name")
    return Incoming.from_platform(
        PLATFORM, chat_id, _id_of(sender) or chat_id, text,
        message_id=str(message_id) if message_id else None,
        display_name=name if isinstance(name, str) else None, media=media,
    )


def _id_of(party: object) -> str | None:
    if isinstance(party, dict) and party.get("id") not in (None, ""):
        return str(party["id"])
    return None


class Poller:
    """getUpdates in a loop, one update at a time, each stored before the next call."""

    def __init__(self, api: ZaloBotAPI, accept: Accept, *,
                 poll_seconds: float = POLL_SECONDS, backoff_base: float = 1.0, backoff_max: float = 60.0):
        self._api, self._accept = api, accept
        self._poll_seconds = poll_seconds
        self._backoff_base, self._backoff_max = backoff_base, backoff_max
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="zalo-bot-polling")

    async def stop(self) -> None:
        """Let the call in flight finish and its update be stored, then stop; cut off only
        when that takes longer than a call can."""
        self._stopping.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=self._poll_seconds + 2 * HTTP_MARGIN_SECONDS)
        if not done:
            log.error("Zalo Bot polling did not stop in time; an update in flight may be lost")
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            answer = await self._api.call("getUpdates", {"timeout": str(int(self._poll_seconds))},
                                          timeout=self._poll_seconds + HTTP_MARGIN_SECONDS)
            if answer.ok:
                failures = 0
                # One update per call, as documented; a list (Telegram's shape) is taken in order too.
                for update in answer.result if isinstance(answer.result, list) else [answer.result]:
                    await self._hand_over(update)
            elif answer.code == NO_UPDATE:
                failures = 0
            else:
                failures += 1
                await self._back_off(answer, failures)

    async def _hand_over(self, update: Any) -> None:
        incoming = incoming_from(update)       # never raises: odd shapes give None
        if incoming is None:
            log.info("Zalo Bot update without a person's message ignored")
            return
        attempt = 0
        while True:
            try:
                await self._accept(incoming)
                return
            except asyncio.CancelledError:
                log.error("Zalo Bot update %s lost at shutdown before it was stored", incoming.message_id)
                raise
            except Exception:
                # Zalo will not send it again: keep trying until the store takes it.
                attempt += 1
                log.exception("Zalo Bot update could not be stored (attempt %d); retrying", attempt)
                await asyncio.sleep(min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1)))

    async def _back_off(self, answer: Answer, failures: int) -> None:
        delay = min(self._backoff_max, self._backoff_base * 2 ** (failures - 1))
        if answer.code == 429 and answer.retry_after:
            delay = answer.retry_after
        if answer.code in (401, 403):
            log.error("Zalo Bot refused the token (getUpdates error %s); check CIVICBOT_ZALO_BOT__TOKEN",
                      answer.code)
        else:
            log.warning("Zalo Bot getUpdates failed (%s: %s); next call in %.1f s",
                        answer.code, answer.description, delay)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)


class WebhookReceiver:
    """The aiohttp handler: verify the secret, map the update, store it, then answer 200."""

    def __init__(self, accept: Accept, secret: str):
        self._accept, self._secret = accept, secret.encode()
        self.open = False                 # 503 until the bot is warm, and again at shutdown

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return web.Response(status=401, text="missing secret token")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self._secret):
            log.warning("Zalo Bot webhook: wrong secret token refused")
            return web.Response(status=403, text="wrong secret token")
        if not self.open:
            return web.Response(status=503, text="not taking updates now")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="malformed JSON")
        # The update itself, or wrapped like a getUpdates answer.
        update = body.get("result") if isinstance(body, dict) and isinstance(body.get("result"), dict) else body
        incoming = incoming_from(update)
        if incoming is None:
            log.info("Zalo Bot webhook call without a person's message acknowledged")
            return web.Response(text="ok")
        try:
            await self._accept(incoming)
        except Exception:
            log.exception("Zalo Bot update could not be stored; Zalo may send it again")
            return web.Response(status=500, text="not stored")
        return web.Response(text="ok")


class ZaloBotInbound:
    """Owns the HTTP session of the inbound side; polls or registers the webhook while the app runs."""

    def __init__(self, accept: Accept, settings: ZaloBotSettings, **poll_options):
        self.settings = settings
        self.accept = accept
        self.mode = settings.mode
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        self.receiver = WebhookReceiver(accept, secret) if self.mode == "webhook" else None
        self.poll_options = poll_options
        self.poller: Poller | None = None
        self.token_accepted = False
        self.receiving = False

    def check(self) -> Check:
        """For /readyz: the token was accepted and updates are coming in."""
        receiving = self.receiving and (self.poller is None or self.poller.running)
        state = "token accepted" if self.token_accepted else "token not accepted"
        return Check(self.token_accepted and receiving, f"{self.mode}, {state}")

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        token = self.settings.token.get_secret_value() if self.settings.token else ""
        async with aiohttp.ClientSession() as session:
            api = ZaloBotAPI(self.settings.base_url, token, session)
            me = await api.call("getMe")
            self.token_accepted = me.ok
            if not me.ok:
                log.error("Zalo Bot getMe failed (%s: %s)", me.code, me.description)
            if self.receiver is not None:
                answer = await api.call("setWebhook", {
                    "url": self.settings.webhook_url,
                    "secret_token": self.settings.webhook_secret.get_secret_value(),
                })
                if not answer.ok:
                    # A webhook registered by an earlier run may still be calling: keep taking it.
                    log.error("Zalo Bot setWebhook failed (%s: %s)", answer.code, answer.description)
                self.receiving = answer.ok
                self.receiver.open = True
            else:
                # getUpdates answers nothing while a webhook is registered.
                answer = await api.call("deleteWebhook")
                if not answer.ok:
                    log.warning("Zalo Bot deleteWebhook failed (%s: %s)", answer.code, answer.description)
                self.poller = Poller(api, self.accept, **self.poll_options)
                self.poller.start()
                self.receiving = True
            log.info("Zalo Bot receiving by %s", self.mode)
            try:
                yield
            finally:
                self.receiving = False
                if self.receiver is not None:
                    self.receiver.open = False
                if self.poller is not None:
                    await self.poller.stop()


def add_inbound(app: web.Application, accept: Accept, settings: ZaloBotSettings,
                **poll_options) -> ZaloBotInbound:
    """Add the webhook route (webhook mode) and the start/stop lifecycle to ``app``."""
    inbound = ZaloBotInbound(accept, settings, **poll_options)
    if inbound.receiver is not None:
        app.router.add_post(WEBHOOK_PATH, inbound.receiver.handle)
    app.cleanup_ctx.append(inbound.lifecycle)
    return inbound

