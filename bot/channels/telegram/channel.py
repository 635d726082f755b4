"""Telegram out: one Bot API attempt per part, its raw verdict as a `Delivery`.

The only Telegram sending client: chat replies (through the reply outbox)
and broadcasts both use `TelegramChannel`. It posts JSON to
``<base_url><token>/<method>`` on a shared aiohttp session rather than
through PTB's `Bot`, because a send must be exactly one attempt whose
verdict is kept raw (HTTP status, ``parameters.retry_after``, whether the
request had been sent when it failed); retries, backoff and rate limits
belong to the caller. The token is in the URL path: only the method and
status are ever logged, and exceptions are reduced to their class name.

A long text goes out in parts (4096 UTF-16 code units each), in order, the
buttons under the last part; the first part that fails stops the reply and
the `Delivery` says how many went out. A quiz goes out as a native quiz
poll; its poll id is handed to ``polls`` (the quiz store, `PollStore`) so that the
votes can be routed back to the round (see adapter.py).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from bot.channels.base import PlatformLimits, PollStore
from bot.channels.delivery import Delivery, Outcome
from bot.messages import Reply
from bot.platforms.base import split_message

log = logging.getLogger(__name__)

PLATFORM = "telegram"
CALLBACK_DATA_MAX_BYTES = 64
POLL_QUESTION_MAX = 300
POLL_OPTION_MAX = 100
POLL_EXPLANATION_MAX = 200
POLL_OPEN_PERIOD = (5, 600)
SEND_TIMEOUT_SECONDS = 10.0


def split_for_telegram(text: str, limit: int = 4096) -> list[str]:
    """`split_message`, with each chunk also within ``limit`` UTF-16 code units.

    Telegram measures lengths in UTF-16 code units, so an emoji counts twice;
    a chunk full of them is split again a little shorter (rare, conservative).
    """
    chunks: list[str] = []
    for chunk in split_message(text, limit):
        while _utf16_len(chunk) > limit:
            shorter = limit - (_utf16_len(chunk) - len(chunk))
            head, *_ = split_message(chunk, max(shorter, limit // 2))
            chunks.append(head)
            chunk = chunk[len(head):].lstrip()
        if chunk:
            chunks.append(chunk)
    return chunks


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def inline_keyboard(reply: Reply) -> dict | None:
    rows = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if not button.label or len(button.data.encode()) > CALLBACK_DATA_MAX_BYTES:
                # Telegram would reject the whole message; lose the button, not the answer.
                log.error("button %r dropped: empty label or data over 64 bytes", button.data[:80])
                continue
            buttons.append({"text": button.label, "callback_data": button.data})
        if buttons:
            rows.append(buttons)
    return {"inline_keyboard": rows} if rows else None


def link_preview(reply: Reply) -> dict:
    """A broadcast's photo as the large preview above the text; otherwise no preview."""
    if reply.preview_url:
        return {"url": reply.preview_url, "prefer_large_media": True, "show_above_text": True}
    return {"is_disabled": True}


def chat_ref(chat_id: str | int) -> int | str:
    text = str(chat_id)
    return int(text) if text.lstrip("-").isdigit() else text


class TelegramChannel:
    platform = PLATFORM

    def __init__(self, token: str, base_url: str, session: aiohttp.ClientSession, limits: PlatformLimits,
                 *, timeout: float = SEND_TIMEOUT_SECONDS, polls: PollStore | None = None):
        self._prefix = f"{base_url}{token}/"          # PTB's convention: base_url ends in "/bot"
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.limits = limits
        self.polls = polls

    def __repr__(self) -> str:                        # never the token
        return "TelegramChannel(<redacted>)"

    async def send(self, chat_id: str, reply: Reply, *, skip_parts: int = 0) -> Delivery:
        if reply.quiz is not None:
            return await self._send_quiz(chat_id, reply, skip_parts)
        parts = split_for_telegram(reply.text, self.limits.text_limit)
        if not parts:
            return Delivery(Outcome.PERMANENT, detail="empty reply")
        markup = inline_keyboard(reply)
        ids: list[str] = []
        for number, part in enumerate(parts, 1):
            if number <= skip_parts:
                continue
            payload: dict[str, Any] = {"chat_id": chat_ref(chat_id), "text": part,
                                       "link_preview_options": link_preview(reply)}
            if number == len(parts) and markup:
                payload["reply_markup"] = markup
            delivery, result = await self.call("sendMessage", payload)
            if not delivery.delivered:
                return _after(delivery, ids)
            ids.append(str(result.get("message_id", "")))
        return Delivery.ok(*ids, parts_sent=len(ids))

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> Delivery:
        parts = split_for_telegram(reply.text, self.limits.text_limit)
        if len(parts) != 1 or reply.quiz is not None:
            return Delivery(Outcome.PERMANENT, detail="not editable in place")
        payload: dict[str, Any] = {"chat_id": chat_ref(chat_id), "message_id": int(message_id),
                                   "text": parts[0], "link_preview_options": link_preview(reply)}
        markup = inline_keyboard(reply)
        if markup:
            payload["reply_markup"] = markup
        delivery, _ = await self.call("editMessageText", payload)
        if delivery.delivered:
            return Delivery.ok(message_id)
        if "message is not modified" in delivery.detail:     # the same menu again: nothing to do
            return Delivery.ok(message_id)
        return delivery

    async def _send_quiz(self, chat_id: str, reply: Reply, skip_parts: int = 0) -> Delivery:
        """A native quiz poll: non-anonymous (Telegram reports votes only for those), the
        right option, the explanation, the time limit, the reply's buttons under it. The
        reply's text (a header such as "Câu 3/10") heads the question when it fits, else
        goes out before it."""
        quiz = reply.quiz
        assert quiz is not None
        question, ids = quiz.question.strip(), []
        header = reply.text.strip()
        if header and len(header) + 1 + len(question) <= POLL_QUESTION_MAX:
            question = f"{header}\n{question}"
        elif header and not skip_parts:
            sent = await self.send(chat_id, Reply(header))
            if not sent.delivered:
                return sent
            ids += sent.message_ids
        payload: dict[str, Any] = {
            "chat_id": chat_ref(chat_id), "question": question[:POLL_QUESTION_MAX],
            "options": [option[:POLL_OPTION_MAX] for option in quiz.options],
            "type": "quiz", "is_anonymous": False, "correct_option_ids": [quiz.correct],
        }
        if quiz.explanation:
            payload["explanation"] = quiz.explanation[:POLL_EXPLANATION_MAX]
        if quiz.open_period:
            payload["open_period"] = min(max(quiz.open_period, POLL_OPEN_PERIOD[0]), POLL_OPEN_PERIOD[1])
        markup = inline_keyboard(reply)
        if markup:
            payload["reply_markup"] = markup
        delivery, result = await self.call("sendPoll", payload)
        if not delivery.delivered:
            return _after(delivery, ids)
        message_id = str(result.get("message_id", ""))
        ids.append(message_id)
        poll = result.get("poll") if isinstance(result.get("poll"), dict) else None
        if poll and self.polls is not None:
            try:
                await self.polls.link(PLATFORM, str(poll["id"]), quiz.key, str(chat_id), message_id)
            except Exception:
                log.exception("storing a quiz poll failed: its answers cannot be routed")
        return Delivery.ok(*ids, parts_sent=len(ids))

    async def call(self, method: str, payload: dict[str, Any]) -> tuple[Delivery, dict]:
        """One Bot API call: (verdict, the ``result`` object of a successful answer)."""
        sent = False
        try:
            async with self._session.post(self._prefix + method, json=payload, timeout=self._timeout) as resp:
                sent = True                                  # the platform has the request
                status = resp.status
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
        except asyncio.TimeoutError:
            return Delivery(Outcome.TRANSIENT, detail="timed out", maybe_delivered=True), {}
        except aiohttp.ClientError as exc:
            # Failing to connect means nothing was sent; a reset mid-answer may have been delivered.
            maybe = sent or not isinstance(exc, aiohttp.ClientConnectorError)
            return Delivery(Outcome.TRANSIENT, detail=type(exc).__name__, maybe_delivered=maybe), {}
        return _verdict(method, status, body)

    async def aclose(self) -> None:
        """The session belongs to whoever built the channel; nothing of ours to close."""


def _verdict(method: str, status: int, body: object) -> tuple[Delivery, dict]:
    body = body if isinstance(body, dict) else {}
    if status == 200 and body.get("ok"):
        result = body.get("result")
        return Delivery.ok(), result if isinstance(result, dict) else {}
    description = str(body.get("description", ""))[:200]
    parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
    if status == 429:
        wait = float(parameters.get("retry_after") or 1)
        return Delivery(Outcome.RETRY_AFTER, retry_after=wait, detail=description), {}
    if status >= 500:
        log.warning("Telegram %s: HTTP %s", method, status)
        # The Bot API may have delivered the message before failing to answer.
        return Delivery(Outcome.TRANSIENT, detail=f"HTTP {status}", maybe_delivered=True), {}
    lowered = description.lower()
    if status == 403 or "chat not found" in lowered or parameters.get("migrate_to_chat_id"):
        return Delivery(Outcome.BLOCKED, detail=description), {}
    log.warning("Telegram %s refused: HTTP %s %s", method, status, description)
    return Delivery(Outcome.PERMANENT, detail=description or f"HTTP {status}"), {}


def _after(failure: Delivery, ids: list[str]) -> Delivery:
    """A failed part's verdict, with what went out before it."""
    return Delivery(failure.outcome, failure.retry_after, failure.detail, tuple(ids), len(ids),
                    failure.maybe_delivered, failure.platform_wide)
