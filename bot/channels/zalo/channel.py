"""Zalo out: a reply as customer-service text messages, one attempt each, as a `Delivery`.

Zalo CS text messages carry no buttons here, so a reply's buttons become
numbered choices ("1. …", "2. …"); the channel remembers, per user, the last
choices it showed, and the inbound side turns a "2" back into the second
button's data (`resolve_choice`). A broadcast's photo becomes a link line.
Text over 2,000 characters goes out in parts, in order; the first failure
stops the reply.
"""

from __future__ import annotations

from bot.channels.base import PlatformLimits
from bot.channels.delivery import Delivery, Outcome
from bot.channels.zalo.api import SendStatus, ZaloClient
from bot.messages import Reply
from bot.platforms.base import NumberedChoices, flat_buttons, numbered_texts, split_message

PLATFORM = "zalo"

_OUTCOMES = {
    SendStatus.SENT: Outcome.DELIVERED,
    SendStatus.OUT_OF_WINDOW: Outcome.OUTSIDE_WINDOW,
    SendStatus.RETRY_LATER: Outcome.TRANSIENT,
    SendStatus.FAILED: Outcome.PERMANENT,
}


def reply_texts(reply: Reply, limit: int) -> list[str]:
    """The messages ``reply`` becomes on Zalo: numbered choices, a link line, split at ``limit``."""
    (text,) = numbered_texts([reply])
    if reply.preview_url:
        text = f"{text}\n\n{reply.preview_url}"
    return split_message(text, limit)


class ZaloChannel:
    platform = PLATFORM

    def __init__(self, client: ZaloClient, limits: PlatformLimits):
        self.client = client
        self.limits = limits
        self.choices = NumberedChoices()

    async def start(self) -> None:
        """Load the token pair before the first send (so /readyz can report it)."""
        await self.client.start()

    def resolve_choice(self, user_id: str, text: str) -> str | None:
        return self.choices.resolve(user_id, text)

    async def send(self, chat_id: str, reply: Reply, *, skip_parts: int = 0) -> Delivery:
        parts = reply_texts(reply, self.limits.text_limit)[skip_parts:]
        if not parts:
            return Delivery(Outcome.PERMANENT, detail="empty reply")
        # Remembered before sending: a "2" typed after a half-sent menu still means its choice.
        if flat_buttons(reply):
            self.choices.remember(chat_id, [reply])
        ids: list[str] = []
        for part in parts:
            result = await self.client.send_text(chat_id, part)
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
