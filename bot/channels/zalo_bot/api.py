"""A small client for the Zalo Bot Platform HTTP API.

    POST {base_url}{token}/{method}   JSON body
    → {"ok": true, "result": …} or {"ok": false, "error_code": n, "description": "…"}

The API copies the shape of Telegram's Bot API (getMe, getUpdates, setWebhook,
deleteWebhook, sendMessage, sendPhoto, sendSticker, sendChatAction) but not
its details: getUpdates takes no offset and returns one update per call, and
an empty long poll ends with error 408.

Why our own client and not ``python-zalo-bot`` (PyPI): its wheel says MIT,
but its code is a trimmed python-telegram-bot (LGPL-3.0) with the original
notices removed, so its licence cannot be relied on; it also brings httpx
and a whole bot framework (dispatcher, updater) where we need four POSTs.
aiohttp is already the bot's HTTP client and server.

`call` never raises for what the network or the API answers: it returns an
`Answer` the callers map to their own outcome (a `Delivery`, a poll backoff).
Nothing here logs the URL: it contains the token.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 10.0
# getUpdates' answer when no update arrived within its timeout.
NO_UPDATE = 408


@dataclass(frozen=True)
class Answer:
    ok: bool
    result: Any = None
    status: int = 200                  # HTTP status; 0: no HTTP answer at all
    error_code: int | None = None      # the API's own code, when it sent one
    description: str = ""              # short, from the API or the exception type; never the token
    retry_after: float | None = None   # for 429, when Zalo says how long
    # No HTTP answer, but the request may have reached Zalo (timeout, connection
    # dropped mid-way): a message may have gone out.
    may_have_arrived: bool = False

    @property
    def code(self) -> int:
        """The API's error code if it sent one, else the HTTP status (0: no answer)."""
        return self.error_code if self.error_code is not None else self.status


class ZaloBotAPI:
    def __init__(self, base_url: str, token: str, session: aiohttp.ClientSession,
                 timeout: float = REQUEST_TIMEOUT_SECONDS):
        self._url = f"{base_url}{token}/"          # base_url ends in "/bot", like Telegram's
        self._session = session
        self._timeout = timeout

    async def call(self, method: str, payload: dict[str, Any] | None = None,
                   timeout: float | None = None) -> Answer:
        """One POST of ``method``; never raises for network or API failures."""
        try:
            async with self._session.post(
                self._url + method, json=payload or {},
                timeout=aiohttp.ClientTimeout(total=timeout or self._timeout),
            ) as resp:
                status = resp.status
                retry_header = resp.headers.get("Retry-After")
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
        except aiohttp.ClientConnectorError as exc:
            # Never connected: Zalo saw nothing.
            return Answer(False, status=0, description=type(exc).__name__)
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            return Answer(False, status=0, description=type(exc).__name__ or "timeout",
                          may_have_arrived=True)
        if not isinstance(body, dict):
            return Answer(False, status=status, description=f"HTTP {status}, not a JSON object")
        if body.get("ok") is True and status == 200:
            return Answer(True, body.get("result"), status)
        code = _int_or_none(body.get("error_code"))
        parameters = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
        retry_after = _float_or_none(parameters.get("retry_after")) or _float_or_none(retry_header)
        return Answer(False, body.get("result"), status, code,
                      str(body.get("description") or f"HTTP {status}")[:200], retry_after)


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _float_or_none(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None
