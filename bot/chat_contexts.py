"""What the last answer in each chat showed, for follow-ups ("còn nhóm 3 thì sao?").

A context is a small dict (handlers/context.py gives it a shape) kept per
(platform, chat id) for `CONTEXT_TTL`: a resident who comes back the next
day with "tiếp theo" is asked what they mean rather than shown something
from yesterday. Deployments keep contexts in the database
(bot/storage/chat_contexts.py), so any of several bot processes serving a
chat sees the same one; the terminal chat and tests keep them in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.messages import utcnow

CONTEXT_TTL = timedelta(minutes=30)


class ChatContexts(Protocol):
    async def get(self, platform: str, chat_id: str) -> dict[str, Any] | None:
        """The chat's context, or None when there is none or it expired."""
        ...

    async def put(self, platform: str, chat_id: str, user_id: str, state: dict[str, Any]) -> None:
        """Keep ``state`` for the chat (``user_id``: whose answer it was)."""
        ...


class MemoryChatContexts:
    def __init__(self, clock: Callable[[], datetime] = utcnow, ttl: timedelta = CONTEXT_TTL,
                 capacity: int = 100_000):
        self._clock = clock
        self._ttl = ttl
        self._capacity = capacity
        self._states: OrderedDict[tuple[str, str], tuple[datetime, dict[str, Any]]] = OrderedDict()

    async def get(self, platform: str, chat_id: str) -> dict[str, Any] | None:
        entry = self._states.get((platform, chat_id))
        if entry is None or self._clock() - entry[0] > self._ttl:
            return None
        return dict(entry[1])

    async def put(self, platform: str, chat_id: str, user_id: str, state: dict[str, Any]) -> None:
        key = (platform, chat_id)
        self._states.pop(key, None)
        self._states[key] = (self._clock(), dict(state))
        if len(self._states) > self._capacity:
            self._states.popitem(last=False)
