"""`civicbot docs add|list|show|replace|withdraw|announce|sync`: knowledge that grows.

Whoever can run these on the server holds the database and the data
directory, as with `civicbot broadcast`. Running bots pick up every change
within seconds (retrieval/live.py); nothing needs a restart.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from bot.cli.common import fail, migrate_or_fail, setup_logging
from bot.settings import get_settings

docs_app = typer.Typer(
    help="Văn bản làm nguồn trả lời: thêm tệp PDF, Word, Markdown, văn bản thô; thay phiên bản; rút; "
         "đăng thông báo thành tri thức. Bot đang chạy tự cập nhật trong vài giây.",
    no_args_is_help=True,
)

_VN_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def parse_date(text: str | None) -> date | None:
    """2026-01-05 or 05/01/2026 (Vietnamese order: day/month/year)."""
    if not text:
        return None
    text = text.strip()
    match = _VN_DATE.match(text)
    try:
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"Không đọc được ngày «{text}» (ví dụ đúng: 2026-01-05 hoặc 05/01/2026).") from None


def _run(job):
    """Migrate, open the database, run ``job(db)``, close; a refused change is one line on stderr."""
    from bot.documents import DocumentError
    from bot.storage import Database

    settings = get_settings()
    migrate_or_fail(settings.effective_database_url)

    async def main():
        db = Database.from_url(settings.effective_database_url)
        try:
            return await job(db, settings)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except DocumentError as exc:
        raise fail(str(exc)) from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise fail(f"Không đọc được tệp {path}: {exc.strerror or exc}") from None


def _describe(info) -> str:
    parts = [f"{info.code} v{info.version}", info.status, f"«{info.title}»"]
    if info.issued:
        parts.append(f"ngày {info.issued:%d/%m/%Y}")
    parts.append(info.ward or "toàn thành phố")
    if info.announcement:
        parts.append("thông báo")
    parts.append(f"{info.passages} đoạn")
    return " · ".join(parts)


def _report(change, verb: str) -> None:
    typer.echo(f"{verb}: {_describe(change.document)}")
    if change.index is not None:
        typer.echo(f"Chỉ mục thế hệ {change.index.generation}: {change.index.documents} văn bản đang dùng; "
                   f"lập chỉ mục mới {', '.join(change.index.embedded) or 'không có'} ({change.index.seconds:.1f} s). "
                   "Bot đang chạy sẽ dùng trong vài giây.")


@docs_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="Tệp .pdf, .docx, .md hoặc .txt.")],
    title: Annotated[Optional[str], typer.Option("--title", help="Tên ngắn dùng khi trích dẫn.")] = None,
    issued: Annotated[Optional[str], typer.Option("--issued", help="Ngày ban hành: 2026-01-05 hoặc 05/01/2026.")] = None,
    ward: Annotated[Optional[str], typer.Option("--ward", help="Văn bản riêng của phường/xã này; bỏ trống: toàn thành phố.")] = None,
) -> None:
    """Add a document as knowledge: quoted from now on, by `civicbot ask` and running bots."""
    from bot.documents import add_document

    setup_logging()
    data, when = _read(file), parse_date(issued)
    change = _run(lambda db, settings: add_document(db, settings, data, file.name, title=title, issued=when,
                                                    ward=ward, added_by="cli"))
    _report(change, "Đã thêm")


@docs_app.command("replace")
def replace(
    code: Annotated[str, typer.Argument(help="Mã văn bản, ví dụ vb3 (hoặc 3).")],
    file: Annotated[Path, typer.Argument(help="Tệp của phiên bản mới.")],
    title: Annotated[Optional[str], typer.Option("--title")] = None,
    issued: Annotated[Optional[str], typer.Option("--issued", help="Ngày ban hành phiên bản mới.")] = None,
    ward: Annotated[Optional[str], typer.Option("--ward", help="Bỏ trống: giữ như phiên bản cũ.")] = None,
) -> None:
    """A new version of a document: quoted from now on; the old one is kept for the record, never quoted."""
    from bot.documents import replace_document

    setup_logging()
    data, when = _read(file), parse_date(issued)
    change = _run(lambda db, settings: replace_document(db, settings, code, data, file.name, title=title,
                                                        issued=when, ward=ward, added_by="cli"))
    _report(change, "Đã thay bằng phiên bản mới")


@docs_app.command("withdraw")
def withdraw(
    code: Annotated[str, typer.Argument(help="Mã văn bản, ví dụ vb3.")],
    note: Annotated[Optional[str], typer.Option("--note", help="Lý do rút.")] = None,
) -> None:
    """Stop quoting a document (it stays in the registry)."""
    from bot.documents import withdraw_document

    setup_logging()
    change = _run(lambda db, settings: withdraw_document(db, settings, code, by="cli", note=note))
    _report(change, "Đã rút")


@docs_app.command("announce")
def announce(
    text: Annotated[Optional[str], typer.Option("--text", help="Nội dung thông báo.")] = None,
    broadcast: Annotated[Optional[int], typer.Option("--broadcast", help="Đăng nội dung của thông báo đã gửi #ID.")] = None,
    on: Annotated[Optional[str], typer.Option("--date", help="Ngày thông báo; bỏ trống: hôm nay.")] = None,
    ward: Annotated[Optional[str], typer.Option("--ward", help="Thông báo của phường/xã này.")] = None,
) -> None:
    """Publish an announcement (its text, or a sent broadcast's) as dated knowledge residents can ask about."""
    from bot.documents import publish_announcement, publish_broadcast

    setup_logging()
    if (text is None) == (broadcast is None):
        raise fail("Cần đúng một trong hai: --text NỘI_DUNG hoặc --broadcast ID.")
    if broadcast is not None:
        change = _run(lambda db, settings: publish_broadcast(db, settings, broadcast, added_by="cli"))
    else:
        when = parse_date(on) or datetime.now().date()
        change = _run(lambda db, settings: publish_announcement(db, settings, text, issued=when, ward=ward,
                                                                added_by="cli"))
    _report(change, "Đã đăng thông báo")


@docs_app.command("list")
def list_(
    show_all: Annotated[bool, typer.Option("--all", help="Cả phiên bản cũ và văn bản đã rút.")] = False,
) -> None:
    """Documents added as knowledge (active ones; --all for every version)."""
    from bot.documents import list_documents

    rows = _run(lambda db, settings: list_documents(db, include_history=show_all))
    if not rows:
        typer.echo("Chưa có văn bản nào được thêm (ngoài hai văn bản gốc). Thêm bằng: civicbot docs add TỆP")
    for info in rows:
        typer.echo(_describe(info))


@docs_app.command("show")
def show(code: Annotated[str, typer.Argument(help="Mã văn bản, ví dụ vb3.")]) -> None:
    """Every version of a document: file, hash, date, ward, status, who added it."""
    from bot.documents import document_versions

    versions = _run(lambda db, settings: document_versions(db, code))
    if not versions:
        raise fail(f"Không có văn bản {code}.")
    for info in versions:
        typer.echo(_describe(info))
        typer.echo(f"  tệp {info.filename} · sha256 {info.file_sha256[:16]}… · thêm bởi {info.added_by} "
                   f"lúc {info.added_at:%Y-%m-%d %H:%M} UTC" + (f" · ghi chú: {info.note}" if info.note else ""))


@docs_app.command("sync")
def sync() -> None:
    """Publish the registry's active documents to the index again (after a crash or a restored backup)."""
    from bot.documents import sync_index

    setup_logging()
    report = _run(lambda db, settings: sync_index(db, settings))
    typer.echo(f"Chỉ mục thế hệ {report.generation}: {report.documents} văn bản; lập chỉ mục mới "
               f"{', '.join(report.embedded) or 'không có'} ({report.seconds:.1f} s).")


def register(app: typer.Typer) -> None:
    app.add_typer(docs_app, name="docs")
