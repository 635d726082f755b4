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
import random
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
RATE_LIMIT_PAUSE_SECONDS = 60.0   # -32 counts per minute
HTTP_429_PAUSE_SECONDS = 5.0
# A refresh that fails for a passing reason (network, 5xx) is tried again at
# once, a few times, jittered; then sends wait only seconds before the next
# try (they fail as "retry later", and the reply outbox retries them). A
# refresh token Zalo refused is dead until the OA is re-authorised or another
# process stores a new pair: asked again only now and then.
REFRESH_ATTEMPTS = 3
REFRESH_RETRY_SECONDS = (0.2, 1.0)          # jittered pause between attempts
FAILING_COOLDOWN_SECONDS = (2.0, 5.0)       # after a failed round, before the next
DEAD_COOLDOWN_SECONDS = 30.0
# Another process refreshing: how long to wait for its new pair.
PEER_REFRESH_WAIT_SECONDS = 15.0


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
    retry_after: float | None = None  # rate limited (HTTP 429, -32): seconds to wait
    # 5xx or timeout after the request went out: Zalo may have delivered it.
    maybe_delivered: bool = False

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
    means re-authorising the OA by hand: save before use. A store shared by
    several processes (bot/storage/tokens.py) also lets one of them refresh
    at a time: ``claim_refresh`` is True for the one that may spend
    ``refresh_token`` now; the others wait for the pair it saves.
    """

    async def load(self) -> TokenPair | None: ...

    async def save(self, tokens: TokenPair) -> None: ...

    async def claim_refresh(self, refresh_token: str) -> bool: ...

    async def release_refresh(self) -> None:
        """After a failed refresh: the next process may try (a saved pair releases it too)."""


class MemoryTokenStore:
    def __init__(self, tokens: TokenPair | None = None):
        self.tokens = tokens

    async def load(self) -> TokenPair | None:
        return self.tokens

    async def save(self, tokens: TokenPair) -> None:
        self.tokens = tokens

    async def claim_refresh(self, refresh_token: str) -> bool:
        return True                 # one process: the client's lock is enough

    async def release_refresh(self) -> None:
        pass


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

    async def claim_refresh(self, refresh_token: str) -> bool:
        return True                 # no cross-process claim: use the database store for that

    async def release_refresh(self) -> None:
        pass

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
        # After a failed refresh: (the access token it was for, when to try again, refused by Zalo).
        self._failed_refresh: tuple[str, float, bool] | None = None
        self._random = random.Random()
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

    def token_health(self) -> tuple[bool, str]:
        """For /readyz: (usable, why). A refresh that failed last time means not ready."""
        if not self._started:
            return False, "not started"
        if self._failed_refresh is not None:
            if self._failed_refresh[2]:
                return False, "refresh token refused: re-authorise the OA"
            return False, "access token refresh failing"
        if not self.access_token:
            return False, "no access token"
        return True, "access token present"

    # -- sending -------------------------------------------------------------

    async def send_text(self, user_id: str, text: str) -> SendResult:
        """One customer-service text message to ``user_id``; never raises for API failures."""
        return await self.send_message(user_id, {"text": text})

    async def send_message(self, user_id: str, message: dict) -> SendResult:
        """One customer-service message (text, or a template: bot/channels/zalo/templates.py)."""
        if not self._started:
            await self.start()
        token = self.access_token
        if not token:
            if not await self._refresh(token):
                # Not the message's fault: a later attempt may find a refreshed pair.
                return SendResult(SendStatus.RETRY_LATER, ERROR_TOKEN_INVALID, "no usable access token")
            token = self.access_token
        result, code = await self._post_message(user_id, message, token)
        if code != ERROR_TOKEN_INVALID:
            return result
        if not await self._refresh(token):
            return SendResult(SendStatus.RETRY_LATER, ERROR_TOKEN_INVALID, "access token refresh failed")
        result, _ = await self._post_message(user_id, message, self.access_token)   # once, no loop
        return result

    async def _post_message(self, user_id: str, message: dict, token: str) -> tuple[SendResult, int | None]:
        url = self._settings.api_base_url.rstrip("/") + SEND_PATH
        payload = {"recipient": {"user_id": user_id}, "message": message}
        try:
            async with self._session.post(url, json=payload, headers={"access_token": token},
                                          timeout=self._timeout) as resp:
                if resp.status == 429:
                    log.warning("Zalo send: HTTP 429")
                    return SendResult(SendStatus.RETRY_LATER, None, "HTTP 429",
                                      retry_after=HTTP_429_PAUSE_SECONDS), None
                if resp.status >= 500:
                    log.warning("Zalo send: HTTP %s", resp.status)
                    return SendResult(SendStatus.RETRY_LATER, None, f"HTTP {resp.status}",
                                      maybe_delivered=True), None
                if resp.status != 200:
                    log.error("Zalo send: HTTP %s", resp.status)
                    return SendResult(SendStatus.FAILED, None, f"HTTP {resp.status}"), None
                body = await resp.json(content_type=None)
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            log.warning("Zalo send: %s", type(exc).__name__)
            # Only a refused connection is sure not to have reached Zalo.
            maybe = not isinstance(exc, aiohttp.ClientConnectorError)
            return SendResult(SendStatus.RETRY_LATER, None, type(exc).__name__, maybe_delivered=maybe), None
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
            return SendResult(SendStatus.RETRY_LATER, code, message, retry_after=RATE_LIMIT_PAUSE_SECONDS), code
        log.error("Zalo send failed: error %s: %s", code, message)
        return SendResult(SendStatus.FAILED, code, message), code

    # -- token refresh -------------------------------------------------------

    async def _refresh(self, stale_token: str) -> bool:
        """Make sure the access token is newer than ``stale_token``; True when it is.

        Callers that saw -216 with the same token queue on the lock; the first
        refreshes, the rest find a new token and simply retry with it. Across
        processes the store lets one refresh at a time (``claim_refresh``);
        the others wait for the pair it saves.
        """
        async with self._refresh_lock:
            if self.access_token and self.access_token != stale_token:
                return True                                  # someone else refreshed
            if await self._adopt_stored(stale_token):
                return True                                  # another process refreshed
            failed = self._failed_refresh
            if failed and failed[0] == stale_token and self._clock() < failed[1]:
                return False                                 # tried a moment ago
            refresh_token = self._tokens.refresh_token if self._tokens else ""
            if not await self._store.claim_refresh(refresh_token):
                return await self._wait_for_peer(stale_token)
            outcome = "failed"
            for attempt in range(REFRESH_ATTEMPTS):
                outcome = await self._do_refresh()
                if outcome != "failed":
                    break
                if attempt < REFRESH_ATTEMPTS - 1:
                    await asyncio.sleep(self._random.uniform(*REFRESH_RETRY_SECONDS))
            if outcome == "ok":
                self._failed_refresh = None
                return True
            try:
                await self._store.release_refresh()
            except Exception:       # the claim expires by itself
                log.exception("Zalo: could not release the refresh claim")
            refused = outcome == "refused"
            pause = DEAD_COOLDOWN_SECONDS if refused else self._random.uniform(*FAILING_COOLDOWN_SECONDS)
            self._failed_refresh = (stale_token, self._clock() + pause, refused)
            return False

    async def _wait_for_peer(self, stale_token: str) -> bool:
        """Another process holds the refresh: poll the store for the pair it saves."""
        deadline = self._clock() + PEER_REFRESH_WAIT_SECONDS
        while self._clock() < deadline:
            await asyncio.sleep(self._random.uniform(0.1, 0.3))
            if await self._adopt_stored(stale_token):
                return True
        return False

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

    async def _do_refresh(self) -> str:
        """One refresh request: "ok", "failed" (network, 5xx: worth another try) or
        "refused" (Zalo said no: the refresh token is spent or the app misconfigured)."""
        s = self._settings
        refresh_token = self._tokens.refresh_token if self._tokens else ""
        if not (refresh_token and s.app_id and s.app_secret):
            log.error("Zalo: cannot refresh the access token (refresh token, app id or app secret missing)")
            return "refused"
        url = s.oauth_base_url.rstrip("/") + REFRESH_PATH
        form = {"refresh_token": refresh_token, "app_id": s.app_id, "grant_type": "refresh_token"}
        try:
            async with self._session.post(url, data=form, timeout=self._timeout,
                                          headers={"secret_key": s.app_secret.get_secret_value()}) as resp:
                body = await resp.json(content_type=None)
                status = resp.status
        except (asyncio.TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("Zalo token refresh failed: %s", type(exc).__name__)
            return "failed"
        if status >= 500 or status == 429:
            log.warning("Zalo token refresh failed: HTTP %s", status)
            return "failed"
        if status != 200 or not isinstance(body, dict) or not body.get("access_token") \
                or not body.get("refresh_token"):
            body = body if isinstance(body, dict) else {}
            error, reason = body.get("error"), body.get("error_description") or body.get("error_name")
            log.error("Zalo token refresh refused (HTTP %s, error %s: %s); the OA may need to be "
                      "re-authorised", status, error, str(reason or "")[:200])
            return "refused"
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
        return "ok"


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
