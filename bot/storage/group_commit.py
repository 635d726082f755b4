"""Group commit: requests that arrive together share one database round.

Under load, dozens of updates are in flight at once. If each wrote its own
short transaction they would queue for SQLite's single writer (or for pool
connections on PostgreSQL), and each transaction would hold its connection
across several event-loop turns. Instead, a `GroupCommit` collects what the
callers submit while the previous round is running and hands the whole batch
to one ``run_batch`` call; every caller awaits only its own result.

A failed round fails every request in it (the caller turns that into a
polite "try again later"); nothing of the round is half-written because
``run_batch`` works in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Rows per round: well under SQLite's limit on bound parameters.
MAX_BATCH = 200


class GroupCommit(Generic[Item, Result]):
    def __init__(self, run_batch: Callable[[list[Item]], Awaitable[Sequence[Result]]],
                 name: str, max_batch: int = MAX_BATCH):
        self._run_batch = run_batch
        self._name = name
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task | None = None

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name=self._name)
        return await future

    async def _flush(self) -> None:
        while self._pending:
            batch = self._pending[:self._max_batch]
            del self._pending[:self._max_batch]
            try:
                results = await self._run_batch([item for item, _ in batch])
            except asyncio.CancelledError:      # shutting down: nobody waits for ever
                for _, future in batch + self._pending:
                    future.cancel()
                raise
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():       # its caller may have been cancelled
                    future.set_result(result)
