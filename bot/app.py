"""App factory: builds the router and the dependencies, once, for every front end."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import delete, text

from bot.deps import Deps
from bot.messages import Incoming
from bot.router import Router
from bot.search import build_embedder, build_searcher  # noqa: F401 (build_embedder: importable here too)
from bot.settings import Settings
from bot.storage import Database, DbDialogStore, repo, upgrade_sync
from bot.storage.models import ProcessedDelivery
from handlers import (
    broadcast, browse, feedback, leaderboard, media, officials, privacy, qa, quiz, ratings, start, subscription,
)
from knowledge.base import KnowledgeBase
from retrieval.batching import AsyncSearcher
from retrieval.live import LiveKnowledge, LiveSearcher

if TYPE_CHECKING:
    from bot.pipeline import Pipeline

log = logging.getLogger(__name__)


def build_router() -> Router:
    """Every handlers module's router, in one place: the order below is the order
    residents see the commands in /help and in Telegram's "/" menu.

    A module registers its own commands, buttons and dialog beside its code
    (``@router.command(...)``, see bot/router.py); a new handler goes into its
    module's router, and a new module into this list. Include order matters
    only for that menu: prefixes, commands and dialogs are each claimed once.
    """
    router = Router()
    for module in (
        start,          # /start, /help
        browse,         # /mohinh, /tieuchi and their menus
        feedback,       # /gopy
        quiz,           # /quiz; /huy also ends an open round
        leaderboard,    # /bangxephang
        subscription,   # /dangky, /huy (closes any open dialog, else stops announcements)
        privacy,        # /quyenriengtu, /xoadulieu
        officials,      # /thongke (hidden, officials only)
        broadcast,      # /thongbao (hidden, officials only)
        ratings,        # 👍/👎 under answers
        media,          # voice notes, photos, stickers, …: say what the bot reads
        qa,             # any other text is a question
    ):
        router.include(module.router)
    return router


def build_database(settings: Settings, migrate: bool = True) -> Database:
    """The engine and session factory for CIVICBOT_DATABASE_URL (default: SQLite in data/).

    Migrations are applied here, before the first update, in a helper thread
    (see `upgrade_sync`), so every front end starts on the current schema.
    """
    url = settings.effective_database_url
    if migrate:
        upgrade_sync(url)
    return Database.from_url(url)


def build_deps(settings: Settings, searcher: LiveSearcher | None = None,
               knowledge: KnowledgeBase | None = None, db: Database | None = None,
               watch: bool = True) -> Deps:
    """The app's dependencies; with ``watch``, documents published later (`civicbot docs`)
    are picked up within seconds, without a restart."""
    searcher = searcher or build_searcher(settings, knowledge)
    if watch and isinstance(searcher, LiveSearcher):
        searcher.live.watch()
    if isinstance(searcher, LiveSearcher):
        knowledge = LiveKnowledge(searcher.live)
    knowledge = knowledge or KnowledgeBase.load(settings.knowledge_dir)
    db = db or build_database(settings)
    deps = Deps(settings=settings, knowledge=knowledge, searcher=AsyncSearcher(searcher),
                router=build_router(), dialogs=DbDialogStore(db.sessions), db=db)
    qa.conversation_of(deps)        # built now (lists, leads), not on the first question
    return deps


WARM_UP_QUESTION = "Nghị quyết 05 có những mô hình trọng tâm nào?"
# The rehearsal's sender: a platform no messenger uses, so it can never be a resident.
WARM_UP_PLATFORM = "warm-up"


async def warm_up(deps: Deps, pipeline: "Pipeline | None" = None) -> None:
    """Do now what a first answer would otherwise do while a resident waits.

    The model and the index: one real search, through the search worker.
    With ``pipeline``, a whole question rehearsed through it (delivery log,
    dialog look-up, answer log: connections opened, statements compiled, the
    delivery log's first pruning done), whose rows are deleted at once: the
    first answer then took 108 ms instead of 12 ms.
    """
    await deps.searcher.search(WARM_UP_QUESTION, k=deps.settings.top_k)
    if deps.db is None:
        return
    if pipeline is None:
        async with deps.db.sessions() as session:
            await session.execute(text("SELECT 1"))
        return
    await pipeline.process(warm_up_message())
    await forget_warm_up(deps)


def warm_up_message(message_id: str = WARM_UP_PLATFORM) -> Incoming:
    return Incoming.from_platform(WARM_UP_PLATFORM, WARM_UP_PLATFORM, WARM_UP_PLATFORM, WARM_UP_QUESTION,
                                  message_id=message_id)


async def forget_warm_up(deps: Deps) -> None:
    """Delete what a rehearsal stored (its resident, answer log, delivery log rows)."""
    async with deps.db.sessions.begin() as session:
        await repo.delete_resident_data(session, WARM_UP_PLATFORM, WARM_UP_PLATFORM)
        await session.execute(delete(ProcessedDelivery).where(ProcessedDelivery.platform == WARM_UP_PLATFORM))


async def close_deps(deps: Deps) -> None:
    """Shutdown: stop the search worker, close the database engine."""
    await deps.searcher.close()
    if deps.db is not None:
        await deps.db.dispose()
