"""The `civicbot` command line."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from bot.broadcast import cli as broadcast_cli
from bot.settings import get_settings
from bot.storage import cli as storage_cli

app = typer.Typer(
    help="civicbot: hỏi đáp Nghị quyết 05 của Hải Phòng trên Telegram, Zalo và dòng lệnh.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _progress_bar(total: int):
    from tqdm import tqdm

    bar = tqdm(total=total, desc="Lập chỉ mục", unit="đoạn", file=sys.stderr)
    return bar.update


@app.command()
def ask(
    question: Annotated[Optional[str], typer.Argument(help="Câu hỏi; bỏ trống để đọc từng dòng từ stdin.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Mỗi câu trả lời là một dòng JSON.")] = False,
    top_k: Annotated[int, typer.Option("--top-k", min=1, max=20, help="Số đoạn nguồn trả về.")] = 5,
) -> None:
    """Answer questions from the indexed text (one line per answer)."""
    from bot.app import build_searcher
    from handlers.qa import compose, problem_with
    from vntext.normalize import clean_input

    _setup_logging()
    searcher = build_searcher(get_settings(), progress=_progress_bar)
    lines = [question] if question is not None else (line.rstrip("\n") for line in sys.stdin)
    for raw in lines:
        cleaned = clean_input(raw, max_chars=100_000)
        problem = problem_with(cleaned)
        if problem:
            payload = {"question": raw, "confident": False, "answer": problem, "sources": []}
        else:
            result = searcher.search(cleaned, k=top_k)
            answer = compose(result)
            payload = {
                "question": raw,
                "confident": answer.confident,
                "answer": answer.text,
                "sources": [
                    {"text": h.passage.text, "section": h.passage.section, "score": round(h.score, 4)}
                    for h in result.hits
                ],
            }
        if as_json:
            print(json.dumps(payload, ensure_ascii=False), flush=True)
        else:
            print(payload["answer"].replace("\n", " ⏎ "), flush=True)


@app.command()
def index() -> None:
    """Rebuild the search index from the knowledge folder (with a progress bar)."""
    from bot.app import build_searcher

    _setup_logging(verbose=True)
    settings = get_settings()
    searcher = build_searcher(settings, rebuild=True, progress=_progress_bar)
    manifest = searcher.dense_manifest
    typer.echo(
        f"Đã lập chỉ mục {len(searcher.corpus.passages)} đoạn văn ({manifest.units} mục) "
        f"bằng mô hình {manifest.model} vào {settings.index_dir}."
    )


@app.command()
def chat() -> None:
    """Talk to the bot in the terminal, through the same handlers as the messengers."""
    from bot.app import build_deps, close_deps
    from bot.pipeline import Pipeline
    from bot.platforms.console import run_console

    _setup_logging()
    deps = build_deps(get_settings())      # applies database migrations too

    async def session() -> None:
        try:
            await run_console(Pipeline(deps))
        finally:
            await close_deps(deps)

    asyncio.run(session())


@app.command()
def run() -> None:
    """Start the bot: messengers that are configured, else the terminal chat."""
    from bot.eventloop import run_event_loop
    from bot.runner import serve

    _setup_logging(verbose=True)
    run_event_loop(serve(get_settings()))


# Storage commands: `db upgrade`, `export`, `stats`, `admin add|remove|list`.
storage_cli.register(app)
# Officials' announcements: `broadcast send|list|status|cancel|worker`.
broadcast_cli.register(app)


quiz_app = typer.Typer(
    help="Ngân hàng câu hỏi trắc nghiệm cho đoàn viên (tiêu chí và 11 mô hình).",
    no_args_is_help=True,
)
app.add_typer(quiz_app, name="quiz")


@quiz_app.command("export")
def quiz_export(
    as_json: Annotated[bool, typer.Option("--json", help="In toàn bộ ngân hàng câu hỏi dưới dạng mảng JSON.")] = False,
    curated: Annotated[Optional[Path], typer.Option(
        "--curated", help="Tệp câu hỏi soạn tay cần kiểm tra (mặc định: knowledge/data/quiz_curated.yaml).",
    )] = None,
) -> None:
    """Build the quiz bank (generated + curated, validated); print it as JSON or a summary."""
    from knowledge.base import KnowledgeBase
    from knowledge.quiz import CURATED_FILE, TOPIC_TITLES, QuizBankError, bank_as_json, build_bank, by_topic

    _setup_logging()
    knowledge = KnowledgeBase.load(get_settings().knowledge_dir)
    try:
        bank = build_bank(knowledge, curated_path=curated or CURATED_FILE)
    except QuizBankError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(bank_as_json(bank), ensure_ascii=False, indent=2), flush=True)
        return
    for topic, questions in by_topic(bank).items():
        typer.echo(f"{topic}: {len(questions)} câu — {TOPIC_TITLES.get(topic, topic)}")
    typer.echo(f"Tổng cộng {len(bank)} câu hỏi hợp lệ. Dùng --json để in toàn bộ.")


class ReportGroup(str, Enum):
    chi_doan = "chi_doan"
    ward = "ward"


class ReportFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


@quiz_app.command("report")
def quiz_report(
    group: Annotated[ReportGroup, typer.Option("--group", "-g", help="chi_doan hoặc ward.")] = ReportGroup.chi_doan,
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="csv hoặc jsonl.")] = ReportFormat.csv,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Tệp ghi ra; mặc định stdout.")] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=50, help="Số câu sai nhiều nhất cho mỗi đơn vị.")] = 5,
) -> None:
    """Quiz participation and mastery by chi đoàn or ward, per criteria group, and the most missed questions."""
    from bot.storage.cli import _with_database
    from bot.storage.quiz_report import report_rows, write_report
    from knowledge.base import KnowledgeBase
    from knowledge.quiz_schedule import QuestionBank

    _setup_logging()
    bank = QuestionBank.build(KnowledgeBase.load(get_settings().knowledge_dir))

    async def job(session):
        return await report_rows(session, group.value, bank, top)

    rows = _with_database(job)
    if output is None:
        write_report(rows, fmt.value, sys.stdout)
        return
    # A BOM lets spreadsheet programs read the Vietnamese in a CSV file correctly.
    with output.open("w", encoding="utf-8-sig" if fmt is ReportFormat.csv else "utf-8", newline="") as out:
        write_report(rows, fmt.value, out)
    typer.echo(f"Đã ghi báo cáo ({len(rows)} dòng) vào {output}.", err=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
