"""Zalo out: a reply as customer-service messages, one attempt each, as a `Delivery`.

Zalo has no inline buttons: a short menu goes out as a list template whose
elements send their number back, anything else as numbered choices in text
(templates.py). The numbers are decided, and read back, by the core
(bot/choices.py, `Reply.numbered_from`), so the channel keeps no memory of
what it showed. A broadcast's photo becomes a link line. Text over 2,000
characters goes out in parts, in order; the first failure stops the reply.
"""

from __future__ import annotations

from dataclasses import replace

from bot.channels.base import PlatformLimits
from bot.channels.delivery import Delivery, Outcome
from bot.channels.zalo.api import SendStatus, ZaloClient
from bot.channels.zalo.templates import zalo_messages
from bot.messages import Reply

PLATFORM = "zalo"

_OUTCOMES = {
    SendStatus.SENT: Outcome.DELIVERED,
    SendStatus.OUT_OF_WINDOW: Outcome.OUTSIDE_WINDOW,
    SendStatus.RETRY_LATER: Outcome.TRANSIENT,
    SendStatus.FAILED: Outcome.PERMANENT,
}


def reply_messages(reply: Reply, limit: int) -> list[dict]:
    """The OA messages ``reply`` becomes on Zalo: a list template or numbered text split at
    ``limit``, a broadcast's photo as a link line."""
    if reply.preview_url:
        reply = replace(reply, text=f"{reply.text}\n\n{reply.preview_url}", preview_url=None)
    return zalo_messages([reply], limit)


class ZaloChannel:
    platform = PLATFORM

    def __init__(self, client: ZaloClient, limits: PlatformLimits):
        self.client = client
        self.limits = limits

    async def start(self) -> None:
        """Load the token pair before the first send (so /readyz can report it)."""
        await self.client.start()

    async def send(self, chat_id: str, reply: Reply, *, skip_parts: int = 0) -> Delivery:
        parts = reply_messages(reply, self.limits.text_limit)[skip_parts:]
        if not parts:
            return Delivery(Outcome.PERMANENT, detail="empty reply")
        ids: list[str] = []
        for part in parts:
            result = await self.client.send_message(chat_id, part)
            if not result.ok:
                detail = f"error {result.error}: {result.detail}" if result.error else result.detail
                # A rate limit (-32, HTTP 429) is Zalo's "wait": it concerns the whole OA.
                rate_limited = result.retry_after is not None
                return Delivery(Outcome.RETRY_AFTER if rate_limited else _OUTCOMES[result.status],
                                retry_after=result.retry_after or 0.0, detail=detail[:200],
                                message_ids=tuple(ids), parts_sent=len(ids),
                                maybe_delivered=result.maybe_delivered, platform_wide=rate_limited)
            ids += result.message_ids
        return Delivery.ok(*ids, parts_sent=len(parts))

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> Delivery:
        return Delivery(Outcome.PERMANENT, detail="Zalo messages cannot be edited")

    async def aclose(self) -> None:
        """The HTTP session belongs to whoever built the channel."""
