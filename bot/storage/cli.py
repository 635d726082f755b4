"""`civicbot db|export|stats|admin`: storage commands, registered in bot/cli.py.

Each command brings the schema up to date first (idempotent), so they work
on a fresh install, and opens one engine for the command's duration.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional, TypeVar

import typer

from bot.settings import get_settings

T = TypeVar("T")

DEFAULT_SECRET = "change-me"


class Platform(str, Enum):
    telegram = "telegram"
    zalo = "zalo"
    console = "console"


class ExportKind(str, Enum):
    feedback = "feedback"
    unanswered = "unanswered"
    ratings = "ratings"


class ExportFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


class Role(str, Enum):
    official = "official"
    admin = "admin"


db_app = typer.Typer(help="Database schema: apply the migrations.", no_args_is_help=True)
admin_app = typer.Typer(help="Officials: accounts allowed to use the official-only commands.", no_args_is_help=True)


def _with_database(job: Callable[..., Awaitable[T]]) -> T:
    """Migrate, then run ``job(session)`` in one transaction and dispose the engine."""
    from bot.storage import Database, upgrade_sync

    url = get_settings().effective_database_url
    try:
        upgrade_sync(url)
    except Exception as exc:  # an unreachable server: one clear line, not a traceback
        raise typer.Exit(_fail(f"Không kết nối được cơ sở dữ liệu: {exc.__class__.__name__}: {exc}"))

    async def run() -> T:
        db = Database.from_url(url)
        try:
            async with db.sessions.begin() as session:
                return await job(session)
        finally:
            await db.dispose()

    return asyncio.run(run())


def _fail(message: str) -> int:
    typer.echo(message, err=True)
    return 1


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations up to the newest revision."""
    from bot.storage import head_revision, upgrade_sync

    url = get_settings().effective_database_url
    try:
        upgrade_sync(url)
    except Exception as exc:
        raise typer.Exit(_fail(f"Không kết nối được cơ sở dữ liệu: {exc.__class__.__name__}: {exc}"))
    typer.echo(f"Cơ sở dữ liệu đã ở phiên bản mới nhất ({head_revision()}).")


def export(
    kind: Annotated[ExportKind, typer.Argument(help="feedback, unanswered hoặc ratings.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv hoặc jsonl.")] = ExportFormat.csv,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Tệp ghi ra; mặc định stdout.")] = None,
) -> None:
    """Export feedback, unanswered questions or ratings, with pseudonymous user ids."""
    from bot.storage.export import export_rows, write_rows

    settings = get_settings()
    secret = settings.pseudonym_secret.get_secret_value()
    if secret == DEFAULT_SECRET:
        typer.echo("Cảnh báo: CIVICBOT_PSEUDONYM_SECRET chưa được đặt; mã ẩn danh đang dùng khóa mặc định, "
                   "không đủ an toàn khi chia sẻ dữ liệu.", err=True)

    async def job(session):
        return await export_rows(session, kind.value, secret)

    rows = _with_database(job)
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

    result = _with_database(job)
    if as_json:
        typer.echo(json.dumps(asdict(result), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_stats(result))


@admin_app.command("add")
def admin_add(
    platform: Annotated[Platform, typer.Argument(help="telegram, zalo hoặc console.")],
    user_id: Annotated[str, typer.Argument(help="Mã người dùng trên nền tảng đó.")],
    role: Annotated[Role, typer.Option("--role", help="official hoặc admin.")] = Role.official,
    note: Annotated[Optional[str], typer.Option("--note", help="Ghi chú, ví dụ họ tên, đơn vị.")] = None,
) -> None:
    """Grant an account the official role."""
    from bot.messages import utcnow
    from bot.storage import repo

    user_id = user_id.strip()
    if not user_id or len(user_id) > 64:
        raise typer.Exit(_fail("Mã người dùng không hợp lệ."))

    async def job(session):
        return await repo.add_official(session, platform.value, user_id, role.value, note, utcnow())

    added = _with_database(job)
    verb = "Đã thêm" if added else "Đã cập nhật"
    typer.echo(f"{verb} {platform.value}:{user_id} với vai trò {role.value}.")


@admin_app.command("remove")
def admin_remove(
    platform: Annotated[Platform, typer.Argument()],
    user_id: Annotated[str, typer.Argument()],
) -> None:
    """Take the official role away from an account."""
    from bot.storage import repo

    async def job(session):
        return await repo.remove_official(session, platform.value, user_id.strip())

    if not _with_database(job):
        raise typer.Exit(_fail(f"{platform.value}:{user_id} không có trong danh sách cán bộ."))
    typer.echo(f"Đã gỡ quyền cán bộ của {platform.value}:{user_id}.")


@admin_app.command("list")
def admin_list() -> None:
    """List the accounts with an official role."""
    from bot.storage import repo

    async def job(session):
        return [(o.platform, o.platform_user_id, o.role, o.note or "") for o in await repo.list_officials(session)]

    rows = _with_database(job)
    if not rows:
        typer.echo("Chưa có tài khoản cán bộ nào. Thêm bằng: civicbot admin add PLATFORM USER_ID")
        return
    for platform, user_id, role, note in rows:
        typer.echo("\t".join(part for part in (platform, user_id, role, note)))


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("export")(export)
    app.command("stats")(stats)
    app.add_typer(admin_app, name="admin")
