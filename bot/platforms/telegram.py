"""Telegram adapter: updates in, neutral messages through the pipeline, replies out.

    Telegram ─(long polling | webhook on our aiohttp server)→ PTB Application
      → TelegramAdapter.to_incoming(update) → Pipeline.process → [Reply]
      → TelegramAdapter.send: text split at 4096 chars, buttons as an inline
        keyboard on the last chunk

The adapter *holds* a python-telegram-bot `Application` (it never subclasses
it) and uses it for what PTB does well: the Bot API client, long polling with
network retries, and the update queue. Everything the bot *says* comes from
the platform-neutral handlers; nothing under handlers/ imports `telegram`.

Decisions worth knowing:

* Dedup key = ``update_id``. Telegram re-sends a webhook update it thinks
  failed, and PTB does no deduplication, so the pipeline drops a second copy.
* Updates of one chat are processed in arrival order, different chats
  concurrently (`ChatOrderedProcessor`): a resident's answers come back in
  the order of the questions, and a dialog opened by one message is open
  when the next one is routed. A plain concurrent processor would lose both.
* Webhook mode uses *our* aiohttp server (the one with /healthz), not PTB's
  tornado server: one port, one process. The request is checked (secret
  header, JSON), queued, and answered 200 at once; the reply goes out through
  the Bot API afterwards, so a slow search never makes Telegram retry.
* The token is only ever read from its SecretStr to build the Bot; log
  records from PTB and httpx (whose request lines contain the URL, token
  included) are redacted.
* Quizzes: a `Reply` with a `QuizPoll` goes out as a native, non-anonymous
  quiz poll (sendPoll), and the poll id is stored with the question's key
  (`bot.storage.quiz_repo.link_poll`). A PollAnswer carries the poll id and
  the voter but no chat: the stored link turns it into the neutral answer
  ``qa:<key>:<option>`` for the chat the poll was sent to, and it goes
  through the pipeline like any update (deduplicated by update_id).
"""

from __future__ import annotations

import asyncio
import copy
import enum
import hmac
import json
import logging
import re
import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from aiohttp import web
from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Poll,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, BaseUpdateProcessor, ContextTypes, TypeHandler
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.messages import Incoming, Reply, quiz_answer_data, utcnow
from bot.pipeline import Pipeline
from bot.platforms.base import TELEGRAM_TEXT_LIMIT, split_message
from bot.settings import Settings, SettingsError, TelegramSettings
from vntext.normalize import clean_input

log = logging.getLogger(__name__)

PLATFORM = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What we ask Telegram to deliver; anything else (edited messages, channel
# posts, ...) is not even sent to us. Quiz answers come as "poll_answer".
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.POLL_ANSWER]
MAX_CONCURRENT_CHATS = 256
POLL_TIMEOUT_SECONDS = 10
# Sending: wait out a 429 when Telegram asks for a short pause, give up
# beyond this (the caller, e.g. a broadcast, can reschedule instead).
MAX_RETRY_AFTER_SECONDS = 30.0
SEND_ATTEMPTS = 3
CALLBACK_DATA_MAX_BYTES = 64
# Quiz polls: Telegram's limits.
POLL_QUESTION_MAX = 300
POLL_OPTION_MAX = 100
POLL_EXPLANATION_MAX = 200
POLL_OPEN_PERIOD = (5, 600)
POLL_LINK_ATTEMPTS = 3
POLL_LINK_RETRY_SECONDS = 0.2
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

T = TypeVar("T")

# PTB warns, each time Telegram answers 429, that RetryAfter.retry_after will
# become a timedelta; `_retry_after_seconds` takes either, so the warning is noise.
warnings.filterwarnings("ignore", message=r".*`retry_after` will be of type", category=PTBDeprecationWarning)


# ---------------------------------------------------------------- Update → Incoming

def to_incoming(update: Update) -> Incoming | None:
    """The neutral message for ``update``, or None when there is nothing to answer.

    Handled: private/group messages with text or a caption, and button
    presses. A sticker, photo, voice note, ... carries its kind in
    ``Incoming.media`` (a photo's caption is its text). Ignored: edited
    messages (answering the edit again would be a second answer to one
    question), channel posts, service messages
    (members joined, pinned, ...), other bots, game buttons.
    """
    message_id = str(update.update_id)
    query = update.callback_query
    if query is not None:
        if query.data is None:          # a game button: nothing for us
            return None
        user = query.from_user
        # An old or inline message may be inaccessible; a private chat's id is the user's.
        chat_id = query.message.chat.id if query.message is not None else user.id
        return Incoming.from_platform(
            PLATFORM, chat_id, user.id, None, callback_data=query.data,
            message_id=message_id, display_name=_display_name(user.full_name),
            menu_message_id=str(query.message.message_id) if query.message is not None else None,
        )
    message = update.message
    if message is None:
        return None
    user = message.from_user
    if user is None or user.is_bot:     # anonymous admins, channels speaking in groups
        return None
    text = message.text if message.text is not None else message.caption
    if text is None and message.effective_attachment is None:
        return None                     # service message
    return Incoming.from_platform(
        PLATFORM, message.chat.id, user.id, text or "", media=_media_kind(message),
        message_id=message_id, display_name=_display_name(user.full_name),
    )


# Message attributes → Incoming.media, first match wins (an animation also has a document).
_MEDIA_KINDS = (("voice", "voice"), ("audio", "voice"), ("video_note", "video"), ("animation", "video"),
                ("video", "video"), ("photo", "photo"), ("sticker", "sticker"), ("location", "location"),
                ("venue", "location"), ("document", "file"))


def _media_kind(message) -> str:
    if message.text is not None:
        return ""
    return next((kind for attr, kind in _MEDIA_KINDS if getattr(message, attr, None)), "unsupported")


def _display_name(name: str | None) -> str | None:
    cleaned = clean_input(name or "", max_chars=64)
    return cleaned or None


# ---------------------------------------------------------------- Reply → Bot API

def split_for_telegram(text: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
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


def inline_keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    rows = []
    for row in reply.buttons:
        buttons = []
        for button in row:
            if not button.label or len(button.data.encode()) > CALLBACK_DATA_MAX_BYTES:
                # Telegram would reject the whole message; lose the button, not the answer.
                log.error("button %r dropped: empty label or data over 64 bytes", button.data[:80])
                continue
            buttons.append(InlineKeyboardButton(button.label, callback_data=button.data))
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(rows) if rows else None


def _chat(chat_id: str | int) -> int | str:
    text = str(chat_id)
    return int(text) if text.lstrip("-").isdigit() else text


def _retry_after_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after             # int today, timedelta in PTB 23: take either
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# ---------------------------------------------------------------- robustness of polling

class UpdateScreeningRequest(HTTPXRequest):
    """The getUpdates transport, replacing updates PTB cannot read by empty ones.

    PTB parses a getUpdates batch in one go. One update it cannot read (the
    Bot API and PTB out of step: Bot API 9.6 made fields required, say)
    fails the whole batch, the offset is not moved, and the same batch comes
    back at once, forever: the bot stalls in a tight loop of CRITICAL logs.
    A bare ``{"update_id": n}`` in its place lets the offset move on; the
    adapter ignores it.
    """

    async def do_request(self, url: str, method: str, request_data=None, **timeouts: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(url, method, request_data, **timeouts)
        if code == 200 and url.endswith("/getUpdates"):
            payload = screen_updates(payload)
        return code, payload


def screen_updates(payload: bytes) -> bytes:
    try:
        body = json.loads(payload)
    except ValueError:
        return payload
    result = body.get("result") if isinstance(body, dict) else None
    if not isinstance(result, list):
        return payload
    changed = False
    for index, item in enumerate(result):
        try:
            Update.de_json(copy.deepcopy(item), None)
        except Exception as exc:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int):
                return payload
            log.warning("Telegram update %s unreadable, skipped (%s: %s)", update_id, type(exc).__name__, exc)
            result[index] = {"update_id": update_id}
            changed = True
    return json.dumps(body).encode() if changed else payload


class SendStatus(str, enum.Enum):
    # Same values as the Zalo channel's statuses, plus "blocked".
    SENT = "sent"
    BLOCKED = "blocked"           # user blocked the bot / chat gone: stop writing to it
    RETRY_LATER = "retry_later"   # rate limit (see retry_after), timeout, 5xx
    FAILED = "failed"             # this message was refused; retrying will not help


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    detail: str = ""                      # log-safe, never the token
    retry_after: float | None = None      # seconds Telegram asked us to wait
    message_ids: tuple[int, ...] = ()
    parts_sent: int = 0

    @property
    def ok(self) -> bool:
        return self.status is SendStatus.SENT


# ---------------------------------------------------------------- concurrency

class ChatOrderedProcessor(BaseUpdateProcessor):
    """Different chats concurrently, one chat's updates one after the other.

    The first update of a chat runs and then drains whatever arrived for that
    chat meanwhile; later updates just join the chat's queue and return, so a
    chat that floods us holds one slot of ``max_concurrent_updates``, not many.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_CHATS):
        super().__init__(max_concurrent_updates)
        self._queues: dict[int, deque[Awaitable[Any]]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _chat_key(update)
        if key is None:
            await coroutine
            return
        pending = self._queues.get(key)
        if pending is not None:
            pending.append(coroutine)
            return
        pending = self._queues[key] = deque([coroutine])
        try:
            while pending:
                try:
                    await pending.popleft()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("processing a Telegram update failed")
        finally:
            del self._queues[key]
            for leftover in pending:            # only on cancellation
                close = getattr(leftover, "close", None)
                if close:
                    close()

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


def _chat_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


# ---------------------------------------------------------------- log redaction

class _RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        if any(s in message for s in self._secrets):
            record.msg, record.args = self._redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
        return True


def _install_redaction(secrets: list[str]) -> _RedactSecrets:
    """Attach the filter to every logger that may print the token.

    Logger filters run where the record is made, before any handler (ours,
    pytest's, a deployment's) sees it. httpx's request lines carry the URL
    (`.../bot<token>/sendMessage`); PTB prints the token in `repr(bot)`, its
    base-URL debug line and `InvalidToken`.
    """
    flt = _RedactSecrets(secrets)
    names = ["httpx", "httpcore", "telegram", __name__]
    names += [n for n in logging.Logger.manager.loggerDict if n.startswith(("telegram.", "httpx.", "httpcore."))]
    for name in names:
        logging.getLogger(name).addFilter(flt)
    httpx_log = logging.getLogger("httpx")
    if httpx_log.level == logging.NOTSET:
        httpx_log.setLevel(logging.WARNING)   # one INFO line per API call is noise
    return flt


def _remove_redaction(flt: _RedactSecrets) -> None:
    for logger in [logging.getLogger(n) for n in list(logging.Logger.manager.loggerDict)]:
        if isinstance(logger, logging.Logger) and flt in logger.filters:
            logger.removeFilter(flt)
    for name in ("httpx", "httpcore", "telegram", __name__):
        logging.getLogger(name).removeFilter(flt)


# ---------------------------------------------------------------- the adapter

class TelegramAdapter:
    """One Telegram bot: receives updates (polling or webhook) and sends replies."""

    platform = PLATFORM
    text_limit = TELEGRAM_TEXT_LIMIT
    supports_buttons = True

    def __init__(self, settings: TelegramSettings, pipeline: Pipeline, *,
                 poll_timeout: float = POLL_TIMEOUT_SECONDS,
                 max_concurrent_chats: int = MAX_CONCURRENT_CHATS):
        token = settings.token.get_secret_value() if settings.token else ""
        if not token:
            raise SettingsError("Cấu hình thiếu: CIVICBOT_TELEGRAM__TOKEN.")
        self.pipeline = pipeline
        self.webhook_url = settings.webhook_url or None
        self._secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        if self.webhook_url and not _SECRET_TOKEN.match(self._secret):
            raise SettingsError(
                "Cấu hình thiếu hoặc sai: CIVICBOT_TELEGRAM__WEBHOOK_SECRET "
                "(bắt buộc ở chế độ webhook; 1–256 ký tự A-Z, a-z, 0-9, _ hoặc -)."
            )
        self._poll_timeout = poll_timeout
        self._redaction = _install_redaction([token, self._secret])
        builder = (
            Application.builder()
            .token(token)
            .base_url(settings.base_url)
            .concurrent_updates(ChatOrderedProcessor(max_concurrent_chats))
        )
        if self.webhook_url:
            builder = builder.updater(None)   # updates come through our aiohttp route
        else:
            builder = builder.get_updates_request(UpdateScreeningRequest(connection_pool_size=1))
        self.application = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self._started = False

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "polling"

    @property
    def bot(self):
        return self.application.bot

    # -- lifecycle

    def add_routes(self, http_app: web.Application) -> None:
        """Register the webhook route (webhook mode only) before the server starts."""
        if self.webhook_url:
            http_app.router.add_post(WEBHOOK_PATH, self.handle_webhook)

    async def start(self) -> None:
        """Connect (getMe), publish the command menu, then poll or announce the webhook.

        Telegram may post to the webhook as soon as setWebhook returns; best
        call this once the server listens. (`start_telegram` calls it while
        the server starts up; a post that finds no listener yet is retried
        by Telegram.)
        """
        try:
            await self.application.initialize()
        except InvalidToken:
            raise SettingsError(
                "Telegram từ chối token (CIVICBOT_TELEGRAM__TOKEN). Bạn kiểm tra lại token từ @BotFather nhé."
            ) from None
        await self.publish_commands()
        await self.application.start()
        self._started = True
        if self.webhook_url:
            await self.bot.set_webhook(
                url=self.webhook_url, secret_token=self._secret, allowed_updates=ALLOWED_UPDATES
            )
            log.info("Telegram: webhook mode, updates at %s", WEBHOOK_PATH)
        else:
            await self.application.updater.start_polling(
                poll_interval=0.0,
                timeout=timedelta(seconds=self._poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
                error_callback=self._on_polling_error,
            )
            log.info("Telegram: long polling started")

    async def stop(self) -> None:
        """Stop receiving, finish the updates in hand, close the HTTP client. Idempotent.

        The webhook stays registered: while we restart, Telegram keeps the
        updates and delivers them when we are back.
        """
        app = self.application
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        finally:
            if self._started:
                log.info("Telegram: stopped")
            self._started = False

    async def publish_commands(self) -> None:
        """The "/" menu in Telegram: the public commands with their Vietnamese descriptions."""
        commands = []
        for command in self.pipeline.deps.router.public_commands():
            if not _COMMAND_NAME.match(command.name):
                log.warning("command /%s not shown in Telegram's menu: invalid name", command.name)
                continue
            commands.append(BotCommand(command.name, command.description[:256] or command.name))
        try:
            await self.bot.set_my_commands(commands)
        except TelegramError as exc:   # a missing menu must not keep the bot down
            log.warning("Telegram: setMyCommands failed: %s", exc)

    # -- receiving

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """POST from Telegram: check the secret, parse, queue, answer 200 at once."""
        given = request.headers.get(SECRET_HEADER, "")
        if not self._secret or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), self._secret.encode()
        ):
            log.warning("Telegram webhook: wrong or missing secret token from %s", request.remote)
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.read())
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
        except ValueError as exc:   # bad JSON or UTF-8, or no update at all
            log.warning("Telegram webhook: malformed request rejected (%s)", type(exc).__name__)
            return web.Response(status=400, text="bad request")
        try:
            update = Update.de_json(data, self.bot)
        except Exception as exc:
            # An update PTB cannot read (see UpdateScreeningRequest). Answering
            # 4xx would make Telegram retry it and hold back the updates after it.
            log.warning("Telegram update %s unreadable, skipped (%s: %s)",
                        data["update_id"], type(exc).__name__, exc)
            return web.Response(status=200)
        if not self.application.running:
            return web.Response(status=503, text="starting")   # Telegram retries later
        await self.application.update_queue.put(update)
        return web.Response(status=200)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await self._answer_callback(update.callback_query)
        if update.poll_answer is not None:
            incoming = await self._poll_answer_incoming(update)
        else:
            incoming = to_incoming(update)
        if incoming is None:
            log.debug("Telegram update %s ignored (%s)", update.update_id, _kind(update))
            return
        replies = await self.pipeline.process(incoming)
        await self.deliver(incoming.chat_id, replies, incoming.menu_message_id)

    async def _poll_answer_incoming(self, update: Update) -> Incoming | None:
        """A vote in one of our quiz polls, as the neutral answer for the chat the poll went to.

        Ignored: votes by a chat (anonymous admins), retracted votes (no
        option), and polls we have no record of.
        """
        answer = update.poll_answer
        user = answer.user
        if user is None or user.is_bot or not answer.option_ids:
            return None
        link = await self._poll_link(answer.poll_id)
        if link is None:
            log.info("Telegram poll answer for an unknown poll ignored")
            return None
        key, chat_id = link
        return Incoming.from_platform(
            PLATFORM, chat_id, user.id, None, callback_data=quiz_answer_data(key, answer.option_ids[0]),
            message_id=str(update.update_id), display_name=_display_name(user.full_name),
        )

    async def _poll_link(self, poll_id: str) -> tuple[str, str] | None:
        """(answer key, chat) of a poll we sent. Tried a few times: in a group, another
        member's vote (not ordered with the sender's updates) may arrive while the
        link of a poll just sent is still being stored."""
        db = self.pipeline.deps.db
        if db is None:
            return None
        from bot.storage import quiz_repo

        for attempt in range(POLL_LINK_ATTEMPTS):
            try:
                async with db.sessions.begin() as session:
                    link = await quiz_repo.poll_link(session, PLATFORM, poll_id)
            except Exception:
                log.exception("looking up a quiz poll failed")
                return None
            if link is not None or attempt == POLL_LINK_ATTEMPTS - 1:
                return link
            await asyncio.sleep(POLL_LINK_RETRY_SECONDS)
        return None

    async def _remember_poll(self, poll_id: str, key: str, chat_id: str | int, message_id: int) -> None:
        """Store which round question a poll asks, so that its PollAnswer can be routed."""
        db = self.pipeline.deps.db
        if db is None:
            log.warning("quiz poll sent without a database: its answers cannot be routed")
            return
        from bot.storage import quiz_repo

        try:
            async with db.sessions.begin() as session:
                if not await quiz_repo.link_poll(session, PLATFORM, poll_id, key, str(chat_id),
                                                 str(message_id), utcnow()):
                    log.warning("quiz poll sent for an unknown question key")
        except Exception:
            log.exception("storing a quiz poll failed: its answers cannot be routed")

    async def _answer_callback(self, query: CallbackQuery) -> None:
        """Stop the button's spinner first; the reply follows as a message."""
        try:
            await query.answer()
        except TelegramError as exc:   # too old, or already answered (a redelivery)
            log.debug("answerCallbackQuery failed: %s", exc)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("Telegram update failed: %r", context.error, exc_info=context.error)

    def _on_polling_error(self, exc: TelegramError) -> None:
        log.warning("Telegram polling: %s (retrying)", exc)

    # -- sending

    async def deliver(self, chat_id: str, replies: list[Reply], menu_message_id: str | None = None) -> None:
        """Send the replies to one incoming message; failures are logged, never raised.

        ``menu_message_id``: the message whose button was tapped; the first
        reply marked `Reply.replaces_menu` replaces it (see `edit`)."""
        for reply in replies:
            if reply.replaces_menu and menu_message_id is not None:
                result = await self.edit(chat_id, menu_message_id, reply)
                menu_message_id = None              # one message holds the menu
                if result.status is SendStatus.FAILED:   # too old, deleted, a poll: a new message then
                    result = await self.send(chat_id, reply)
            else:
                result = await self.send(chat_id, reply)
            if not result.ok:
                log.warning("reply to Telegram chat %s not delivered: %s %s",
                            chat_id, result.status.value, result.detail)
                if result.status is not SendStatus.FAILED:
                    return      # blocked, or rate limited: the rest would fail too

    async def edit(self, chat_id: str | int, message_id: str, reply: Reply) -> SendResult:
        """Replace a sent menu (text and buttons) with ``reply`` (editMessageText).

        FAILED when the message cannot be edited (too old, deleted, not text)
        or the reply does not fit one message: the caller sends it instead.
        "Message is not modified" (the same menu tapped twice) is success.
        """
        chunks = split_for_telegram(reply.text)
        if reply.quiz is not None or len(chunks) != 1 or not message_id.isdigit():
            return SendResult(SendStatus.FAILED, "not editable as one message")
        outcome = await self._call(chat_id, lambda: self.bot.edit_message_text(
            chat_id=_chat(chat_id), message_id=int(message_id), text=chunks[0],
            reply_markup=inline_keyboard(reply), link_preview_options=_NO_PREVIEW,
        ))
        if isinstance(outcome, SendResult):
            if "not modified" in outcome.detail.lower():
                return SendResult(SendStatus.SENT, message_ids=(int(message_id),), parts_sent=1)
            return outcome
        return SendResult(SendStatus.SENT, message_ids=(int(message_id),), parts_sent=1)

    async def send(self, chat_id: str | int, reply: Reply) -> SendResult:
        """Send one reply (the broadcast worker's entry point too): long text in
        several messages, buttons on the last one; a quiz as a quiz poll. Stops
        at the first part that does not go out; never raises for a Bot API error."""
        if reply.quiz is not None:
            return await self._send_quiz(chat_id, reply)
        chunks = split_for_telegram(reply.text)
        if not chunks:
            return SendResult(SendStatus.FAILED, "empty reply")
        markup = inline_keyboard(reply)
        ids: list[int] = []
        for number, chunk in enumerate(chunks, 1):
            outcome = await self._call(chat_id, lambda chunk=chunk, last=number == len(chunks): self.bot.send_message(
                chat_id=_chat(chat_id), text=chunk,
                reply_markup=markup if last else None, link_preview_options=_NO_PREVIEW,
            ))
            if isinstance(outcome, SendResult):
                return replace(outcome, message_ids=tuple(ids), parts_sent=number - 1)
            ids.append(outcome.message_id)
        return SendResult(SendStatus.SENT, message_ids=tuple(ids), parts_sent=len(chunks))

    async def _send_quiz(self, chat_id: str | int, reply: Reply) -> SendResult:
        """A native quiz poll: non-anonymous (Telegram sends PollAnswers only for
        those), the right option, the explanation shown once answered, the time
        limit, and the reply's buttons under it. The reply's text (a header such
        as "Câu 3/10") heads the question when it fits, else goes out before it."""
        quiz = reply.quiz
        assert quiz is not None
        question, ids = quiz.question.strip(), []
        header = reply.text.strip()
        if header and len(header) + 1 + len(question) <= POLL_QUESTION_MAX:
            question = f"{header}\n{question}"
        elif header:
            sent = await self.send(chat_id, Reply(header))
            if not sent.ok:
                return sent
            ids += sent.message_ids
        period = None
        if quiz.open_period:
            period = min(max(quiz.open_period, POLL_OPEN_PERIOD[0]), POLL_OPEN_PERIOD[1])
        outcome = await self._call(chat_id, lambda: self.bot.send_poll(
            chat_id=_chat(chat_id),
            question=question[:POLL_QUESTION_MAX],
            options=[option[:POLL_OPTION_MAX] for option in quiz.options],
            type=Poll.QUIZ,
            is_anonymous=False,
            # Bot API 9.6 replaced correct_option_id by the list form (PTB 22.8 warns on the old one).
            correct_option_ids=[quiz.correct],
            explanation=quiz.explanation[:POLL_EXPLANATION_MAX] or None,
            open_period=period,
            reply_markup=inline_keyboard(reply),
        ))
        if isinstance(outcome, SendResult):
            return replace(outcome, message_ids=tuple(ids), parts_sent=len(ids))
        ids.append(outcome.message_id)
        if outcome.poll is not None:
            await self._remember_poll(outcome.poll.id, quiz.key, chat_id, outcome.message_id)
        return SendResult(SendStatus.SENT, message_ids=tuple(ids), parts_sent=len(ids))

    async def _call(self, chat_id: str | int, request: Callable[[], Awaitable[T]]) -> T | SendResult:
        """One Bot API call, retried only where a retry cannot duplicate a message."""
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                return await request()
            except RetryAfter as exc:
                wait = _retry_after_seconds(exc)
                if wait > MAX_RETRY_AFTER_SECONDS or attempt == SEND_ATTEMPTS:
                    return SendResult(SendStatus.RETRY_LATER, f"rate limited ({wait:g}s)", retry_after=wait)
                log.info("Telegram asks to wait %gs before writing to chat %s", wait, chat_id)
                await asyncio.sleep(wait)
            except Forbidden as exc:           # blocked by the user, removed from the group
                return SendResult(SendStatus.BLOCKED, str(exc))
            except ChatMigrated as exc:        # the group became a supergroup
                return SendResult(SendStatus.BLOCKED, f"chat moved to {exc.new_chat_id}")
            except BadRequest as exc:          # chat not found, invalid message: retrying won't help
                gone = "chat not found" in exc.message.lower()
                return SendResult(SendStatus.BLOCKED if gone else SendStatus.FAILED, str(exc))
            except TimedOut:                   # may have been delivered: do not send it twice
                return SendResult(SendStatus.RETRY_LATER, "timed out")
            except NetworkError as exc:        # connection refused, 5xx: not delivered
                if attempt == SEND_ATTEMPTS:
                    return SendResult(SendStatus.RETRY_LATER, str(exc))
                await asyncio.sleep(0.5 * attempt)
            except TelegramError as exc:
                return SendResult(SendStatus.FAILED, str(exc))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self.stop()
        _remove_redaction(self._redaction)

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: started with the HTTP app, stopped with it."""
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        try:
            yield
        finally:
            await self.aclose()


def _kind(update: Update) -> str:
    for name in ("edited_message", "channel_post", "edited_channel_post", "my_chat_member",
                 "chat_member", "poll", "poll_answer", "inline_query", "message", "callback_query"):
        if getattr(update, name, None) is not None:
            return name
    return "other"


# ---------------------------------------------------------------- runner glue

TELEGRAM_ADAPTER = web.AppKey("telegram_adapter", TelegramAdapter)


def start_telegram(app: web.Application, pipeline: Pipeline, settings: Settings,
                   **options: Any) -> TelegramAdapter:
    """Add the Telegram adapter to ``app``: its webhook route, and a lifecycle
    that starts it with the server and stops it on shutdown (after the server
    stopped taking requests, before the shared resources close).

    Webhook mode announces the webhook while the server is starting up; an
    update Telegram posts in that instant is retried by Telegram.
    """
    adapter = TelegramAdapter(settings.telegram, pipeline, **options)
    adapter.add_routes(app)
    app.cleanup_ctx.append(adapter.lifecycle)
    app[TELEGRAM_ADAPTER] = adapter
    return adapter
