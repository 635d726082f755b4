"""Channel-shaped senders for the broadcast worker, until the platform packages land.

Each is a `bot.channels.base.Channel`: ``send(chat_id, Reply) -> Delivery``,
one attempt, never sleeping, verdict in the shared `Delivery` type. When
``bot.channels.telegram`` / ``bot.channels.zalo`` exist, `bot.broadcast.service`
builds the registry's channels instead (one Telegram client for replies and
broadcasts) and this module goes away; nothing else depends on it.

Telegram: direct Bot API calls on a pooled aiohttp session, one attempt
each with its raw verdict; the token is in the URL path, so it is never
logged (method and status only) and exceptions are reduced to their class.
A photo is Telegram's large link preview above the text
(``Reply.preview_url``): an announcement stays one message, so one outbox
row is one delivery.

Zalo: on top of `bot.platforms.zalo_api.ZaloClient` (token refresh with its
single-use refresh token); in `civicbot run` the adapter's own client is
reused, so one refresh lock guards the token pair.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from bot.channels import registry
from bot.channels.delivery import Delivery, Outcome
from bot.messages import Reply

log = logging.getLogger(__name__)

ZALO_RATE_LIMIT_PAUSE = 60.0        # -32 is "limit per minute"
HTTP_429_PAUSE = 5.0


class TelegramBotApi:
    """The few Bot API calls a broadcast needs, one attempt each."""

    platform = "telegram"

    def __init__(self, token: str, base_url: str, session: aiohttp.ClientSession, timeout: float = 10.0):
        self.limits = registry.get(self.platform).limits
        self._prefix = f"{base_url}{token}/"          # PTB's convention: base_url ends in "/bot"
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def __repr__(self) -> str:                        # never the token
        return "TelegramBotApi(<redacted>)"

    async def call(self, method: str, payload: dict[str, Any]) -> Delivery:
        try:
            async with self._session.post(self._prefix + method, json=payload, timeout=self._timeout) as resp:
                status = resp.status
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
        except asyncio.TimeoutError:
            # The request may have reached Telegram: a retry may duplicate it.
            return Delivery(Outcome.TRANSIENT, detail="timeout", maybe_delivered=True)
        except aiohttp.ClientConnectorError as exc:          # never connected: nothing was sent
            return Delivery(Outcome.TRANSIENT, detail=type(exc).__name__)
        except aiohttp.ClientError as exc:                    # cut mid-way: it may have arrived
            return Delivery(Outcome.TRANSIENT, detail=type(exc).__name__, maybe_delivered=True)
        body = body if isinstance(body, dict) else {}
        description = str(body.get("description", ""))[:200]
        if status == 200 and body.get("ok"):
            result = body.get("result")
            message_id = result.get("message_id") if isinstance(result, dict) else None
            return Delivery.ok(*(() if message_id is None else (str(message_id),)))
        if status == 429:
            params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
            try:
                wait = float(params.get("retry_after", 1))
            except (TypeError, ValueError):
                wait = 1.0
            return Delivery(Outcome.RETRY_AFTER, retry_after=max(wait, 0.0), detail=f"429 {description}")
        if status == 403:
            return Delivery(Outcome.BLOCKED, detail=f"403 {description}")
        if status == 400:
            lowered = description.lower()
            if "chat not found" in lowered or "user not found" in lowered or "peer_id_invalid" in lowered:
                return Delivery(Outcome.BLOCKED, detail=f"400 {description}")
            return Delivery(Outcome.PERMANENT, detail=f"400 {description}")
        if status >= 500:
            # Telegram's trouble, after it had the request: delivered or not, nobody can tell.
            return Delivery(Outcome.TRANSIENT, detail=f"{status} {description}", maybe_delivered=True)
        if status in (401, 404, 408, 409, 420):
            # 401/404: a wrong token or base URL, logged loudly and retried so a
            # configuration slip does not burn the broadcast.
            if status in (401, 404):
                log.error("Telegram %s answered %s: check the token and base URL", method, status)
            return Delivery(Outcome.TRANSIENT, detail=f"{status} {description}")
        return Delivery(Outcome.PERMANENT, detail=f"{status} {description}")

    async def send(self, chat_id: str, reply: Reply) -> Delivery:
        payload: dict[str, Any] = {"chat_id": _chat(chat_id), "text": reply.text}
        if reply.preview_url:
            payload["link_preview_options"] = {"url": reply.preview_url, "prefer_large_media": True,
                                               "show_above_text": True}
        else:
            payload["link_preview_options"] = {"is_disabled": True}
        return await self.call("sendMessage", payload)

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> Delivery:
        delivery = await self.call("editMessageText", {
            "chat_id": _chat(chat_id), "message_id": int(message_id) if message_id.isdigit() else message_id,
            "text": reply.text, "link_preview_options": {"is_disabled": True},
        })
        if "not modified" in delivery.detail:          # the same text again: nothing to change
            return Delivery.ok(message_id)
        return delivery

    async def aclose(self) -> None:
        """The session belongs to the caller."""


def _chat(chat_id: str) -> int | str:
    return int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id


class ZaloSender:
    """Announcements as OA customer-service text messages (Zalo cannot edit)."""

    platform = "zalo"

    def __init__(self, client) -> None:        # bot.platforms.zalo_api.ZaloClient
        self.client = client
        self.limits = registry.get(self.platform).limits

    async def send(self, chat_id: str, reply: Reply) -> Delivery:
        from bot.platforms.zalo_api import ERROR_RATE_LIMITED, ERROR_TOKEN_INVALID, SendStatus

        text = reply.text if not reply.preview_url else f"{reply.text}\n\n🖼 Ảnh: {reply.preview_url}"
        result = await self.client.send_text(chat_id, text)
        detail = f"{result.error} {result.detail}".strip()[:200]
        if result.status is SendStatus.SENT:
            return Delivery.ok(*result.message_ids)
        if result.status is SendStatus.OUT_OF_WINDOW:
            return Delivery(Outcome.OUTSIDE_WINDOW, detail=detail)
        if result.status is SendStatus.RETRY_LATER:
            if result.error == ERROR_RATE_LIMITED:
                return Delivery(Outcome.RETRY_AFTER, retry_after=ZALO_RATE_LIMIT_PAUSE, platform_wide=True,
                                detail=detail)
            if result.detail == "HTTP 429":
                return Delivery(Outcome.RETRY_AFTER, retry_after=HTTP_429_PAUSE, platform_wide=True,
                                detail=detail)
            # 5xx or a timeout after the request went out may have been delivered.
            return Delivery(Outcome.TRANSIENT, detail=detail,
                            maybe_delivered=result.detail != "ClientConnectorError")
        if result.error == ERROR_TOKEN_INVALID:      # the OA's token, not this user: retry later
            return Delivery(Outcome.TRANSIENT, detail=detail)
        return Delivery(Outcome.PERMANENT, detail=detail)

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> Delivery:
        return Delivery(Outcome.PERMANENT, detail="Zalo cannot edit a sent message")

    async def aclose(self) -> None:
        """The client belongs to the caller."""
