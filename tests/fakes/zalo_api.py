"""A fake Zalo OA API on 127.0.0.1: CS messages (text, list templates) and access-token refresh.

Serves ``POST /v3.0/oa/message/cs`` and ``POST /v4/oa/access_token`` the way
Zalo does (HTTP 200 with ``{"error": code}`` in the body for API errors):

* the ``access_token`` header must be the current token, else -216;
  `expire_access_token()` makes the current one invalid;
* a refresh needs the current refresh token, the app id and the
  ``secret_key`` header; it rotates both tokens (the old refresh token no
  longer works); `refresh_delay` keeps a refresh in flight for a while so
  tests can pile concurrent sends onto it;
* users in `out_of_window` get -230;
* faults can be queued per user (or for anyone, with user ``None``): each
  send request for that user takes the next fault: a Zalo error code, an
  HTTP status (5xx), a delay longer than the client's timeout, or a message
  delivered and then answered with a 5xx (`Fault.delivered_then(500)`);
* `error_rate` (0–1) answers that share of sends, at random, with HTTP 500
  before delivering (benchmarks).

A list template is checked against Zalo's limits (`template_text`) and
recorded with the text it shows, so tests read every message as text.

Every request is in `attempts`; every delivered message in `sent`.

    async with FakeZaloAPI() as api:
        settings.zalo.api_base_url = settings.zalo.oauth_base_url = api.base_url
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

from aiohttp import web

SEND_PATH = "/v3.0/oa/message/cs"
REFRESH_PATH = "/v4/oa/access_token"


@dataclass(frozen=True)
class Fault:
    """What one send request gets instead of the normal behaviour."""

    error: int | None = None        # Zalo error code in a 200 answer
    status: int = 200               # HTTP status (e.g. 502), body {"error": -1}
    delay: float = 0.0              # seconds before answering (> client timeout = timeout)
    message: str = "injected error"
    then_deliver: bool = False      # after the delay, deliver normally (a slow success)
    # Deliver, then answer with ``status`` anyway: a client cannot tell it from "not sent".
    after_delivery: bool = False

    @classmethod
    def zalo(cls, code: int, message: str = "injected error") -> "Fault":
        return cls(error=code, message=message)

    @classmethod
    def http(cls, status: int) -> "Fault":
        return cls(status=status)

    @classmethod
    def timeout(cls, seconds: float = 30.0) -> "Fault":
        return cls(delay=seconds)

    @classmethod
    def slow(cls, seconds: float) -> "Fault":
        return cls(delay=seconds, then_deliver=True)

    @classmethod
    def delivered_then(cls, status: int = 500) -> "Fault":
        return cls(status=status, after_delivery=True)


@dataclass(frozen=True)
class SentMessage:
    user_id: str
    text: str
    message_id: str
    access_token: str
    at: float = field(default_factory=time.monotonic)
    attachment: dict | None = None   # a template; ``text`` then shows what it reads as, line by line


@dataclass(frozen=True)
class Attempt:
    user_id: str | None
    text: str | None
    access_token: str
    outcome: str                    # "sent", "error:-216", "http:502", "timeout"


class FakeZaloAPI:
    def __init__(self, app_id: str = "fake-app", app_secret: str = "fake-app-secret",
                 access_token: str = "access-0", refresh_token: str = "refresh-0",
                 expires_in: int = 90000):
        self.app_id = app_id
        self.app_secret = app_secret
        self.access_token = access_token
        self.refresh_token = refresh_token
        self.expires_in = expires_in
        self.access_valid = True
        self.refresh_delay = 0.0
        self.refresh_faults: deque[int] = deque()    # HTTP statuses for the next refresh requests
        self.error_rate = 0.0
        self._random = random.Random(5)
        self.out_of_window: set[str] = set()
        self.faults: dict[str | None, deque[Fault]] = defaultdict(deque)
        self.sent: list[SentMessage] = []
        self.attempts: list[Attempt] = []
        self.refreshes: list[dict] = []          # accepted refresh requests
        self.refused_refreshes: list[dict] = []
        self._serial = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- control ---------------------------------------------------------------

    def expire_access_token(self) -> None:
        self.access_valid = False

    def inject(self, user_id: str | None, *faults: Fault) -> None:
        """Queue faults for ``user_id``'s next send requests (None: whoever sends next)."""
        self.faults[user_id].extend(faults)

    def texts_to(self, user_id: str) -> list[str]:
        return [m.text for m in self.sent if m.user_id == user_id]

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> "FakeZaloAPI":
        app = web.Application()
        app.router.add_post(SEND_PATH, self._send)
        app.router.add_post(REFRESH_PATH, self._refresh)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]   # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "FakeZaloAPI":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # -- endpoints -------------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        try:
            body = await request.json()
            user_id = str(body["recipient"]["user_id"])
            message = body["message"]
            attachment = message.get("attachment")
            text = message["text"] if attachment is None else template_text(attachment)
        except (ValueError, KeyError, TypeError, AttributeError):
            self.attempts.append(Attempt(None, None, token, "error:-201"))
            return web.json_response({"error": -201, "message": "Parameters are invalid"})
        fault = self._next_fault(user_id)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if not fault.then_deliver and not fault.after_delivery:
                if fault.status != 200:
                    self.attempts.append(Attempt(user_id, text, token, f"http:{fault.status}"))
                    return web.json_response({"error": -1, "message": "server error"}, status=fault.status)
                if fault.error is not None:
                    self.attempts.append(Attempt(user_id, text, token, f"error:{fault.error}"))
                    return web.json_response({"error": fault.error, "message": fault.message})
        elif self.error_rate and self._random.random() < self.error_rate:
            self.attempts.append(Attempt(user_id, text, token, "http:500"))
            return web.json_response({"error": -1, "message": "server error"}, status=500)
        if token != self.access_token or not self.access_valid:
            self.attempts.append(Attempt(user_id, text, token, "error:-216"))
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        if user_id in self.out_of_window:
            self.attempts.append(Attempt(user_id, text, token, "error:-230"))
            return web.json_response({"error": -230, "message":
                                      "User has not interacted with the OA in the past 7 days"})
        if not isinstance(text, str) or not text or len(text) > 2000:
            self.attempts.append(Attempt(user_id, text, token, "error:-201"))
            return web.json_response({"error": -201, "message": "Message text is empty or too long"})
        message_id = f"m{next(self._message_ids)}"
        self.attempts.append(Attempt(user_id, text, token, "sent"))
        self.sent.append(SentMessage(user_id, text, message_id, token, attachment=attachment))
        if fault is not None and fault.after_delivery:
            return web.json_response({"error": -1, "message": "server error"}, status=fault.status)
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": message_id, "user_id": user_id}})

    def _next_fault(self, user_id: str) -> Fault | None:
        for key in (user_id, None):
            queue = self.faults.get(key)
            if queue:
                return queue.popleft()
        return None

    async def _refresh(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        record = {k: str(v) for k, v in form.items()}
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        if self.refresh_faults:                  # the OAuth server failing, the refresh token unspent
            self.refused_refreshes.append(record)
            return web.json_response({"error": -1}, status=self.refresh_faults.popleft())
        if request.headers.get("secret_key") != self.app_secret or form.get("app_id") != self.app_id:
            self.refused_refreshes.append(record)
            return web.json_response({"error": -14002, "error_name": "Invalid app id or secret key"})
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            self.refused_refreshes.append(record)
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token"})
        serial = next(self._serial)
        self.access_token, self.refresh_token = f"access-{serial}", f"refresh-{serial}"
        self.access_valid = True
        self.refreshes.append(record)
        # Zalo sends expires_in as a string.
        return web.json_response({"access_token": self.access_token, "refresh_token": self.refresh_token,
                                  "expires_in": str(self.expires_in)})


def template_text(attachment: dict) -> str:
    """A list template as a resident reads it (title, subtitle, each element's title), checked
    against Zalo's limits: 1–5 elements, titles ≤ 100 characters, subtitles ≤ 500, the first
    element with a subtitle, query actions with a payload. KeyError for anything else (-201)."""
    payload = attachment["payload"]
    elements = payload["elements"]
    if attachment.get("type") != "template" or payload.get("template_type") != "list" \
            or not 1 <= len(elements) <= 5 or not elements[0].get("subtitle"):
        raise KeyError("template")
    lines = []
    for element in elements:
        title, subtitle = element["title"], element.get("subtitle", "")
        action = element.get("default_action")
        if not title or len(title) > 100 or len(subtitle) > 500 or (
                action is not None and (action.get("type") not in ("oa.query.show", "oa.query.hide")
                                        or not str(action.get("payload", "")))):
            raise KeyError("element")
        lines += [title] + ([subtitle] if subtitle else [])
    return "\n".join(lines)
