"""Zalo followers outside the 7-day window: the OA's promotion message.

A customer-service message (bot/platforms/zalo_api.py) reaches only users who
wrote to the OA in the last 7 days (-230 otherwise). An announcement to the
others goes out as a promotion message (``POST /v3.0/oa/message/promotion``,
a "promotion" template: optional banner, header, text), which the OA may
send to its followers within a quota Zalo grants (per day, and one promotion
per user per day; a verified OA with that permission).

One attempt, never sleeping, verdict in the shared `Delivery`:

* -211: the OA's promotion quota is used up. `Outcome.PERMANENT`, marked
  ``quota`` so the worker stops trying promotions (until the next day) and
  reports the rest as "Zalo quota used up".
* -213: the user does not follow the OA (never did, or unfollowed): no
  promotion can reach them. `Outcome.PERMANENT`, marked ``not_follower``.
* -32, HTTP 429: the per-minute limit, platform-wide. 5xx, timeouts: transient
  (maybe delivered). -216: the token expired; transient (the client's next
  customer-service send refreshes it).

The access token is the Zalo client's own (``client.access_token``): one
token pair, refreshed in one place.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from bot.channels.delivery import Delivery, Outcome
from bot.messages import Reply

log = logging.getLogger(__name__)

PROMOTION_PATH = "/v3.0/oa/message/promotion"
ERROR_QUOTA = -211
ERROR_NOT_FOLLOWER = -213
ERROR_TOKEN_INVALID = -216
ERROR_RATE_LIMITED = -32
HEADER_CHARS = 100
RATE_LIMIT_PAUSE = 60.0
# Delivery.detail prefixes the worker reads (log-safe, no text).
QUOTA, NOT_FOLLOWER = "quota", "not_follower"


def promotion_payload(user_id: str, reply: Reply) -> dict:
    """The promotion template: the announcement's first line as the header, the rest as text."""
    first, _, rest = reply.text.strip().partition("\n")
    elements: list[dict] = []
    if reply.preview_url:
        elements.append({"type": "banner", "image_url": reply.preview_url})
    elements.append({"type": "header", "content": first.strip()[:HEADER_CHARS], "align": "left"})
    if rest.strip():
        elements.append({"type": "text", "content": rest.strip(), "align": "left"})
    return {"recipient": {"user_id": user_id},
            "message": {"attachment": {"type": "template", "payload": {
                "template_type": "promotion", "language": "VI", "elements": elements}}}}


class ZaloPromotionSender:
    """Channel-shaped: ``send(user_id, reply) -> Delivery`` through the promotion endpoint."""

    platform = "zalo"

    def __init__(self, client, session: aiohttp.ClientSession, api_base_url: str, timeout: float = 10.0):
        self.client = client                   # bot.platforms.zalo_api.ZaloClient: the token
        self._session = session
        self._url = api_base_url.rstrip("/") + PROMOTION_PATH
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, chat_id: str, reply: Reply) -> Delivery:
        try:
            async with self._session.post(self._url, json=promotion_payload(chat_id, reply),
                                          headers={"access_token": self.client.access_token},
                                          timeout=self._timeout) as resp:
                if resp.status == 429:
                    return Delivery(Outcome.RETRY_AFTER, retry_after=RATE_LIMIT_PAUSE, platform_wide=True,
                                    detail="HTTP 429")
                if resp.status >= 500:
                    return Delivery(Outcome.TRANSIENT, detail=f"HTTP {resp.status}", maybe_delivered=True)
                if resp.status != 200:
                    return Delivery(Outcome.PERMANENT, detail=f"HTTP {resp.status}")
                body = await resp.json(content_type=None)
        except asyncio.TimeoutError:
            return Delivery(Outcome.TRANSIENT, detail="timeout", maybe_delivered=True)
        except aiohttp.ClientConnectorError as exc:
            return Delivery(Outcome.TRANSIENT, detail=type(exc).__name__)
        except aiohttp.ClientError as exc:
            return Delivery(Outcome.TRANSIENT, detail=type(exc).__name__, maybe_delivered=True)
        except ValueError:
            return Delivery(Outcome.PERMANENT, detail="invalid JSON from the API")
        body = body if isinstance(body, dict) else {}
        try:
            code = int(body.get("error", -1))
        except (TypeError, ValueError):
            code = -1
        message = str(body.get("message", ""))[:150]
        if code == 0:
            data = body.get("data") if isinstance(body.get("data"), dict) else {}
            return Delivery.ok(*((str(data["message_id"]),) if data.get("message_id") else ()))
        if code == ERROR_QUOTA:
            log.warning("Zalo: the OA's promotion quota is used up (-211)")
            return Delivery(Outcome.PERMANENT, detail=f"{QUOTA} {code} {message}")
        if code == ERROR_NOT_FOLLOWER:
            return Delivery(Outcome.PERMANENT, detail=f"{NOT_FOLLOWER} {code} {message}")
        if code == ERROR_RATE_LIMITED:
            return Delivery(Outcome.RETRY_AFTER, retry_after=RATE_LIMIT_PAUSE, platform_wide=True,
                            detail=f"{code} {message}")
        if code == ERROR_TOKEN_INVALID:
            return Delivery(Outcome.TRANSIENT, detail=f"{code} {message}")
        return Delivery(Outcome.PERMANENT, detail=f"{code} {message}")

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> Delivery:
        return Delivery(Outcome.PERMANENT, detail="Zalo cannot edit a sent message")

    async def aclose(self) -> None:
        """The session and the client belong to the caller."""
