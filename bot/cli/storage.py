"""`civicbot db upgrade|export|stats`: the schema and the participation data.

Each command brings the schema up to date first (idempotent), so they work
on a fresh install, and opens one engine for the command's duration.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from bot.cli.common import migrate_or_fail, with_database
from bot.settings import get_settings

DEFAULT_SECRET = "change-me"


class ExportKind(str, Enum):
    feedback = "feedback"
    questions = "questions"      # the whole question inbox
    unanswered = "unanswered"    # the inbox questions nobody has handled yet
    ratings = "ratings"


class ExportFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


db_app = typer.Typer(help="Database schema: apply the migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations up to the newest revision."""
    from bot.storage import head_revision

    migrate_or_fail(get_settings().effective_database_url)
    typer.echo(f"Cơ sở dữ liệu đã ở phiên bản mới nhất ({head_revision()}).")


def export(
    kind: Annotated[ExportKind, typer.Argument(help="feedback, questions, unanswered hoặc ratings.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv hoặc jsonl.")] = ExportFormat.csv,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Tệp ghi ra; mặc định stdout.")] = None,
) -> None:
    """Export feedback, the question inbox (all, or only unhandled) or ratings, with pseudonymous user ids."""
    from bot.storage.export import export_rows, write_rows

    settings = get_settings()
    secret = settings.pseudonym_secret.get_secret_value()
    if secret == DEFAULT_SECRET:
        typer.echo("Cảnh báo: CIVICBOT_PSEUDONYM_SECRET chưa được đặt; mã ẩn danh đang dùng khóa mặc định, "
                   "không đủ an toàn khi chia sẻ dữ liệu.", err=True)

    async def job(session):
        return await export_rows(session, kind.value, secret)

    rows = with_database(job)
    if output is None:
        write_rows(rows, kind.value, fmt.value, sys.stdout)
    else:
        # A BOM lets spreadsheet programs read the Vietnamese in a CSV file correctly.
        encoding = "utf-8-sig" if fmt is ExportFormat.csv else "utf-8"
        with output.open("w", encoding=encoding, newline="") as out:
            write_rows(rows, kind.value, fmt.value, out)
        typer.echo(f"Đã xuất {len(rows)} dòng vào {output}.", err=True)


def stats(
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Số ngày gần nhất theo ngày.")] = 14,
    as_json: Annotated[bool, typer.Option("--json", help="In dạng JSON.")] = False,
) -> None:
    """Counts of questions, ratings and feedback by topic, ward and day."""
    from bot.messages import utcnow
    from bot.storage.stats import collect, format_stats

    async def job(session):
        return await collect(session, utcnow(), days=days)

    result = with_database(job)
    if as_json:
        typer.echo(json.dumps(asdict(result), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_stats(result))


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("export")(export)
    app.command("stats")(stats)
