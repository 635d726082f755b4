"""`civicbot quiz export|report`: the question bank and participation by chi đoàn or ward."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from bot.cli.common import setup_logging, with_database
from bot.settings import get_settings

quiz_app = typer.Typer(
    help="Ngân hàng câu hỏi trắc nghiệm cho đoàn viên (tiêu chí và 11 mô hình).",
    no_args_is_help=True,
)


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

    setup_logging()
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
    from bot.storage.quiz_report import report_rows, write_report
    from knowledge.base import KnowledgeBase
    from knowledge.quiz_schedule import QuestionBank

    setup_logging()
    bank = QuestionBank.build(KnowledgeBase.load(get_settings().knowledge_dir))

    async def job(session):
        return await report_rows(session, group.value, bank, top)

    rows = with_database(job)
    if output is None:
        write_report(rows, fmt.value, sys.stdout)
        return
    # A BOM lets spreadsheet programs read the Vietnamese in a CSV file correctly.
    with output.open("w", encoding="utf-8-sig" if fmt is ReportFormat.csv else "utf-8", newline="") as out:
        write_report(rows, fmt.value, out)
    typer.echo(f"Đã ghi báo cáo ({len(rows)} dòng) vào {output}.", err=True)



def register(app: typer.Typer) -> None:
    app.add_typer(quiz_app, name="quiz")
