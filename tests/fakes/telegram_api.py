"""A fake Telegram Bot API on 127.0.0.1, for end-to-end tests and benchmarks.

Serves ``/bot<token>/<method>`` (GET or POST; JSON, form-encoded or
multipart bodies: PTB posts form-encoded fields, with JSON-encoded values for
objects such as ``reply_markup`` and ``commands``) and answers like the real
API (``{"ok": true, "result": ...}``; errors with ``error_code``,
``description`` and ``parameters.retry_after``). Implemented: getMe,
logOut/close, getUpdates (long polling with offset semantics), setWebhook /
deleteWebhook / getWebhookInfo, setMyCommands / getMyCommands /
deleteMyCommands, sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery,
sendPoll, stopPoll. Other methods get 404, like an unknown method does.

It checks what Telegram checks and a careless adapter gets wrong: text empty
or over 4096 (UTF-16 code units), ``callback_data`` over 64 bytes, command
names and descriptions, a callback query answered twice.

Every call (including failed ones) is recorded in `calls`, in arrival order.
Tests wait for calls with `wait_for`; benchmarks subscribe with `listeners`.

Updates to the bot are built with `message_update` / `callback_update` /
`poll_answer_update`, then either queued for getUpdates (`push_update`) or
posted to the webhook the bot registered with setWebhook, with the secret
token it gave, the way Telegram does (`deliver_webhook`).

Failures can be injected, per method and/or per chat, in order:

    api.add_fault(Fault.rate_limited(3), method="sendMessage", chat_id=42)
    api.add_fault(Fault.server_error(), method="sendMessage", times=2)
    api.block(42)                      # 403 "bot was blocked by the user", until unblock
    api.pause("sendMessage")           # hold responses until api.resume("sendMessage")
    api.add_fault(Fault.delivered_then_error(), method="sendMessage")   # sent, but answered 500

A call takes the first queued fault that matches, most specific first:
(method, chat), (method, any chat), (any method, chat), (any, any).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

DEFAULT_TOKEN = "123456789:AAFakeTokenForTests_ABCdefGhIjKlMnOpQ"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64

# Fields PTB sends as JSON strings in a form body.
JSON_FIELDS = frozenset({
    "correct_option_ids", "reply_markup", "commands", "scope", "allowed_updates", "options", "entities",
    "caption_entities", "link_preview_options", "reply_parameters", "explanation_entities",
    "question_entities", "media", "results", "prices",
})
INT_FIELDS = frozenset({
    "chat_id", "message_id", "offset", "limit", "timeout", "user_id", "from_chat_id",
    "correct_option_id", "open_period", "max_connections", "reply_to_message_id",
    "message_thread_id", "cache_time",
})
BOOL_FIELDS = frozenset({
    "is_anonymous", "allows_multiple_answers", "disable_notification", "drop_pending_updates",
    "show_alert", "protect_content", "is_closed", "allows_revoting", "members_only",
})


@dataclass(frozen=True)
class Fault:
    """What one matching call gets instead of the normal answer."""

    status: int = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None      # -> parameters.retry_after (PTB raises RetryAfter)
    delay: float = 0.0                  # seconds before answering
    # The message goes out, then the answer is this error anyway: the case a
    # client cannot tell from "not sent" (a retry duplicates the message).
    after_delivery: bool = False

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> "Fault":
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> "Fault":
        return cls(status, "Internal Server Error" if status == 500 else "Bad Gateway")

    @classmethod
    def delivered_then_error(cls, status: int = 500) -> "Fault":
        return cls(status, "Internal Server Error", after_delivery=True)

    @classmethod
    def blocked(cls) -> "Fault":
        return cls(403, "Forbidden: bot was blocked by the user")

    @classmethod
    def chat_not_found(cls) -> "Fault":
        return cls(400, "Bad Request: chat not found")

    @classmethod
    def slow(cls, seconds: float) -> "Fault":
        """Answer normally, but only after ``seconds``."""
        return cls(200, "", None, seconds)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)   # arrival, monotonic clock
    status: int = 0                                      # HTTP status answered
    result: Any = None                                   # "result" of an ok answer
    delivered: bool = False                              # sent, though the answer was an error

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)

    @property
    def text(self) -> str | None:
        return self.params.get("text")

    @property
    def buttons(self) -> list[list[dict]]:
        """Inline keyboard rows of the call's reply_markup ([] without one)."""
        markup = self.params.get("reply_markup") or {}
        return markup.get("inline_keyboard", []) if isinstance(markup, dict) else []


class FakeTelegramAPI:
    def __init__(self, token: str = DEFAULT_TOKEN, *, username: str = "civicbot_test_bot",
                 max_poll_seconds: float = 30.0, honour_allowed_updates: bool = False):
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.username = username
        self.max_poll_seconds = max_poll_seconds
        # Telegram filters updates by allowed_updates; off by default so tests
        # can check the adapter copes with anything that might arrive.
        self.honour_allowed_updates = honour_allowed_updates
        self.calls: list[Call] = []
        self.listeners: list[Callable[[Call], None]] = []
        self.webhook: dict[str, Any] = {}          # url, secret_token, allowed_updates, ...
        self.commands: list[dict[str, str]] = []
        self.allowed_updates: list[str] | None = None
        self.blocked: set[str] = set()
        self._faults: dict[tuple[str | None, str | None], deque[Fault]] = defaultdict(deque)
        self._paused: dict[str, asyncio.Event] = {}
        self._updates: list[dict] = []
        self._served: set[int] = set()            # update ids getUpdates returned
        self._update_ids = itertools.count(700_000_001)
        self._message_ids: dict[str, itertools.count] = defaultdict(lambda: itertools.count(1))
        self._poll_ids = itertools.count(1)
        self.polls: dict[str, dict] = {}           # id -> poll, as sent
        self._messages: dict[tuple[str, int], dict] = {}
        self._chats: dict[str, dict] = {}
        self._answered_queries: set[str] = set()
        self._changed: asyncio.Condition | None = None
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.port: int | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> "FakeTelegramAPI":
        self._changed = asyncio.Condition()
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))  # many "Telegram" deliveries at once
        return self

    async def close(self) -> None:
        self._closing = True
        await self._notify()
        for event in self._paused.values():
            event.set()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> "FakeTelegramAPI":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """For `TelegramSettings.base_url` (PTB appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # ------------------------------------------------------------ building updates

    def chat(self, chat_id: int, chat_type: str = "private", **fields) -> dict:
        chat = {"id": chat_id, "type": chat_type, **fields}
        if chat_type == "private":
            chat.setdefault("first_name", "Cư dân")
        else:
            chat.setdefault("title", "Nhóm thử")
        self._chats[str(chat_id)] = chat
        return chat

    def user(self, user_id: int, first_name: str = "Cư dân", **fields) -> dict:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "vi", **fields}

    def message_update(self, chat_id: int, text: str | None = None, *, user_id: int | None = None,
                       first_name: str = "Cư dân", chat_type: str = "private",
                       kind: str = "message", update_id: int | None = None, **fields) -> dict:
        """An update with a message (``kind`` may be "edited_message", "channel_post", ...).

        Extra ``fields`` go into the message (``sticker={...}``, ``photo=[...]``, ``caption=...``).
        """
        chat = self._chats.get(str(chat_id)) or self.chat(chat_id, chat_type)
        message = {
            "message_id": next(self._message_ids[str(chat_id)]),
            "date": int(time.time()),
            "chat": chat,
            **fields,
        }
        if kind != "channel_post" and "from" not in message:
            message["from"] = self.user(user_id if user_id is not None else chat_id, first_name)
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                command = text.split(" ", 1)[0]
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if kind == "edited_message":
            message["edit_date"] = int(time.time())
        return {"update_id": update_id if update_id is not None else next(self._update_ids), kind: message}

    def callback_update(self, chat_id: int, data: str | None, *, user_id: int | None = None,
                        message: dict | None = None, update_id: int | None = None) -> dict:
        """A button press on ``message`` (default: the last message we sent to the chat)."""
        if message is None:
            sent = self.sent(chat_id)
            message = sent[-1] if sent else {
                "message_id": next(self._message_ids[str(chat_id)]), "date": int(time.time()),
                "chat": self._chats.get(str(chat_id)) or self.chat(chat_id), "text": "…",
            }
        query = {
            "id": f"cbq-{next(self._update_ids)}",
            "from": self.user(user_id if user_id is not None else chat_id),
            "chat_instance": f"ci-{chat_id}",
            "message": message,
        }
        if data is not None:
            query["data"] = data
        return {"update_id": update_id if update_id is not None else next(self._update_ids),
                "callback_query": query}

    def poll_answer_update(self, poll_id: str, user_id: int, option_ids: list[int],
                           update_id: int | None = None) -> dict:
        """A user's vote in a non-anonymous poll (what a quiz receives)."""
        answer = {"poll_id": poll_id, "user": self.user(user_id), "option_ids": option_ids,
                  "option_persistent_ids": [str(i) for i in option_ids]}
        return {"update_id": update_id if update_id is not None else next(self._update_ids),
                "poll_answer": answer}

    # ------------------------------------------------------------ delivering updates

    def push_update(self, update: dict) -> None:
        """Queue ``update`` for getUpdates (polling mode)."""
        self._updates.append(update)
        asyncio.get_running_loop().create_task(self._notify())

    async def deliver_webhook(self, update: dict | bytes, *, secret: str | None = "registered",
                              url: str | None = None) -> int:
        """POST ``update`` to the registered webhook the way Telegram does; the HTTP status.

        ``secret``: "registered" sends the secret token given to setWebhook,
        None sends no header, any other string is sent as is (a forgery).
        """
        target = url or self.webhook.get("url")
        assert target, "no webhook registered (setWebhook was not called)"
        headers = {"Content-Type": "application/json"}
        token = self.webhook.get("secret_token") if secret == "registered" else secret
        if token is not None:
            headers[SECRET_HEADER] = token
        body = update if isinstance(update, bytes) else json.dumps(update, ensure_ascii=False).encode()
        assert self._client is not None
        async with self._client.post(target, data=body, headers=headers) as response:
            await response.read()
            return response.status

    # ------------------------------------------------------------ faults

    def add_fault(self, fault: Fault, *, method: str | None = None, chat_id: int | str | None = None,
                  times: int = 1) -> None:
        key = (method, None if chat_id is None else str(chat_id))
        self._faults[key].extend([fault] * times)

    def clear_faults(self) -> None:
        self._faults.clear()

    def block(self, chat_id: int | str) -> None:
        """Every send to ``chat_id`` fails with 403 (the user blocked the bot)."""
        self.blocked.add(str(chat_id))

    def unblock(self, chat_id: int | str) -> None:
        self.blocked.discard(str(chat_id))

    def pause(self, method: str) -> None:
        """Hold the answers to ``method`` (the calls are recorded) until `resume`."""
        self._paused[method] = asyncio.Event()

    def resume(self, method: str) -> None:
        event = self._paused.pop(method, None)
        if event is not None:
            event.set()

    # ------------------------------------------------------------ inspecting

    def calls_to(self, method: str, chat_id: int | str | None = None, *, ok_only: bool = True) -> list[Call]:
        return [
            c for c in self.calls
            if c.method == method and (not ok_only or c.ok)
            and (chat_id is None or c.chat_id == str(chat_id))
        ]

    def sent(self, chat_id: int | str | None = None) -> list[dict]:
        """Messages the bot sent (sendMessage, sendPoll), oldest first, as Telegram returned them."""
        return [c.result for c in self.calls
                if c.method in ("sendMessage", "sendPoll") and (c.ok or c.delivered)
                and (chat_id is None or c.chat_id == str(chat_id))]

    def unserved_updates(self) -> int:
        """Queued updates getUpdates has not handed out yet."""
        return sum(1 for u in self._updates if u["update_id"] not in self._served)

    def message(self, chat_id: int | str, message_id: int) -> dict:
        """A message as it stands now (after any edits)."""
        return self._messages[(str(chat_id), message_id)]

    def texts(self, chat_id: int | str | None = None) -> list[str]:
        return [m.get("text", "") for m in self.sent(chat_id)]

    async def wait_for(self, method: str, count: int = 1, *, chat_id: int | str | None = None,
                       timeout: float = 10.0) -> list[Call]:
        """Wait until ``count`` successful calls to ``method`` (for ``chat_id``) were answered."""
        assert self._changed is not None

        def enough() -> bool:
            return len(self.calls_to(method, chat_id)) >= count

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(enough), timeout)
        except TimeoutError:
            seen = [(c.method, c.chat_id, c.status) for c in self.calls[-15:]]
            raise AssertionError(
                f"expected {count} {method} call(s) for chat {chat_id}, got "
                f"{len(self.calls_to(method, chat_id))}; last calls: {seen}"
            ) from None
        return self.calls_to(method, chat_id)

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    # ------------------------------------------------------------ serving

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = Call(method, {})
        if request.match_info["token"] != self.token:
            call.status = 401
            self._record(call)
            return _error(401, "Unauthorized")
        try:
            call.params = await _params(request)
        except (ValueError, UnicodeDecodeError):
            call.status = 400
            self._record(call)
            return _error(400, "Bad Request: can't parse request body")
        self.calls.append(call)
        try:
            status, payload = await self._answer(call)
        finally:
            if not call.status:
                call.status = 499            # cancelled (client went away, shutdown)
        call.status = status
        if status == 200:
            call.result = payload
        for listener in self.listeners:
            listener(call)
        await self._notify()
        if status == 200:
            return web.json_response({"ok": True, "result": payload})
        return web.json_response(payload, status=status)

    def _record(self, call: Call) -> None:
        self.calls.append(call)
        for listener in self.listeners:
            listener(call)

    async def _answer(self, call: Call) -> tuple[int, Any]:
        if call.method in self._paused:
            await self._paused[call.method].wait()
        fault = self._take_fault(call)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status != 200 and not fault.after_delivery:
                return fault.status, _error_body(fault.status, fault.description, fault.retry_after)
        chat = call.chat_id
        if chat is not None and chat in self.blocked and call.method.startswith(("send", "edit")):
            return 403, _error_body(403, "Forbidden: bot was blocked by the user")
        handler = getattr(self, "_m_" + call.method, None)
        if handler is None:
            return 404, _error_body(404, "Not Found")
        try:
            result = await handler(call.params)
        except _ApiError as exc:
            return exc.status, _error_body(exc.status, exc.description)
        if fault is not None and fault.after_delivery:
            call.result, call.delivered = result, True
            return fault.status, _error_body(fault.status, fault.description)
        return 200, result

    def _take_fault(self, call: Call) -> Fault | None:
        chat = call.chat_id
        for key in ((call.method, chat), (call.method, None), (None, chat), (None, None)):
            queue = self._faults.get(key)
            if queue:
                return queue.popleft()
        return None

    # ------------------------------------------------------------ methods

    def _bot_user(self) -> dict:
        return {
            "id": self.bot_id, "is_bot": True, "first_name": "Trợ lý Nghị quyết 05 (thử)",
            "username": self.username, "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": False,
        }

    async def _m_getMe(self, params: dict) -> dict:
        return self._bot_user()

    async def _m_logOut(self, params: dict) -> bool:
        return True

    async def _m_close(self, params: dict) -> bool:
        return True

    async def _m_getUpdates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 100))
        timeout = min(float(params.get("timeout") or 0), self.max_poll_seconds)
        if params.get("allowed_updates") is not None:
            self.allowed_updates = list(params["allowed_updates"])
        if self.webhook.get("url"):
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                 "use deleteWebhook to delete the webhook first")
        if offset:   # confirms every update before it
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        assert self._changed is not None
        deadline = time.monotonic() + timeout
        while not self._closing:
            ready = [u for u in self._updates if self._wanted(u)]
            if ready:
                self._served.update(u["update_id"] for u in ready[:limit])
                return ready[:limit]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            async with self._changed:
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    break
        return []

    def _wanted(self, update: dict) -> bool:
        if not self.honour_allowed_updates or not self.allowed_updates:
            return True
        return any(kind in update for kind in self.allowed_updates)

    async def _m_setWebhook(self, params: dict) -> bool:
        if not params.get("url"):
            self.webhook = {}
            return True
        secret = params.get("secret_token")
        if secret is not None and not (1 <= len(secret) <= 256):
            raise _ApiError(400, "Bad Request: secret token is invalid")
        self.webhook = dict(params)
        if params.get("allowed_updates") is not None:
            self.allowed_updates = list(params["allowed_updates"])
        return True

    async def _m_deleteWebhook(self, params: dict) -> bool:
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_getWebhookInfo(self, params: dict) -> dict:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False,
                "pending_update_count": len(self._updates)}

    async def _m_setMyCommands(self, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: commands not found")
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not (1 <= len(name) <= 32) or not all(ch.isascii() and (ch.islower() or ch.isdigit() or ch == "_") for ch in name):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not (1 <= len(description) <= 256):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        return True

    async def _m_getMyCommands(self, params: dict) -> list[dict]:
        return self.commands

    async def _m_deleteMyCommands(self, params: dict) -> bool:
        self.commands = []
        return True

    def _check_markup(self, params: dict) -> dict | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if not button.get("text"):
                    raise _ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not (1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT):
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _new_message(self, chat_id: Any, **content) -> dict:
        key = str(chat_id)
        message = {
            "message_id": next(self._message_ids[key]),
            "date": int(time.time()),
            "chat": self._chats.get(key) or {"id": int(key) if key.lstrip("-").isdigit() else key,
                                             "type": "private", "first_name": "Cư dân"},
            "from": self._bot_user(),
            **{k: v for k, v in content.items() if v is not None},
        }
        self._messages[(key, message["message_id"])] = message
        return message

    async def _m_sendMessage(self, params: dict) -> dict:
        if params.get("chat_id") in (None, ""):
            raise _ApiError(400, "Bad Request: chat_id is empty")
        text = params.get("text") or ""
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if _utf16_len(text) > TEXT_LIMIT:
            raise _ApiError(400, "Bad Request: message is too long")
        markup = self._check_markup(params)
        return self._new_message(params["chat_id"], text=text, reply_markup=markup)

    async def _m_editMessageText(self, params: dict) -> dict | bool:
        text = params.get("text") or ""
        if not text.strip() or _utf16_len(text) > TEXT_LIMIT:
            raise _ApiError(400, "Bad Request: message text is empty" if not text.strip()
                            else "Bad Request: MESSAGE_TOO_LONG")
        markup = self._check_markup(params)
        if params.get("inline_message_id"):
            return True
        key = (str(params.get("chat_id")), params.get("message_id"))
        message = self._messages.get(key)
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise _ApiError(400, "Bad Request: message is not modified")
        message.update(text=text, edit_date=int(time.time()))
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return message

    async def _m_editMessageReplyMarkup(self, params: dict) -> dict | bool:
        markup = self._check_markup(params)
        if params.get("inline_message_id"):
            return True
        message = self._messages.get((str(params.get("chat_id")), params.get("message_id")))
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if message.get("reply_markup") == markup:
            raise _ApiError(400, "Bad Request: message is not modified")
        message["edit_date"] = int(time.time())
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return message

    async def _m_answerCallbackQuery(self, params: dict) -> bool:
        query_id = params.get("callback_query_id")
        if not query_id or query_id in self._answered_queries:
            raise _ApiError(400, "Bad Request: query is too old and response timeout expired "
                                 "or query ID is invalid")
        self._answered_queries.add(query_id)
        return True

    async def _m_sendPoll(self, params: dict) -> dict:
        """Bot API 9.6+ shapes (PTB 22.8 requires persistent option ids, allows_revoting, ...)."""
        question = params.get("question") or ""
        options = params.get("options") or []
        if not question or not (2 <= len(options) <= 12):
            raise _ApiError(400, "Bad Request: poll must have 2-12 options and a question")
        texts = [o["text"] if isinstance(o, dict) else str(o) for o in options]
        poll_type = params.get("type") or "regular"
        poll = {
            "id": str(next(self._poll_ids)), "question": question,
            "options": [{"text": t, "voter_count": 0, "persistent_id": str(i)} for i, t in enumerate(texts)],
            "total_voter_count": 0, "is_closed": False,
            "is_anonymous": params.get("is_anonymous", True), "type": poll_type,
            "allows_multiple_answers": bool(params.get("allows_multiple_answers", False)),
            "allows_revoting": bool(params.get("allows_revoting", False)),
            "members_only": bool(params.get("members_only", False)),
        }
        if poll_type == "quiz":
            correct = params.get("correct_option_ids")
            if correct is None and params.get("correct_option_id") is not None:
                correct = [params["correct_option_id"]]
            if not correct or not all(0 <= int(i) < len(texts) for i in correct):
                raise _ApiError(400, "Bad Request: wrong correct option ID specified")
            poll["correct_option_ids"] = [int(i) for i in correct]
            if params.get("explanation"):
                poll["explanation"] = params["explanation"]
        self.polls[poll["id"]] = poll
        return self._new_message(params.get("chat_id"), poll=poll,
                                 reply_markup=self._check_markup(params))

    async def _m_stopPoll(self, params: dict) -> dict:
        message = self._messages.get((str(params.get("chat_id")), params.get("message_id")))
        if message is None or "poll" not in message:
            raise _ApiError(400, "Bad Request: message with poll to stop not found")
        message["poll"]["is_closed"] = True
        return message["poll"]


class _ApiError(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def _error_body(status: int, description: str, retry_after: int | None = None) -> dict:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def _error(status: int, description: str) -> web.Response:
    return web.json_response(_error_body(status, description), status=status)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def _params(request: web.Request) -> dict[str, Any]:
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
            raw.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                raw[key] = value if isinstance(value, str) else f"<file {getattr(value, 'filename', '')}>"
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in JSON_FIELDS:
                value = json.loads(value)
            elif key in INT_FIELDS and value.lstrip("-").isdigit():
                value = int(value)
            elif key in BOOL_FIELDS and value in ("true", "false"):
                value = value == "true"
        params[key] = value
    return params
