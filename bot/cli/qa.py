"""`civicbot ask|index|chat|run`: questions, the search index, the terminal chat and the bot."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Optional

import typer

from bot.cli.common import progress_bar, setup_logging
from bot.settings import get_settings


def register(app: typer.Typer) -> None:
    app.command()(ask)
    app.command()(index)
    app.command()(chat)
    app.command()(run)


def ask(
    question: Annotated[Optional[str], typer.Argument(help="Câu hỏi; bỏ trống để đọc từng dòng từ stdin.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Mỗi câu trả lời là một dòng JSON.")] = False,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=20, help="Số đoạn nguồn trả về.")] = 5,
) -> None:
    """Answer questions the way the chat does (one line per answer; each line on its own, no follow-ups)."""
    from bot.app import build_router
    from bot.search import build_searcher
    from handlers.conversation import Conversation
    from retrieval.live import LiveKnowledge

    setup_logging()
    settings = get_settings()
    searcher = build_searcher(settings, progress=progress_bar)
    help_lines = [c.help_line for c in build_router().public_commands()]
    conversation = Conversation(LiveKnowledge(searcher.live), help_lines, settings.referral_line)

    async def search(text: str):
        return searcher.search(text, k=top_k)

    async def answer_all() -> None:
        lines = [question] if question is not None else (line.rstrip("\n") for line in sys.stdin)
        for raw in lines:
            response = await conversation.respond(raw, search)
            hits = response.result.hits if response.result is not None and response.kind != "small_talk" else []
            payload = {
                "question": raw,
                "confident": response.confident,
                "answer": response.text,
                "sources": [
                    {"text": h.passage.text, "section": h.passage.section, "score": round(h.score, 4)}
                    for h in hits
                ],
                # answer, list, follow_up, decline, small_talk, bot_help, notice or problem
                "kind": response.kind,
            }
            if as_json:
                print(json.dumps(payload, ensure_ascii=False), flush=True)
            else:
                print(payload["answer"].replace("\n", " ⏎ "), flush=True)

    asyncio.run(answer_all())


def index() -> None:
    """Rebuild the search index from the knowledge folder (with a progress bar)."""
    from bot.search import build_searcher

    setup_logging(verbose=True)
    settings = get_settings()
    searcher = build_searcher(settings, rebuild=True, progress=progress_bar)
    manifest = searcher.dense_manifest
    typer.echo(
        f"Đã lập chỉ mục {len(searcher.corpus.passages)} đoạn văn ({manifest.units} mục) "
        f"bằng mô hình {manifest.model} vào {settings.index_dir}."
    )


def chat() -> None:
    """Talk to the bot in the terminal, through the same handlers as the messengers."""
    from bot.app import build_deps, close_deps, warm_up
    from bot.pipeline import Pipeline
    from bot.platforms.console import run_console

    setup_logging()
    deps = build_deps(get_settings())      # applies database migrations too

    async def session() -> None:
        pipeline = Pipeline(deps)
        try:
            await warm_up(deps, pipeline)   # the first answer as fast as the next
            await run_console(pipeline)
        finally:
            await close_deps(deps)

    asyncio.run(session())


def run() -> None:
    """Start the bot: messengers that are configured, else the terminal chat."""
    from bot.eventloop import run_event_loop
    from bot.runner import serve

    setup_logging(verbose=True)
    run_event_loop(serve(get_settings()))
