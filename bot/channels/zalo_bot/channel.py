"""Outbound: one `Reply` to one Zalo Bot chat, in one attempt, as a `Delivery`.

Zalo Bot messages carry no buttons and cannot be edited, so a reply's
buttons (and a quiz's options) are shown as numbered choices, as for a Zalo
OA: the resident answers "2" and the core (bot/choices.py) turns it back
into the second button's data; the numbers are decided there too
(`Reply.numbered_from`), so the channel keeps no memory of what it showed. Text over 2,000 characters (sendMessage's limit) goes
out as several messages, in order; the first failure stops the reply.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.channels.base import PlatformLimits
from bot.channels.delivery import Delivery, Outcome
from bot.channels.zalo_bot.api import Answer, ZaloBotAPI
from bot.messages import Reply
from bot.platforms.base import numbered_texts, split_message

log = logging.getLogger(__name__)

PLATFORM = "zalo_bot"


class ZaloBotChannel:
    platform = PLATFORM

    def __init__(self, api: ZaloBotAPI, limits: PlatformLimits):
        self.api = api
        self.limits = limits

    async def send(self, chat_id: str, reply: Reply, *, skip_parts: int = 0) -> Delivery:
        if reply.preview_url:                  # no link previews here: the link goes below the text
            reply = replace(reply, text=f"{reply.text}\n\n{reply.preview_url}".strip())
        parts = [chunk for text in numbered_texts([reply])
                 for chunk in split_message(text, self.limits.text_limit)][skip_parts:]
        if not parts:
            return Delivery(Outcome.PERMANENT, detail="empty reply")
        ids: list[str] = []
        for sent, part in enumerate(parts):
            answer = await self.api.call("sendMessage", {"chat_id": chat_id, "text": part})
            if not answer.ok:
                delivery = delivery_for(answer)
                log.info("Zalo Bot send: %s (%s), %d of %d part(s) sent",
                         delivery.outcome.value, delivery.detail, sent, len(parts))
                return replace(delivery, message_ids=tuple(ids), parts_sent=sent)
            result = answer.result if isinstance(answer.result, dict) else {}
            ids.append(str(result.get("message_id", "")))
        return Delivery.ok(*ids, parts_sent=len(parts))

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> Delivery:
        return Delivery(Outcome.PERMANENT, detail="Zalo Bot messages cannot be edited")

    async def aclose(self) -> None:
        """Nothing to release: the HTTP session belongs to whoever built the channel."""


def delivery_for(answer: Answer) -> Delivery:
    """The outcome of a failed sendMessage."""
    code, detail = answer.code, answer.description
    if answer.status == 0:
        # A timeout or a dropped connection after the request went out: Zalo may
        # have delivered it, and cannot be asked.
        return Delivery(Outcome.TRANSIENT, detail=detail, maybe_delivered=answer.may_have_arrived)
    if code == 429 or answer.status == 429:
        # Zalo documents no per-chat limit, so a 429 is taken to concern the whole bot.
        return Delivery(Outcome.RETRY_AFTER, retry_after=answer.retry_after or 1.0,
                        detail=detail, platform_wide=True)
    if answer.status >= 500 or code >= 500:
        return Delivery(Outcome.TRANSIENT, detail=detail, maybe_delivered=True)
    if code in (403, 404):               # the resident blocked the bot, or the chat is gone
        return Delivery(Outcome.BLOCKED, detail=detail)
    if answer.status == 200 and answer.error_code is None:
        # A 200 that is not an API answer (a proxy's page): the message may have gone out.
        return Delivery(Outcome.TRANSIENT, detail=detail, maybe_delivered=True)
    # 400 (bad request), 401 (token refused), anything else: another attempt cannot help.
    return Delivery(Outcome.PERMANENT, detail=f"error {code}: {detail}")
