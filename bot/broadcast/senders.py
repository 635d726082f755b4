"""Senders: one announcement to one chat, on one platform, in one attempt.

Each returns an `Outcome` whose kind the worker turns into the outbox row's
next state; a sender never retries and never sleeps (the worker owns
retries, backoff and rate limits, so nothing waits while holding a lane).

Telegram: direct HTTPS calls to the Bot API (``settings.telegram.base_url``,
as PTB uses it) on a pooled aiohttp session, not PTB's `Bot`, because

* one call must be exactly one attempt with its raw verdict (status code,
  ``parameters.retry_after``, description); the adapter's `send` sleeps
  through 429s and retries 5xx itself, which is right for replies but
  would hold a broadcast lane and blur the counts;
* the worker also runs standalone (`civicbot broadcast worker`) where no
  PTB Application exists, and the hot path stays small (no `Message`
  objects built per recipient) so the pipeline can outrun the 30 msg/s
  limit by far;
* the token is in the URL path: it is never logged (we log method and
  status only) and exceptions are reduced to their class name.

Zalo: on top of `bot.channels.zalo.api.ZaloClient` (token refresh with its
single-use refresh token, -230, -32); in `civicbot run` the adapter's own
client is reused, so one refresh lock guards the token pair.

An announcement is always one message: the text is capped at composing
time, and a photo is shown as Telegram's large link preview above the text
(``link_preview_options``; a caption would be capped at 1,024 characters and
a separate photo would make two messages, breaking exactly-once per row)
and as a link line on Zalo.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

log = logging.getLogger(__name__)

TELEGRAM = "telegram"
ZALO = "zalo"
ZALO_RATE_LIMIT_PAUSE = 60.0        # -32 is "limit per minute"
HTTP_429_PAUSE = 5.0
NOTICE_ATTEMPTS = 3
NOTICE_MAX_WAIT = 5.0


class Kind(str, enum.Enum):
    SENT = "sent"
    RETRY_AFTER = "retry_after"        # rate limited: wait ``retry_after`` seconds, not the row's fault
    TRANSIENT = "transient"            # 5xx, timeout, network: back off and retry, up to max attempts
    BLOCKED = "blocked"                # the user blocked the bot / chat gone: unsubscribe
    OUT_OF_WINDOW = "out_of_window"    # Zalo -230: outside the 7-day window, not retried
    FAILED = "failed"                  # refused for good


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    retry_after: float | None = None
    detail: str = ""                   # short, log-safe
    message_id: str | None = None
    platform_wide: bool = False        # a rate limit that concerns every chat

    @classmethod
    def sent(cls, message_id: str | None = None) -> "Outcome":
        return cls(Kind.SENT, message_id=message_id)


@dataclass(frozen=True)
class Announcement:
    text: str                          # final text, header and footer included
    photo_url: str | None = None


class Sender(Protocol):
    platform: str

    async def send(self, chat_id: str, message: Announcement) -> Outcome: ...


class Notifier(Protocol):
    """Messages to the official about a broadcast (progress, report)."""

    platform: str
    can_edit: bool

    async def post(self, chat_id: str, text: str) -> str | None:
        """Send ``text``; the message id (for editing) or None when it did not go out."""

    async def edit(self, chat_id: str, message_id: str, text: str) -> bool: ...


# ------------------------------------------------------------------ Telegram

class TelegramBotApi:
    """The few Bot API calls a broadcast needs, one attempt each."""

    platform = TELEGRAM
    can_edit = True

    def __init__(self, token: str, base_url: str, session: aiohttp.ClientSession, timeout: float = 10.0):
        self._prefix = f"{base_url}{token}/"          # PTB's convention: base_url ends in "/bot"
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def __repr__(self) -> str:                        # never the token
        return "TelegramBotApi(<redacted>)"

    async def call(self, method: str, payload: dict[str, Any]) -> Outcome:
        try:
            async with self._session.post(self._prefix + method, json=payload, timeout=self._timeout) as resp:
                status = resp.status
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
        except asyncio.TimeoutError:
            # The request may have reached Telegram: retrying can duplicate
            # (documented in bot.broadcast.worker); not retrying can skip.
            return Outcome(Kind.TRANSIENT, detail="timeout")
        except aiohttp.ClientError as exc:
            return Outcome(Kind.TRANSIENT, detail=type(exc).__name__)
        body = body if isinstance(body, dict) else {}
        description = str(body.get("description", ""))[:200]
        if status == 200 and body.get("ok"):
            result = body.get("result")
            message_id = result.get("message_id") if isinstance(result, dict) else None
            return Outcome.sent(str(message_id) if message_id is not None else None)
        if status == 429:
            params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
            try:
                wait = float(params.get("retry_after", 1))
            except (TypeError, ValueError):
                wait = 1.0
            return Outcome(Kind.RETRY_AFTER, retry_after=max(wait, 0.0), detail=f"429 {description}")
        if status == 403:
            return Outcome(Kind.BLOCKED, detail=f"403 {description}")
        if status == 400:
            lowered = description.lower()
            if "chat not found" in lowered or "user not found" in lowered or "peer_id_invalid" in lowered:
                return Outcome(Kind.BLOCKED, detail=f"400 {description}")
            return Outcome(Kind.FAILED, detail=f"400 {description}")
        if status >= 500 or status in (401, 404, 408, 409, 420):
            # 5xx: Telegram's trouble. 401/404: a wrong token or base URL, logged
            # loudly and retried so a configuration slip does not burn the broadcast.
            if status in (401, 404):
                log.error("Telegram %s answered %s: check the token and base URL", method, status)
            return Outcome(Kind.TRANSIENT, detail=f"{status} {description}")
        return Outcome(Kind.FAILED, detail=f"{status} {description}")

    # Sender
    async def send(self, chat_id: str, message: Announcement) -> Outcome:
        payload: dict[str, Any] = {"chat_id": _chat(chat_id), "text": message.text}
        if message.photo_url:
            payload["link_preview_options"] = {"url": message.photo_url, "prefer_large_media": True,
                                               "show_above_text": True}
        else:
            payload["link_preview_options"] = {"is_disabled": True}
        return await self.call("sendMessage", payload)

    # Notifier: a few quick retries (a lost progress line is no tragedy, a lost report is).
    async def post(self, chat_id: str, text: str) -> str | None:
        outcome = await self._notice("sendMessage", {"chat_id": _chat(chat_id), "text": text,
                                                     "link_preview_options": {"is_disabled": True}})
        return outcome.message_id if outcome.kind is Kind.SENT else None

    async def edit(self, chat_id: str, message_id: str, text: str) -> bool:
        outcome = await self._notice("editMessageText", {
            "chat_id": _chat(chat_id), "message_id": int(message_id) if message_id.isdigit() else message_id,
            "text": text, "link_preview_options": {"is_disabled": True},
        })
        return outcome.kind is Kind.SENT or "not modified" in outcome.detail

    async def _notice(self, method: str, payload: dict[str, Any]) -> Outcome:
        for attempt in range(1, NOTICE_ATTEMPTS + 1):
            outcome = await self.call(method, payload)
            if outcome.kind not in (Kind.RETRY_AFTER, Kind.TRANSIENT) or attempt == NOTICE_ATTEMPTS:
                break
            await asyncio.sleep(min(outcome.retry_after or 0.5 * attempt, NOTICE_MAX_WAIT))
        if outcome.kind is not Kind.SENT:
            log.info("broadcast notice (%s) to the official not delivered: %s", method, outcome.detail)
        return outcome


def _chat(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


# ------------------------------------------------------------------ Zalo

class ZaloSender:
    """Announcements as OA customer-service text messages (no edits on Zalo)."""

    platform = ZALO
    can_edit = False

    def __init__(self, client) -> None:        # bot.channels.zalo.api.ZaloClient
        self.client = client

    async def send(self, chat_id: str, message: Announcement) -> Outcome:
        from bot.channels.zalo.api import ERROR_RATE_LIMITED, ERROR_TOKEN_INVALID, SendStatus

        text = message.text if not message.photo_url else f"{message.text}\n\n🖼 Ảnh: {message.photo_url}"
        result = await self.client.send_text(chat_id, text)
        if result.status is SendStatus.SENT:
            return Outcome.sent(result.message_ids[0] if result.message_ids else None)
        if result.status is SendStatus.OUT_OF_WINDOW:
            return Outcome(Kind.OUT_OF_WINDOW, detail=f"{result.error} {result.detail}")
        if result.status is SendStatus.RETRY_LATER:
            if result.error == ERROR_RATE_LIMITED:
                return Outcome(Kind.RETRY_AFTER, retry_after=ZALO_RATE_LIMIT_PAUSE, platform_wide=True,
                               detail=f"{result.error} {result.detail}")
            if result.detail == "HTTP 429":
                return Outcome(Kind.RETRY_AFTER, retry_after=HTTP_429_PAUSE, platform_wide=True,
                               detail=result.detail)
            return Outcome(Kind.TRANSIENT, detail=result.detail)
        if result.error == ERROR_TOKEN_INVALID:      # the OA's token, not this user: retry later
            return Outcome(Kind.TRANSIENT, detail=f"{result.error} {result.detail}")
        return Outcome(Kind.FAILED, detail=f"{result.error} {result.detail}"[:200])

    async def post(self, chat_id: str, text: str) -> str | None:
        outcome = await self.send(chat_id, Announcement(text))
        return (outcome.message_id or "") if outcome.kind is Kind.SENT else None

    async def edit(self, chat_id: str, message_id: str, text: str) -> bool:
        return False
