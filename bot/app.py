"""App factory: builds the router and the dependencies, once, for every front end."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import text

from bot.deps import Deps
from bot.router import Router
from bot.settings import Settings
from bot.storage import Database, DbDialogStore, upgrade_sync
from handlers import (
    broadcast, browse, feedback, leaderboard, media, officials, privacy, qa, quiz, ratings, start, subscription,
)
from knowledge.base import KnowledgeBase
from retrieval.batching import AsyncSearcher
from retrieval.embedder import Embedder, SentenceTransformerEmbedder
from retrieval.onnx_embedder import OnnxEmbedder
from retrieval.searcher import HybridSearcher
from retrieval.service import ProgressFactory, open_searcher

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


def build_embedder(settings: Settings) -> Embedder:
    """The question encoder: the ONNX export alone when there is one (no torch,
    starts in about a second), else sentence-transformers, which exports it."""
    if settings.embedding_backend == "onnx":
        light = OnnxEmbedder.find(settings.model_cache_dir, settings.embedding_model,
                                  settings.embedding_threads, settings.embedding_query_precision)
        if light is not None:
            return light
    return reference_embedder(settings)


def reference_embedder(settings: Settings) -> Embedder:
    """sentence-transformers: builds the model and its ONNX export, and the index."""
    return SentenceTransformerEmbedder(
        settings.embedding_model, settings.model_cache_dir, settings.embedding_threads,
        settings.embedding_backend, settings.embedding_query_precision,
    )


def build_searcher(
    settings: Settings,
    knowledge: KnowledgeBase | None = None,
    embedder: Embedder | None = None,
    rebuild: bool = False,
    progress: ProgressFactory | None = None,
) -> HybridSearcher:
    knowledge = knowledge or KnowledgeBase.load(settings.knowledge_dir)
    embedder = embedder or build_embedder(settings)
    # A missing or stale index is built by sentence-transformers (the same vectors, tested).
    index_embedder = (lambda: reference_embedder(settings)) if isinstance(embedder, OnnxEmbedder) else None
    return open_searcher(knowledge, embedder, settings.index_dir, rebuild, progress, index_embedder)


def build_database(settings: Settings, migrate: bool = True) -> Database:
    """The engine and session factory for CIVICBOT_DATABASE_URL (default: SQLite in data/).

    Migrations are applied here, before the first update, in a helper thread
    (see `upgrade_sync`), so every front end starts on the current schema.
    """
    url = settings.effective_database_url
    if migrate:
        upgrade_sync(url)
    return Database.from_url(url)


def build_deps(settings: Settings, searcher: HybridSearcher | None = None,
               knowledge: KnowledgeBase | None = None, db: Database | None = None) -> Deps:
    knowledge = knowledge or KnowledgeBase.load(settings.knowledge_dir)
    searcher = searcher or build_searcher(settings, knowledge)
    db = db or build_database(settings)
    return Deps(settings=settings, knowledge=knowledge, searcher=AsyncSearcher(searcher),
                router=build_router(), dialogs=DbDialogStore(db.sessions), db=db)


WARM_UP_QUESTION = "Nghị quyết 05 có những mô hình trọng tâm nào?"


async def warm_up(deps: Deps) -> None:
    """Load now what a first answer would otherwise load while a resident waits:
    the model and the index (one real search, through the search worker) and a
    database connection. Nothing is recorded."""
    await deps.searcher.search(WARM_UP_QUESTION, k=deps.settings.top_k)
    if deps.db is not None:
        async with deps.db.sessions() as session:
            await session.execute(text("SELECT 1"))


async def close_deps(deps: Deps) -> None:
    """Shutdown: stop the search worker, close the database engine."""
    await deps.searcher.close()
    if deps.db is not None:
        await deps.db.dispose()
