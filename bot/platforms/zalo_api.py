"""Zalo Official Account API client: customer-service text messages and token refresh.

Zalo answers HTTP 200 even for failures; the outcome is the ``error`` field of
the JSON body (0 = success). The codes that matter here:

* -216: the access token expired or is invalid. We refresh it with the
  refresh token and retry the send once. A refresh token is single-use:
  Zalo rotates the pair on every refresh and the old refresh token stops
  working, so concurrent sends must trigger exactly one refresh (a lock),
  and the new pair is persisted before it is used.
* -230: the user has not interacted with the OA in the last 7 days, so a
  customer-service message is not allowed. Not retried; the caller gets an
  ``out_of_window`` result to record.

`ZaloClient.send_text` makes one attempt (plus the one retry after a
refresh) and returns a `SendResult`; it never raises for API or network
failures, so the webhook path and a broadcast worker can both decide what
to do with ``retry_later``. Tokens never appear in logs or reprs.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import aiohttp

from bot.settings import ZaloSettings

log = logging.getLogger(__name__)

SEND_PATH = "/v3.0/oa/message/cs"
REFRESH_PATH = "/v4/oa/access_token"

ERROR_TOKEN_INVALID = -216
ERROR_OUT_OF_WINDOW = -230
ERROR_RATE_LIMITED = -32          # "exceeded the request limit per minute"
# After a refresh fails, do not hammer the OAuth server with the same
# (probably consumed) refresh token on every message.
REFRESH_BACKOFF_SECONDS = 60.0


class SendStatus(str, enum.Enum):
    SENT = "sent"
    OUT_OF_WINDOW = "out_of_window"   # -230: outside the 7-day window; do not retry
    RETRY_LATER = "retry_later"       # timeouts, 5xx, rate limits: a worker may try again
    FAILED = "failed"                 # anything else; retrying will not help


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    error: int | None = None          # Zalo's error code, when the API gave one
    detail: str = ""                  # short, log-safe description (never a token)
    message_ids: tuple[str, ...] = ()  # Zalo's ids of the messages delivered
    parts_sent: int = 0               # for a split reply: how many parts went out

    @property
    def ok(self) -> bool:
        return self.status is SendStatus.SENT


@dataclass(frozen=True)
class TokenPair:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float | None = None   # epoch seconds, informational
    # Fingerprint of the configured refresh token this chain of refreshes
    # started from. When an operator re-authorises and puts a new pair in the
    # settings, the fingerprint no longer matches and the settings win over
    # the stored (rotated) pair.
    seeded_from: str = ""

    def to_json(self) -> dict:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "expires_at": self.expires_at, "seeded_from": self.seeded_from}

    @classmethod
    def from_json(cls, data: dict) -> "TokenPair":
        return cls(str(data["access_token"]), str(data["refresh_token"]),
                   data.get("expires_at"), str(data.get("seeded_from", "")))


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class TokenStore(Protocol):
    """Where the current token pair lives between restarts.

    Zalo rotates the refresh token on every refresh, so losing the new pair
    means re-authorising the OA by hand: save before use.
    """

    async def load(self) -> TokenPair | None: ...

    async def save(self, tokens: TokenPair) -> None: ...


class MemoryTokenStore:
    def __init__(self, tokens: TokenPair | None = None):
        self.tokens = tokens

    async def load(self) -> TokenPair | None:
        return self.tokens

    async def save(self, tokens: TokenPair) -> None:
        self.tokens = tokens


class FileTokenStore:
    """A JSON file, replaced atomically, readable by the bot's user only (0600).

    A stop-gap until the tokens move into the database with the rest of the
    bot's state (the storage layer may replace this class; it only has to
    keep the `TokenStore` protocol).
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    async def load(self) -> TokenPair | None:
        return await asyncio.to_thread(self._load)

    async def save(self, tokens: TokenPair) -> None:
        await asyncio.to_thread(self._save, tokens)

    def _load(self) -> TokenPair | None:
        try:
            return TokenPair.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            log.error("Zalo token file %s is unreadable; falling back to the configured tokens", self.path)
            return None

    def _save(self, tokens: TokenPair) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600; write, fsync, then rename
        # over the old file so a crash leaves either the old or the new pair.
        fd, tmp = tempfile.mkstemp(prefix=".zalo-tokens-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(tokens.to_json(), fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)     # make the rename itself durable
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise


def default_token_store(data_dir: Path) -> FileTokenStore:
    return FileTokenStore(Path(data_dir) / "zalo_tokens.json")


class ZaloClient:
    """Sends OA customer-service text messages; refreshes the token pair when needed."""

    def __init__(self, settings: ZaloSettings, session: aiohttp.ClientSession, store: TokenStore,
                 timeout: float = 10.0, clock=time.time):
        self._settings = settings
        self._session = session
        self._store = store
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._tokens: TokenPair | None = None
        self._started = False
        self._refresh_lock = asyncio.Lock()
        self._failed_refresh: tuple[str, float] | None = None   # (stale access token, when)
        self.refreshes = 0

    async def start(self) -> None:
        """Pick the token pair: the stored one, unless the settings carry a newer authorisation."""
        configured = self._configured_tokens()
        stored = await self._store.load()
        if stored and (configured is None or stored.seeded_from == configured.seeded_from):
            self._tokens = stored
        else:
            self._tokens = configured
        self._started = True
        if self._tokens is None:
            log.warning("Zalo: no access or refresh token configured; replies cannot be sent")

    def _configured_tokens(self) -> TokenPair | None:
        s = self._settings
        access = s.access_token.get_secret_value() if s.access_token else ""
        refresh = s.refresh_token.get_secret_value() if s.refresh_token else ""
        if not (access or refresh):
            return None
        return TokenPair(access, refresh, seeded_from=fingerprint(refresh or access))

    @property
    def access_token(self) -> str:
        return self._tokens.access_token if self._tokens else ""

    # -- sending -------------------------------------------------------------

    async def send_text(self, user_id: str, text: str) -> SendResult:
        """One customer-service text message to ``user_id``; never raises for API failures."""
        return await self.send_message(user_id, {"text": text})

    async def send_message(self, user_id: str, message: dict) -> SendResult:
        """One customer-service message (text, or a template: bot/platforms/zalo_templates.py)."""
        if not self._started:
            await self.start()
        token = self.access_token
        if not token:
            if not await self._refresh(token):
                return SendResult(SendStatus.FAILED, ERROR_TOKEN_INVALID, "no usable access token")
            token = self.access_token
        result, code = await self._post_message(user_id, message, token)
        if code != ERROR_TOKEN_INVALID:
            return result
        if not await self._refresh(token):
            return SendResult(SendStatus.FAILED, ERROR_TOKEN_INVALID, "access token refresh failed")
        result, _ = await self._post_message(user_id, message, self.access_token)   # once, no loop
        return result

    async def _post_message(self, user_id: str, message: dict, token: str) -> tuple[SendResult, int | None]:
        url = self._settings.api_base_url.rstrip("/") + SEND_PATH
        payload = {"recipient": {"user_id": user_id}, "message": message}
        try:
            async with self._session.post(url, json=payload, headers={"access_token": token},
                                          timeout=self._timeout) as resp:
                if resp.status == 429 or resp.status >= 500:
                    log.warning("Zalo send: HTTP %s", resp.status)
                    return SendResult(SendStatus.RETRY_LATER, None, f"HTTP {resp.status}"), None
                if resp.status != 200:
                    log.error("Zalo send: HTTP %s", resp.status)
                    return SendResult(SendStatus.FAILED, None, f"HTTP {resp.status}"), None
                body = await resp.json(content_type=None)
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            log.warning("Zalo send: %s", type(exc).__name__)
            return SendResult(SendStatus.RETRY_LATER, None, type(exc).__name__), None
        except ValueError:
            log.error("Zalo send: the API answered with something that is not JSON")
            return SendResult(SendStatus.FAILED, None, "invalid JSON from the API"), None
        if not isinstance(body, dict):
            return SendResult(SendStatus.FAILED, None, "unexpected API answer"), None
        code = _int_or_none(body.get("error"))
        message = str(body.get("message", ""))[:200]
        if code == 0:
            data = body.get("data")
            msg_id = data.get("message_id") if isinstance(data, dict) else None
            return SendResult(SendStatus.SENT, 0, "", (str(msg_id),) if msg_id else (), 1), 0
        if code == ERROR_TOKEN_INVALID:
            log.info("Zalo send: access token expired or invalid (-216)")
            return SendResult(SendStatus.FAILED, code, message), code
        if code == ERROR_OUT_OF_WINDOW:
            log.info("Zalo send to %s not allowed: outside the 7-day interaction window (-230)", user_id)
            return SendResult(SendStatus.OUT_OF_WINDOW, code, message), code
        if code == ERROR_RATE_LIMITED:
            log.warning("Zalo send: rate limited (%s)", code)
            return SendResult(SendStatus.RETRY_LATER, code, message), code
        log.error("Zalo send failed: error %s: %s", code, message)
        return SendResult(SendStatus.FAILED, code, message), code

    # -- token refresh -------------------------------------------------------

    async def _refresh(self, stale_token: str) -> bool:
        """Make sure the access token is newer than ``stale_token``; True when it is.

        Callers that saw -216 with the same token queue on the lock; the first
        refreshes, the rest find a new token and simply retry with it.
        """
        async with self._refresh_lock:
            if self.access_token and self.access_token != stale_token:
                return True                                  # someone else refreshed
            if await self._adopt_stored(stale_token):
                return True                                  # another process refreshed
            if self._failed_refresh and self._failed_refresh[0] == stale_token \
                    and self._clock() - self._failed_refresh[1] < REFRESH_BACKOFF_SECONDS:
                return False
            ok = await self._do_refresh()
            self._failed_refresh = None if ok else (stale_token, self._clock())
            return ok

    async def _adopt_stored(self, stale_token: str) -> bool:
        """Take a newer pair from the store (a second process, e.g. a broadcast worker
        sharing the token file, may have spent our refresh token already)."""
        try:
            stored = await self._store.load()
        except Exception:
            log.exception("Zalo: could not read the stored tokens")
            return False
        current = self._tokens.seeded_from if self._tokens else ""
        if stored is None or stored.access_token in ("", stale_token) or stored.seeded_from != current:
            return False
        self._tokens = stored
        log.info("Zalo: using the access token refreshed by another process")
        return True

    async def _do_refresh(self) -> bool:
        s = self._settings
        refresh_token = self._tokens.refresh_token if self._tokens else ""
        if not (refresh_token and s.app_id and s.app_secret):
            log.error("Zalo: cannot refresh the access token (refresh token, app id or app secret missing)")
            return False
        url = s.oauth_base_url.rstrip("/") + REFRESH_PATH
        form = {"refresh_token": refresh_token, "app_id": s.app_id, "grant_type": "refresh_token"}
        try:
            async with self._session.post(url, data=form, timeout=self._timeout,
                                          headers={"secret_key": s.app_secret.get_secret_value()}) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (asyncio.TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.error("Zalo token refresh failed: %s", type(exc).__name__)
            return False
        if status != 200 or not isinstance(body, dict) or not body.get("access_token") \
                or not body.get("refresh_token"):
            body = body if isinstance(body, dict) else {}
            error, reason = body.get("error"), body.get("error_description") or body.get("error_name")
            log.error("Zalo token refresh refused (HTTP %s, error %s: %s); the OA may need to be "
                      "re-authorised", status, error, str(reason or "")[:200])
            return False
        expires_in = _int_or_none(body.get("expires_in"))
        tokens = TokenPair(
            str(body["access_token"]), str(body["refresh_token"]),
            self._clock() + expires_in if expires_in else None,
            self._tokens.seeded_from if self._tokens else "",
        )
        try:
            await self._store.save(tokens)
        except Exception:
            # Keep going with the new pair in memory: the old refresh token is
            # already spent, so falling back to it would lock us out sooner.
            log.exception("Zalo: could not persist the refreshed tokens")
        self._tokens = tokens
        self.refreshes += 1
        log.info("Zalo access token refreshed")
        return True


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
