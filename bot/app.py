"""App factory: builds the router and the dependencies, once, for every front end."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.deps import Deps
from bot.router import Router
from bot.settings import Settings
from bot.storage import Database, DbDialogStore, upgrade_sync
from handlers import broadcast, browse, feedback, leaderboard, officials, privacy, qa, quiz, ratings, start, subscription
from knowledge.base import KnowledgeBase
from knowledge.enumerations import ITEM_PREFIX
from retrieval.batching import AsyncSearcher
from retrieval.embedder import Embedder, SentenceTransformerEmbedder
from retrieval.searcher import HybridSearcher
from retrieval.service import ProgressFactory, open_searcher

log = logging.getLogger(__name__)


def build_router() -> Router:
    router = Router()
    # Commands, in the order residents see them in /help and the command menu.
    router.command("start", start.start, "Bắt đầu")
    router.command("help", start.show_help, "Hướng dẫn sử dụng")
    router.command("mohinh", browse.list_models, "Xem 11 mô hình trọng tâm")
    router.command("tieuchi", browse.browse_criteria, "Xem bộ tiêu chí")
    router.command("gopy", feedback.start_feedback, "Gửi góp ý về Nghị quyết 05 và các mô hình")
    router.command("dangky", subscription.start_subscription, "Đăng ký nhận tin theo phường/xã")
    router.command("quiz", quiz.start_quiz, "Đố vui 10 câu về bộ tiêu chí và 11 mô hình")
    router.command("bangxephang", leaderboard.show_leaderboard, "Bảng xếp hạng đố vui")
    # /huy closes whatever dialog is open (commands come before dialogs in dispatch),
    # and with none open it stops announcements.
    router.command("huy", subscription.cancel, "Hủy thao tác đang làm dở hoặc ngừng nhận tin")
    router.command("quyenriengtu", privacy.show_privacy, "Mình lưu gì về bạn và để làm gì")
    router.command("xoadulieu", privacy.ask_delete, "Xóa toàn bộ dữ liệu của bạn")
    # Officials only; the handler checks the officials table itself.
    router.command("thongke", officials.show_stats, "Thống kê (dành cho cán bộ)", hidden=True)
    router.command("thongbao", broadcast.start_broadcast, "Gửi thông báo tới người đăng ký (dành cho cán bộ)",
                   hidden=True)
    # Buttons, by the prefix of their data.
    router.callback(browse.MODEL_PREFIX, browse.on_model_button)
    router.callback(browse.CRITERIA_PREFIX, browse.on_criteria_button)
    router.callback("p", qa.show_passage)
    router.callback(ITEM_PREFIX, qa.show_list_item)
    router.callback(qa.FORWARD_PREFIX, qa.forward_to_officials)
    router.callback(start.COMMAND_PREFIX, start.run_command)
    router.callback(ratings.RATE_PREFIX, ratings.on_rate)
    router.callback(feedback.PREFIX, feedback.on_button)
    router.callback(subscription.PREFIX, subscription.on_button)
    router.callback(privacy.PREFIX, privacy.on_button)
    router.callback(officials.PREFIX, officials.on_button)
    # Quiz answers: numbered options on Zalo/terminal, PollAnswers translated by the Telegram adapter.
    router.callback(quiz.ANSWER_PREFIX, quiz.on_answer)
    router.callback(quiz.PREFIX, quiz.on_button)
    router.callback(leaderboard.PREFIX, leaderboard.on_button)
    router.callback(broadcast.PREFIX, broadcast.on_button)
    router.callback(broadcast.CANCEL_PREFIX, broadcast.on_cancel_button)
    # Free text while a multi-step dialog is open goes to that dialog.
    router.dialog(feedback.DIALOG, feedback.on_text)
    router.dialog(subscription.DIALOG, subscription.on_text)
    router.dialog(broadcast.DIALOG, broadcast.on_text)
    # Anything else is a question.
    router.text(qa.answer_question)
    return router


def build_embedder(settings: Settings) -> Embedder:
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
    return open_searcher(
        knowledge, embedder or build_embedder(settings), settings.index_dir, rebuild, progress
    )


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
    deps = Deps(settings=settings, knowledge=knowledge, searcher=AsyncSearcher(searcher),
                router=build_router(), dialogs=DbDialogStore(db.sessions), db=db)
    deps.conversation = qa.build_conversation(deps)
    return deps


async def close_deps(deps: Deps) -> None:
    """Shutdown: stop the search worker, close the database engine."""
    await deps.searcher.close()
    if deps.db is not None:
        await deps.db.dispose()
