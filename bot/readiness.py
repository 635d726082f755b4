"""Is the bot ready to take updates? One object the HTTP endpoints and the messengers consult.

`civicbot run` loads the index and the model and answers one question
before any messenger takes an update (polling starts, webhooks are
accepted): until then `ready` is False, ``GET /healthz`` says "starting"
(HTTP 503) and the webhooks answer 503, which Telegram and Zalo retry.
``GET /readyz`` runs every registered check (database, index, model, each
messenger's token) so an orchestrator can route traffic, and tells which
one is failing.

Platform-free on purpose: the runner registers the checks and serves them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str = ""


Probe = Callable[[], "Check | Awaitable[Check]"]


class Readiness:
    def __init__(self) -> None:
        self._ready = False
        self._event: asyncio.Event | None = None
        self._probes: dict[str, Probe] = {}

    # -- the start-up sequence --------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self._ready

    def mark_ready(self) -> None:
        self._ready = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        if self._ready:
            return
        if self._event is None:
            self._event = asyncio.Event()
        await self._event.wait()

    # -- the checks ---------------------------------------------------------------------

    def add(self, name: str, probe: Probe) -> None:
        """``probe()`` → `Check` (or an awaitable of one); run on every /readyz."""
        self._probes[name] = probe

    async def report(self) -> tuple[bool, dict]:
        """(every check passed and start-up is over, the JSON body of /readyz)."""
        checks = {}
        for name, probe in self._probes.items():
            checks[name] = await _run(name, probe)
        ok = self._ready and all(c.ok for c in checks.values())
        body = {
            "status": "ready" if ok else "starting" if not self._ready else "degraded",
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
        }
        return ok, body


async def _run(name: str, probe: Probe) -> Check:
    try:
        result = probe()
        if not isinstance(result, Check):
            result = await asyncio.wait_for(result, CHECK_TIMEOUT_SECONDS)
        return result
    except asyncio.TimeoutError:
        return Check(False, f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except Exception as exc:                     # a failing dependency is a report, not a crash
        log.warning("readiness check %s failed: %s", name, exc)
        return Check(False, f"{type(exc).__name__}: {exc}"[:200])


def add_dependency_checks(readiness: Readiness, deps: "Deps") -> None:
    """The checks every serving process has: database, search index, embedding model."""
    searcher = deps.searcher.searcher

    async def database() -> Check:
        if deps.db is None:
            return Check(True, "no database configured: nothing is stored")
        from sqlalchemy import text

        async with deps.db.sessions() as session:
            await session.execute(text("SELECT 1"))
        return Check(True, deps.db.dialect)

    def index() -> Check:
        manifest = searcher.dense_manifest
        return Check(manifest.units > 0, f"{manifest.units} units, model {manifest.model}, built {manifest.built_at}")

    def model() -> Check:
        embedder = searcher.embedder
        loaded = getattr(embedder, "loaded", True)
        return Check(loaded, f"{embedder.name} ({type(embedder).__name__}), " + ("loaded" if loaded else "not loaded"))

    readiness.add("database", database)
    readiness.add("index", index)
    readiness.add("model", model)
