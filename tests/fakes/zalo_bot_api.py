"""A fake Zalo Bot Platform API on 127.0.0.1, as rude as the real one can be.

Serves ``POST /bot<token>/<method>`` with JSON bodies and answers like Zalo:
``{"ok": true, "result": …}``, or ``{"ok": false, "error_code": n,
"description": "…"}``. Implemented: getMe, getUpdates, setWebhook,
deleteWebhook, getWebhookInfo, sendMessage, sendChatAction. Another method
gets 404; a wrong token gets 401.

What the real API does that a careless adapter gets wrong:

* getUpdates takes no offset and returns ONE update per call; the update is
  gone once the answer is written, so a client that drops its call mid-way
  loses it. With nothing to return it waits ``timeout`` seconds (capped by
  ``max_poll_seconds``) and answers error 408. It answers nothing while a
  webhook is set (error 409 here).
* sendMessage takes 1 to 2,000 characters.
* Webhook calls carry ``X-Bot-Api-Secret-Token``; `deliver` posts an update
  to the registered URL (again with the same body to act out a redelivery,
  or with another secret to act out a forger).

Faults are queued per method and/or chat and taken in order, most specific
first (as in tests/fakes/telegram_api.py):

    api.add_fault(Fault.rate_limited(3), method="sendMessage", chat_id="u1")
    api.add_fault(Fault.server_error(), method="getUpdates", times=2)
    api.add_fault(Fault.error_after_delivery())      # the message goes out, then a 500
    api.add_fault(Fault.timeout(30))                 # answers after the client gave up

Every call is recorded in `calls`; `sent` holds the messages that went out.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

DEFAULT_TOKEN = "1459232241454765289:FakeZaloBotSecretForTests"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
TEXT_LIMIT = 2000


@dataclass(frozen=True)
class Fault:
    """What one matching call gets instead of the normal answer."""

    status: int = 500
    error_code: int | None = 500
    description: str = "Internal Server Error"
    retry_after: int | None = None
    delay: float = 0.0                  # seconds before answering
    delivered: bool = False             # the message goes out before the failure is answered

    @classmethod
    def answer_normally(cls) -> "Fault":
        """No fault: queued first, it lets one call through before the next fault."""
        return cls(200, None, "")

    @classmethod
    def slow(cls, seconds: float) -> "Fault":
        """Answer normally, after ``seconds`` (a distant server: benchmarks)."""
        return cls(200, None, "", None, seconds)

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> "Fault":
        return cls(429, 429, "Too Many Requests", retry_after)

    @classmethod
    def server_error(cls, status: int = 502) -> "Fault":
        return cls(status, None, "Bad Gateway")

    @classmethod
    def error_after_delivery(cls) -> "Fault":
        return cls(500, 500, "Internal Server Error", delivered=True)

    @classmethod
    def timeout(cls, seconds: float = 30.0) -> "Fault":
        """The answer comes after ``seconds`` (the client should have given up), message sent."""
        return cls(200, None, "", None, seconds, True)

    @classmethod
    def blocked(cls) -> "Fault":
        return cls(403, 403, "Forbidden: the user does not accept messages from this bot")

    @classmethod
    def bad_request(cls) -> "Fault":
        return cls(400, 400, "Bad Request")

    @classmethod
    def not_json(cls) -> "Fault":
        """A proxy's error page instead of the API's answer."""
        return cls(502, None, "<html>502 Bad Gateway</html>")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Sent:
    chat_id: str
    text: str
    message_id: str


class FakeZaloBotAPI:
    def __init__(self, token: str = DEFAULT_TOKEN, *, max_poll_seconds: float = 30.0):
        self.token = token
        self.max_poll_seconds = max_poll_seconds
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.webhook: dict[str, str] = {}             # url, secret_token
        self._updates: deque[dict] = deque()
        self._faults: dict[tuple[str | None, str | None], deque[Fault]] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._changed: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self.port: int | None = None

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> "FakeZaloBotAPI":
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._client = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """For `ZaloBotSettings.base_url` (the token is appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # ------------------------------------------------------------ updates to the bot

    def update(self, chat_id: str, text: str | None = None, *, event: str = "message.text.received",
               name: str = "Nguyễn Văn A", chat_type: str = "PRIVATE", **message: Any) -> dict:
        """An update as Zalo builds it; ``message`` adds fields (photo, caption, sticker…)."""
        body: dict[str, Any] = {
            "message_id": f"{next(self._ids):020x}",
            "date": int(time.time() * 1000),                    # milliseconds
            "from": {"id": chat_id, "display_name": name, "is_bot": False},
            "chat": {"id": chat_id, "chat_type": chat_type},
            **message,
        }
        if text is not None:
            body["text"] = text
        return {"event_name": event, "message": body}

    async def push(self, update: dict) -> None:
        """Queue ``update`` for getUpdates."""
        self._updates.append(update)
        await self._notify()

    @property
    def queued(self) -> int:
        return len(self._updates)

    async def deliver(self, update: dict, *, secret: str | None = None,
                      body: bytes | None = None) -> int:
        """POST ``update`` to the registered webhook, with the registered secret unless
        ``secret`` is given ("" sends no header at all); returns the HTTP status."""
        assert self._client is not None and self.webhook.get("url"), "no webhook registered"
        given = self.webhook["secret_token"] if secret is None else secret
        headers = {"Content-Type": "application/json"}
        if given:
            headers[SECRET_HEADER] = given
        data = body if body is not None else json.dumps(update, ensure_ascii=False).encode()
        async with self._client.post(self.webhook["url"], data=data, headers=headers) as resp:
            await resp.read()
            return resp.status

    # ------------------------------------------------------------ faults and observations

    def add_fault(self, fault: Fault, *, method: str | None = None, chat_id: str | None = None,
                  times: int = 1) -> None:
        self._faults[(method, chat_id)].extend([fault] * times)

    def texts_to(self, chat_id: str) -> list[str]:
        return [m.text for m in self.sent if m.chat_id == chat_id]

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for_sent(self, count: int, chat_id: str | None = None, timeout: float = 20.0) -> list[Sent]:
        """Wait until ``count`` messages went out (to ``chat_id``); return them."""
        def matching() -> list[Sent]:
            return [m for m in self.sent if chat_id is None or m.chat_id == chat_id]

        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(matching()) >= count)

        await asyncio.wait_for(until(), timeout)
        return matching()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _next_fault(self, method: str, chat_id: str | None) -> Fault | None:
        for key in ((method, chat_id), (method, None), (None, chat_id), (None, None)):
            if self._faults.get(key):
                return self._faults[key].popleft()
        return None

    # ------------------------------------------------------------ the API

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await request.json() if request.can_read_body else {}
        except ValueError:
            params = None
        call = Call(method, params if isinstance(params, dict) else {})
        self.calls.append(call)
        response = await self._answer(request, method, params)
        call.status = response.status
        await self._notify()
        return response

    async def _answer(self, request: web.Request, method: str, params: Any) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, 401, "Unauthorized")
        if request.method != "POST":
            return _error(405, 405, "Method Not Allowed")
        if not isinstance(params, dict):
            return _error(400, 400, "Bad Request: body is not a JSON object")
        chat_id = str(params["chat_id"]) if params.get("chat_id") is not None else None
        fault = self._next_fault(method, chat_id)
        if fault is not None:
            sent = self._send(params) if fault.delivered and method == "sendMessage" else None
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status == 200:
                if sent is not None:
                    return _ok({"message_id": sent.message_id, "date": int(time.time() * 1000)})
                return await self._normal(method, params)
            if fault.description.startswith("<html>"):
                return web.Response(status=fault.status, text=fault.description, content_type="text/html")
            return _error(fault.status, fault.error_code, fault.description, fault.retry_after)
        return await self._normal(method, params)

    async def _normal(self, method: str, params: dict) -> web.Response:
        if method == "getMe":
            return _ok({"id": self.token.split(":")[0], "account_name": "bot.civicbot",
                        "account_type": "BASIC", "can_join_groups": False})
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "setWebhook":
            url, secret = params.get("url"), params.get("secret_token")
            if not isinstance(url, str) or not url.startswith(("https://", "http://127.0.0.1")):
                return _error(400, 400, "Bad Request: url must be HTTPS")
            if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
                return _error(400, 400, "Bad Request: secret_token must be 8-256 characters")
            self.webhook = {"url": url, "secret_token": secret}
            return _ok({"url": url, "updated_at": int(time.time() * 1000)})
        if method == "deleteWebhook":
            self.webhook = {}
            return _ok({"url": "", "updated_at": int(time.time() * 1000)})
        if method == "getWebhookInfo":
            return _ok({"url": self.webhook.get("url", ""), "updated_at": int(time.time() * 1000)})
        if method == "sendMessage":
            text = params.get("text")
            if params.get("chat_id") in (None, "") or not isinstance(text, str):
                return _error(400, 400, "Bad Request: chat_id and text are required")
            if not 1 <= len(text) <= TEXT_LIMIT:
                return _error(400, 400, "Bad Request: text must be 1-2000 characters")
            sent = self._send(params)
            return _ok({"message_id": sent.message_id, "date": int(time.time() * 1000)})
        if method == "sendChatAction":
            return _ok(None)
        return _error(404, 404, "Not Found")

    def _send(self, params: dict) -> Sent:
        sent = Sent(str(params["chat_id"]), str(params["text"]), f"{next(self._ids):020x}")
        self.sent.append(sent)
        return sent

    async def _get_updates(self, params: dict) -> web.Response:
        if self.webhook:
            return _error(409, 409, "Conflict: getUpdates is not available while a webhook is set")
        try:
            wait = min(float(params.get("timeout", 30)), self.max_poll_seconds)
        except (TypeError, ValueError):
            return _error(400, 400, "Bad Request: timeout")
        deadline = asyncio.get_running_loop().time() + wait
        async with self._changed:
            while not self._updates:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    return _error(200, 408, "Request timeout")
                try:
                    await asyncio.wait_for(self._changed.wait(), left)
                except asyncio.TimeoutError:
                    pass
            # Gone from Zalo's side as soon as it is handed out.
            return _ok(self._updates.popleft())


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, code: int | None, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "description": description}
    if code is not None:
        body["error_code"] = code
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
