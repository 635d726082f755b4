"""Telegram in: updates by long polling or by our webhook route, stored before they are acknowledged.

    Telegram ─(getUpdates | POST /telegram/webhook)→ TelegramInbound
      → to_incoming(update) → accept(incoming): stored in the inbox
      → only then: the next getUpdates offset / the webhook's 200

Processing and replies happen elsewhere (bot/channels/dispatch.py), through
the Telegram channel (channel.py). PTB is used for what it does well: the
Bot API client for the calls that are not sends (getMe, setMyCommands,
setWebhook, getUpdates, answerCallbackQuery) and parsing updates. The
polling loop is ours, not PTB's Updater: PTB moves the offset (which tells
Telegram the updates were received) as soon as it has fetched them, before
anything is stored; ours moves it once every update of the batch is stored.

Decisions worth knowing:

* Webhook mode uses *our* aiohttp server (the one with /healthz), not PTB's
  tornado server: one port, one process. The request is checked (secret
  header, constant-time compare, JSON), stored, and answered 200; the reply
  goes out afterwards, so a slow search never makes Telegram retry.
* Telegram re-sends an update it thinks failed; the inbox's unique key
  (platform, update_id) makes the copy a no-op.
* The token is only ever read from its SecretStr to build the Bot; log
  records from PTB and httpx (whose request lines contain the URL, token
  included) are redacted (redaction.py).
* Quiz polls: a PollAnswer carries the poll id and the voter but no chat;
  the stored link (`PollStore`) turns it into the neutral answer
  ``qa:<key>:<option>`` for the chat the poll was sent to.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import warnings
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from telegram import Bot, BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.channels.base import Accept, PlatformContext, PollStore
from bot.channels.telegram.redaction import install_redaction, remove_redaction
from bot.channels.telegram.updates import PLATFORM, UpdateScreeningRequest, _display_name, _kind, to_incoming
from bot.messages import Incoming, quiz_answer_data
from bot.readiness import Check
from bot.settings import Settings, SettingsError, TelegramSettings

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What we ask Telegram to deliver; anything else (edited messages, channel
# posts, ...) is not even sent to us. Quiz answers come as "poll_answer".
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.POLL_ANSWER]
POLL_TIMEOUT_SECONDS = 10
POLL_ERROR_PAUSE_SECONDS = (1.0, 30.0)      # first and longest pause after a failed getUpdates
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")

# PTB warns, each time Telegram answers 429, that RetryAfter.retry_after will
# become a timedelta; nothing here reads it, so the warning is noise.
warnings.filterwarnings("ignore", message=r".*`retry_after` will be of type", category=PTBDeprecationWarning)


class TelegramInbound:
    """One Telegram bot's receiving side: polling or the webhook route, and the command menu."""

    def __init__(self, settings: TelegramSettings, accept: Accept, *, commands: tuple[tuple[str, str], ...] = (),
                 polls: PollStore | None = None, poll_timeout: float = POLL_TIMEOUT_SECONDS):
        token = settings.token.get_secret_value() if settings.token else ""
        if not token:
            raise SettingsError("Cấu hình thiếu: CIVICBOT_TELEGRAM__TOKEN.")
        self.accept = accept
        self.commands = commands
        self.polls = polls
        self.webhook_url = settings.webhook_url or None
        self._secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        if self.webhook_url and not _SECRET_TOKEN.match(self._secret):
            raise SettingsError(
                "Cấu hình thiếu hoặc sai: CIVICBOT_TELEGRAM__WEBHOOK_SECRET "
                "(bắt buộc ở chế độ webhook; 1–256 ký tự A-Z, a-z, 0-9, _ hoặc -)."
            )
        self._poll_timeout = poll_timeout
        self._redaction = install_redaction([token, self._secret])
        self.bot = Bot(token, base_url=settings.base_url, request=HTTPXRequest(connection_pool_size=8),
                       get_updates_request=UpdateScreeningRequest(connection_pool_size=1))
        self._polling: asyncio.Task | None = None
        self._offset: int | None = None              # the first update not stored yet
        self._tasks: set[asyncio.Task] = set()      # callback answers in flight (strong references)
        self.started = False
        self.in_hand = 0                            # updates being stored right now (tests)

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "polling"

    # -- lifecycle

    async def start(self) -> None:
        """Connect (getMe), publish the command menu, then poll or announce the webhook."""
        try:
            await self.bot.initialize()
        except InvalidToken:
            raise SettingsError(
                "Telegram từ chối token (CIVICBOT_TELEGRAM__TOKEN). Bạn kiểm tra lại token từ @BotFather nhé."
            ) from None
        await self.publish_commands()
        self.started = True
        if self.webhook_url:
            await self.bot.set_webhook(url=self.webhook_url, secret_token=self._secret,
                                       allowed_updates=ALLOWED_UPDATES)
            log.info("Telegram: webhook mode, updates at %s", WEBHOOK_PATH)
        else:
            await self.bot.delete_webhook()
            self._polling = asyncio.create_task(self._poll(), name="telegram-polling")
            log.info("Telegram: long polling started")

    async def stop(self) -> None:
        """Stop receiving, close the HTTP client. Idempotent.

        The webhook stays registered: while we restart, Telegram keeps the
        updates and delivers them when we are back.
        """
        if self._polling is not None:
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
            self._polling = None
            await self._confirm_stored()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.bot.shutdown()
        finally:
            if self.started:
                log.info("Telegram: stopped")
            self.started = False
            remove_redaction(self._redaction)

    async def lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: started with the HTTP app, stopped with it."""
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        try:
            yield
        finally:
            await self.stop()

    async def publish_commands(self) -> None:
        """The "/" menu in Telegram: the public commands with their Vietnamese descriptions."""
        commands = []
        for name, description in self.commands:
            if not _COMMAND_NAME.match(name):
                log.warning("command /%s not shown in Telegram's menu: invalid name", name)
                continue
            commands.append(BotCommand(name, description[:256] or name))
        try:
            await self.bot.set_my_commands(commands)
        except TelegramError as exc:   # a missing menu must not keep the bot down
            log.warning("Telegram: setMyCommands failed: %s", exc)

    def check(self) -> Check:
        receiving = self.mode == "webhook" or (self._polling is not None and not self._polling.done())
        # Started means getMe accepted the token.
        state = "token accepted" if self.started else "not started"
        return Check(self.started and receiving, f"{self.mode}, {state}")

    # -- receiving

    async def _poll(self) -> None:
        """getUpdates in a loop; the offset moves past an update only once it is stored."""
        pause = POLL_ERROR_PAUSE_SECONDS[0]
        while True:
            try:
                updates = await self.bot.get_updates(offset=self._offset, timeout=int(self._poll_timeout),
                                                     allowed_updates=ALLOWED_UPDATES)
                for update in updates:
                    await self.take(update)
                    self._offset = update.update_id + 1
                pause = POLL_ERROR_PAUSE_SECONDS[0]
            except asyncio.CancelledError:
                raise
            except Exception as exc:        # network, Bot API or database trouble: the offset stays
                log.warning("Telegram polling: %s (retrying in %.0f s)", type(exc).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, POLL_ERROR_PAUSE_SECONDS[1])

    async def _confirm_stored(self) -> None:
        """Tell Telegram, on the way out, that the updates stored so far were received (what
        this call returns is not confirmed and comes again; stored ones would be dropped as
        duplicates anyway)."""
        if self._offset is None:
            return
        try:
            await self.bot.get_updates(offset=self._offset, timeout=0, limit=1)
        except Exception as exc:
            log.debug("Telegram: confirming the last updates failed: %s", type(exc).__name__)

    async def handle_webhook(self, request: web.Request) -> web.Response:
        """POST from Telegram: check the secret, parse, store, answer 200."""
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
        if not self.started:
            return web.Response(status=503, text="starting")   # Telegram retries later
        try:
            await self.take(update)
        except Exception:
            log.exception("Telegram update could not be stored")
            return web.Response(status=503, text="try again")   # Telegram retries later
        return web.Response(status=200)

    async def take(self, update: Update) -> None:
        """Store ``update`` as an `Incoming` (raises when it could not be stored)."""
        self.in_hand += 1
        try:
            await self._take(update)
        finally:
            self.in_hand -= 1

    async def _take(self, update: Update) -> None:
        if update.callback_query is not None:
            self._background(self._answer_callback(update.callback_query))
        if update.poll_answer is not None:
            incoming = await self._poll_answer_incoming(update)
        else:
            incoming = to_incoming(update)
        if incoming is None:
            log.debug("Telegram update %s ignored (%s)", update.update_id, _kind(update))
            return
        await self.accept(incoming)

    async def _poll_answer_incoming(self, update: Update) -> Incoming | None:
        """A vote in one of our quiz polls, as the neutral answer for the chat the poll went to.

        Ignored: votes by a chat (anonymous admins), retracted votes (no
        option), and polls we have no record of.
        """
        answer = update.poll_answer
        user = answer.user
        if user is None or user.is_bot or not answer.option_ids or self.polls is None:
            return None
        link = await self.polls.find(PLATFORM, answer.poll_id)
        if link is None:
            log.info("Telegram poll answer for an unknown poll ignored")
            return None
        key, chat_id = link
        return Incoming.from_platform(
            PLATFORM, chat_id, user.id, None, callback_data=quiz_answer_data(key, answer.option_ids[0]),
            message_id=str(update.update_id), display_name=_display_name(user.full_name),
        )

    async def _answer_callback(self, query) -> None:
        """Stop the button's spinner; the reply follows as a message."""
        try:
            await query.answer()
        except TelegramError as exc:   # too old, or already answered (a redelivery)
            log.debug("answerCallbackQuery failed: %s", exc)

    def _background(self, work) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def start_inbound(app: web.Application, accept: Accept, settings: Settings,
                  context: PlatformContext = PlatformContext(), *,
                  poll_timeout: float = POLL_TIMEOUT_SECONDS) -> Callable[[], Check]:
    """Add Telegram's receiving side to ``app``: the webhook route (webhook mode) and a
    lifecycle that starts it with the server and stops it on shutdown. Returns its
    readiness check.

    Webhook mode announces the webhook while the server is starting up; an
    update Telegram posts in that instant is retried by Telegram.
    """
    inbound = TelegramInbound(settings.telegram, accept, commands=context.commands, polls=context.polls,
                              poll_timeout=poll_timeout)
    if inbound.webhook_url:
        app.router.add_post(WEBHOOK_PATH, inbound.handle_webhook)
    app.cleanup_ctx.append(inbound.lifecycle)
    app[TELEGRAM_INBOUND] = inbound
    return inbound.check


TELEGRAM_INBOUND = web.AppKey("telegram_inbound", TelegramInbound)
