"""The one path every incoming message takes, whatever the messenger.

    adapter → Incoming → Pipeline.process → router → handler → [Reply] → adapter

Before a handler sees a message, the pipeline drops redelivered copies
(Telegram and Zalo retry webhooks; a resident must never get two answers to
one message) and applies per-user flood control to what costs a search (free
text), apart from taps on what the bot offered (buttons, poll answers,
numbered choices, commands), which have their own, generous limit: a notice
says what is not read, then silence until the window passes. A failure in a handler (a database
outage, say) becomes a polite "try again later", never a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from bot.deps import Deps, Turn
from bot.messages import Incoming, Reply
from retrieval.searcher import SearchResult

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

FLOOD_NOTICE = (
    "Bạn gửi nhanh quá, mình cần nghỉ một chút. Các câu hỏi bạn gửi trong khoảng một phút tới "
    "mình chưa đọc được; bạn đợi một lát rồi hỏi lại giúp mình nhé. Các lựa chọn và lệnh vẫn dùng được bình thường."
)
TAP_NOTICE = (
    "Bạn chọn nhanh quá, mình chưa kịp xử lý hết. Các lựa chọn bạn gửi trong khoảng một phút tới "
    "mình chưa thực hiện; bạn đợi một lát rồi chọn lại giúp mình nhé."
)
# Taps (buttons, poll answers, numbered choices, commands) only act on what the
# bot offered and cost no search: their own window is generous, far above a
# resident going through menus quickly (40 taps a minute in tests/e2e).
TAP_LIMIT = 120
# A bare number is a numbered choice on platforms without buttons.
_CHOICE_NUMBER_DIGITS = 2
TRY_LATER = "Xin lỗi, hệ thống đang bận hoặc gặp sự cố. Bạn vui lòng thử lại sau ít phút nhé."


class SeenMessages(Protocol):
    async def first_time(self, platform: str, message_id: str) -> bool:
        """Record the delivery; False when this (platform, id) was already processed."""


class MemorySeenMessages:
    """Bounded in-process memory of delivery ids (for the console and tests)."""

    def __init__(self, capacity: int = 100_000):
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._capacity = capacity

    async def first_time(self, platform: str, message_id: str) -> bool:
        key = (platform, message_id)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True


def is_tap(msg: Incoming) -> bool:
    """A button press, a poll answer, a command or a typed choice number: not a search."""
    if msg.callback_data is not None or msg.command:
        return True
    text = msg.text.strip()
    return bool(text) and text.isascii() and text.isdigit() and len(text) <= _CHOICE_NUMBER_DIGITS


class FloodControl:
    """Sliding windows per user: free text (a search) at most ``limit`` per ``window``
    seconds; taps (`is_tap`) at most ``tap_limit``, counted apart.

    Over a limit, a message gets a notice saying that what is sent in the next
    window is not read; the messages after it in that window get nothing more
    (answering each would feed the flood), and once a window has passed the
    next one over the limit is told again. So nothing is dropped unseen.
    """

    def __init__(self, limit: int, window: float, clock=time.monotonic, tap_limit: int = TAP_LIMIT):
        self._limits = {"text": limit, "tap": max(tap_limit, limit)}
        self._window = window
        self._clock = clock
        self._times: dict[tuple[str, str, str], deque[float]] = {}
        self._warned_at: dict[tuple[str, str, str], float] = {}

    def over_limit(self, platform: str, user_id: str, kind: str = "text") -> bool:
        """Whether `check` would refuse a message now (records nothing)."""
        times = self._times.get((platform, user_id, kind))
        if not times:
            return False
        now = self._clock()
        return sum(now - t < self._window for t in times) >= self._limits[kind]

    def check(self, platform: str, user_id: str, kind: str = "text") -> str:
        """"ok", "warn" (over the limit: tell the user) or "drop" (told less than a window ago)."""
        key, now = (platform, user_id, kind), self._clock()
        times = self._times.setdefault(key, deque())
        while times and now - times[0] >= self._window:
            times.popleft()
        if len(times) < self._limits[kind]:
            times.append(now)
            return "ok"
        warned = self._warned_at.get(key)
        if warned is not None and now - warned < self._window:
            return "drop"
        self._warned_at[key] = now
        return "warn"


# Update transactions open at once; more wait for a turn before opening theirs.
# Searching comes before (Lookahead) and is not limited: updates waiting for the
# search worker hold no connection and cost the event loop nothing, and more of
# them make bigger search batches. On PostgreSQL the open transactions all run
# their statements on the event loop (asyncpg), and every webhook acknowledgement
# waits for the loop's turn: 64 → 16 → 8 took the Zalo ack p99 from 69 to 43-65
# to 21-24 ms at 100 updates/s. On SQLite they queue for its one connection
# anyway (turns stay short) and more of them share each group-commit round:
# 8 instead of 16 cost the Telegram bench 92-94 → 87 answers/s
# (bench/zalo_webhook.py, bench/telegram_throughput.py, 2 cores).
OPEN_TRANSACTIONS = {"postgresql": 8, "sqlite": 16}


class Pipeline:
    def __init__(self, deps: Deps, seen: SeenMessages | None = None, flood: FloodControl | None = None):
        self.deps = deps
        self._transactions = asyncio.Semaphore(OPEN_TRANSACTIONS.get(deps.db.dialect, 8) if deps.db else 1)
        self.seen = seen or _default_seen(deps)
        self.flood = flood or FloodControl(
            deps.settings.flood_max_messages, deps.settings.flood_window_seconds
        )

    async def process(self, msg: Incoming, record: "Record | None" = None) -> list[Reply]:
        """Replies to send for ``msg`` (empty for duplicates and flood silence).

        With ``record`` (the durable message path, bot/channels/dispatch.py) the
        update was deduplicated when it was stored, and ``record(session, replies)``
        runs inside the update's transaction, so the replies owed and what the
        handlers wrote commit together; for replies made outside a transaction
        (flood notice, "try again later") it gets ``None`` and opens its own.
        """
        lookahead = self._look_ahead(msg)
        try:
            return await self._process(msg, lookahead, record)
        finally:
            if lookahead is not None:
                lookahead.discard()

    async def _process(self, msg: Incoming, lookahead: "Lookahead | None", record: "Record | None") -> list[Reply]:
        try:
            if record is None and msg.message_id and not await self.seen.first_time(msg.platform, msg.message_id):
                log.info("duplicate delivery %s:%s dropped", msg.platform, msg.message_id)
                return []
        except Exception:
            log.exception("delivery log unavailable")
            return [Reply(TRY_LATER)]
        kind = "tap" if is_tap(msg) else "text"
        verdict = self.flood.check(msg.platform, msg.user_id, kind)
        if verdict != "ok":
            notice = TAP_NOTICE if kind == "tap" else FLOOD_NOTICE
            replies = [Reply(notice)] if verdict == "warn" else []
            return await _recorded(record, replies)
        try:
            return await self._dispatch(msg, lookahead, record)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("handler failed for %s message", msg.platform)
            return await _recorded(record, [Reply(TRY_LATER)])

    def _look_ahead(self, msg: Incoming) -> "Lookahead | None":
        """Start a question's search, and the look-up of an open dialog, at once.

        Free text is nearly always a question, and searching is the slow, CPU
        bound part of an update: it runs while the delivery log is checked and
        before the update's transaction opens (no database connection or lock
        is held meanwhile). A duplicate, or text typed into an open dialog,
        wastes a search: rare, and milliseconds. A user over the flood limit
        gets no search at all.
        """
        if is_tap(msg) or msg.media:
            return None
        if self.flood.over_limit(msg.platform, msg.user_id):
            return None
        search = self.deps.router.prefetch_for(msg, self.deps)       # the Q&A handler's hook
        if search is None:
            return None
        return Lookahead(
            asyncio.ensure_future(search),
            asyncio.ensure_future(self.deps.dialogs.peek(msg.platform, msg.user_id)),
        )

    async def _dispatch(self, msg: Incoming, lookahead: "Lookahead | None", record: "Record | None") -> list[Reply]:
        search_ahead, open_dialog = None, None
        if lookahead is not None:
            search_ahead, _ = await asyncio.gather(lookahead.search, lookahead.open_dialog)
            open_dialog = lookahead.open_dialog
        if self.deps.db is None:
            replies = await self.deps.router.dispatch(msg, Turn.begin(self.deps, None, search_ahead), open_dialog)
            return await _recorded(record, replies)
        # One session, one transaction per update: whatever the handlers and the
        # dialog store write commits together, or not at all when anything fails.
        async with self._transactions, self.deps.db.sessions.begin() as session:
            replies = await self.deps.router.dispatch(msg, Turn.begin(self.deps, session, search_ahead), open_dialog)
            if record is not None:
                await record(session, replies)
            return replies


# Stores an update's replies as owed, in the update's transaction (None: outside one).
Record = Callable[["AsyncSession | None", list[Reply]], Awaitable[None]]


async def _recorded(record: Record | None, replies: list[Reply]) -> list[Reply]:
    if record is not None:
        await record(None, replies)
    return replies


@dataclass(frozen=True)
class Lookahead:
    """Work started for a question as soon as it arrives (see `Pipeline._look_ahead`)."""

    search: "asyncio.Future[SearchResult]"
    open_dialog: "asyncio.Future[str | None]"

    def discard(self) -> None:
        """Cancel what is still running; consume a failure nobody awaited."""
        for future in (self.search, self.open_dialog):
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()


def _default_seen(deps: Deps) -> SeenMessages:
    """Deliveries are remembered in the database when there is one (it survives restarts)."""
    if deps.db is None:
        return MemorySeenMessages()
    from bot.storage import DbSeenMessages

    return DbSeenMessages(deps.db.sessions)
