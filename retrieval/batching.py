"""Async front of the searcher: never blocks the event loop, batches bursts.

Embedding a question is CPU work (milliseconds), so it runs in a worker
thread. When many questions arrive together, the worker takes all that are
waiting and embeds them in one batch, which costs far less than one call each.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from retrieval.searcher import SearchResult

MAX_BATCH = 32


class AsyncSearcher:
    def __init__(self, searcher, max_batch: int = MAX_BATCH):
        # A HybridSearcher, or a LiveSearcher (retrieval/live.py), which also takes wards.
        self.searcher = searcher
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[str, int, asyncio.Future, str | None]] | None = None
        self._worker: asyncio.Task | None = None

    async def search(self, question: str, k: int = 5, ward: str | None = None) -> SearchResult:
        """``ward``: the asker's registered ward, whose own documents may then be quoted."""
        if self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(), name="search-batcher")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((question, k, future, ward))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            k = max(item[1] for item in batch)
            wards = [item[3] for item in batch]
            extra = {"wards": wards} if any(wards) else {}
            try:
                results = await asyncio.to_thread(
                    self.searcher.search_many, [item[0] for item in batch], k, **extra
                )
            except Exception as exc:  # one bad batch must not kill the worker
                for _, _, future, _ in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, want_k, future, _), result in zip(batch, results):
                if not future.done():
                    future.set_result(_trim(result, want_k))

    async def close(self) -> None:
        close = getattr(self.searcher, "close", None)   # a live searcher's watcher thread
        if close is not None:
            close()
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None


def _trim(result: SearchResult, k: int) -> SearchResult:
    if len(result.hits) <= k:
        return result
    return replace(result, hits=result.hits[:k])
