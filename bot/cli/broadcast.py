"""`civicbot broadcast send|list|status|cancel|worker`.

No official role is checked here: whoever can run this command on the
server already holds the database and the tokens. In chat the same actions
(/thongbao) are for officials only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from enum import Enum
from typing import Annotated, Optional

import typer

from bot.cli.common import fail, migrate_or_fail, setup_logging, with_database
from bot.settings import get_settings

broadcast_app = typer.Typer(
    help="Thông báo của cán bộ tới người đăng ký nhận tin. Quyền dùng lệnh này = quyền truy cập máy chủ "
         "(không kiểm tra vai trò cán bộ như trong chat).",
    no_args_is_help=True,
)


ALL_PLATFORMS = "all"


def _platforms(given: list[str], settings) -> tuple[str, ...]:
    """Registry names from --platform values; "all" (or nothing): every configured messenger."""
    from bot.channels import registry

    known = registry.names()
    for value in given:
        if value != ALL_PLATFORMS and value not in known:
            raise fail(f"Không rõ nền tảng «{value}». Chọn một trong: {', '.join(known)} hoặc {ALL_PLATFORMS}.")
    if not given or ALL_PLATFORMS in given:
        return registry.broadcast_targets(settings)
    return tuple(name for name in known if name in given)


class GroupChoice(str, Enum):
    cu_dan = "cu_dan"
    doan_vien = "doan_vien"
    can_bo = "can_bo"


def _resolve_wards(given: list[str], known: list[str]) -> list[str]:
    from vntext.normalize import fold

    chosen = []
    for ward in given:
        exact = [w for w in known if fold(w) == fold(ward)]
        partial = [w for w in known if fold(ward) in fold(w)]
        match = exact or (partial if len(partial) == 1 else [])
        if not match:
            raise fail(f"Không rõ phường/xã «{ward}». Các giá trị hợp lệ (CIVICBOT_WARDS): {', '.join(known)}")
        chosen.append(match[0])
    return list(dict.fromkeys(chosen))


@broadcast_app.command("send")
def send(
    text: Annotated[str, typer.Option("--text", help="Nội dung thông báo.")],
    ward: Annotated[Optional[list[str]], typer.Option("--ward", help="Phường/xã (lặp lại để chọn nhiều); bỏ trống: tất cả.")] = None,
    group: Annotated[Optional[list[GroupChoice]], typer.Option("--group", help="cu_dan, doan_vien, can_bo (lặp lại); bỏ trống: tất cả.")] = None,
    platform: Annotated[Optional[list[str]], typer.Option("--platform", help="Tên nền tảng (lặp lại được); bỏ trống hoặc «all»: mọi nền tảng đã cấu hình.")] = None,
    at: Annotated[Optional[str], typer.Option("--at", help="Thời điểm gửi, ISO 8601 (không ghi múi giờ = giờ Việt Nam); bỏ trống: ngay.")] = None,
    photo: Annotated[Optional[str], typer.Option("--photo", help="Đường link ảnh (http/https).")] = None,
    report_to: Annotated[Optional[str], typer.Option("--report-to", help="Gửi tiến độ và báo cáo tới PLATFORM:CHAT_ID.")] = None,
) -> None:
    """Create a broadcast (sent by the worker in `civicbot run` or `civicbot broadcast worker`)."""
    from bot.broadcast import outbox, texts
    from bot.broadcast.schedule import MAX_AHEAD, parse_iso
    from bot.messages import utcnow
    from vntext.normalize import clean_input

    settings = get_settings()
    body = clean_input(text, max_chars=100_000).strip()
    if not body:
        raise fail("Nội dung thông báo trống.")
    if len(body) > settings.broadcast.max_text_chars:
        raise fail(f"Nội dung dài {len(body)} ký tự, tối đa {settings.broadcast.max_text_chars}.")
    if photo and (not photo.startswith(("http://", "https://")) or len(photo) > 500):
        raise fail("Đường link ảnh phải bắt đầu bằng http:// hoặc https:// (tối đa 500 ký tự).")
    report_platform = report_chat = None
    if report_to:
        from bot.channels import registry

        report_platform, _, report_chat = report_to.partition(":")
        if report_platform not in registry.names() or not report_chat:
            raise fail(f"--report-to phải có dạng NỀN_TẢNG:CHAT_ID, NỀN_TẢNG là {' hoặc '.join(registry.names())}.")
    now = utcnow()
    try:
        when = parse_iso(at) if at else now
    except ValueError:
        raise fail(f"Không đọc được thời điểm «{at}» (ví dụ đúng: 2026-01-05T08:00).") from None
    if when - now > MAX_AHEAD:
        raise fail("Thời điểm gửi xa quá (hơn 60 ngày).")
    platforms = _platforms(platform or [], settings)
    segment = outbox.Segment(tuple(_resolve_wards(ward or [], settings.wards)),
                             tuple(g.value for g in (group or [])), platforms)

    async def job(session):
        broadcast = await outbox.create_broadcast(
            session, text=body, photo_url=photo, segment=segment, created_by="cli", scheduled_at=when,
            now=now, report_platform=report_platform, report_chat_id=report_chat)
        return broadcast.id, broadcast.scheduled_at, await outbox.count_recipients(session, segment)

    broadcast_id, scheduled_at, count = with_database(job)
    typer.echo(f"Đã tạo thông báo #{broadcast_id}, gửi {texts.when_text(scheduled_at, now)}; "
               f"số người nhận hiện tại: {texts.number(count)}.")
    typer.echo(texts.describe_segment(segment))


@broadcast_app.command("list")
def list_(limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 20) -> None:
    """Recent broadcasts: id, status, counts, first line."""
    from bot.broadcast import outbox, texts

    async def job(session):
        rows = []
        for b in await outbox.list_broadcasts(session, limit):
            c = await outbox.counts(session, b.id)
            rows.append((b.id, b.status, c.sent, b.total, texts.local_time(b.scheduled_at),
                         (b.text.splitlines() or [""])[0][:60]))
        return rows

    rows = with_database(job)
    if not rows:
        typer.echo("Chưa có thông báo nào.")
    for broadcast_id, status, sent, total, when, first in rows:
        typer.echo(f"#{broadcast_id}\t{status}\t{sent}/{total}\t{when}\t{first}")


@broadcast_app.command("status")
def status(
    broadcast_id: Annotated[int, typer.Argument(help="Số thông báo.")],
    as_json: Annotated[bool, typer.Option("--json", help="In dạng JSON.")] = False,
) -> None:
    """Counts of one broadcast: total, pending, sending, sent, failed, blocked, out of window."""
    from dataclasses import asdict

    from bot.broadcast import outbox, texts

    async def job(session):
        b = await outbox.get_broadcast(session, broadcast_id)
        if b is None:
            return None
        c = await outbox.counts(session, broadcast_id)
        return {
            "id": b.id, "status": b.status, "segment": b.segment, "created_by": b.created_by,
            "scheduled_at": b.scheduled_at.isoformat(),
            "started_at": b.started_at.isoformat() if b.started_at else None,
            "finished_at": b.finished_at.isoformat() if b.finished_at else None,
            "total": b.total, **asdict(c),
            "seconds": (b.finished_at - b.started_at).total_seconds() if b.finished_at and b.started_at else None,
        }

    info = with_database(job)
    if info is None:
        raise fail(f"Không có thông báo #{broadcast_id}.")
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    typer.echo(f"Thông báo #{info['id']}: {texts.STATUS_LABELS.get(info['status'], info['status'])}")
    for key, label in (("total", "Tổng người nhận"), ("pending", "Chờ gửi"), ("sending", "Đang gửi"),
                       ("sent", "Đã gửi"), ("failed", "Lỗi"), ("blocked", "Đã chặn bot"),
                       ("out_of_window", "Ngoài 7 ngày Zalo"), ("cancelled", "Không gửi vì đã hủy"),
                       ("possible_duplicates", "Có thể đã nhận 2 lần (lỗi 5xx/hết giờ sau khi gửi)")):
        typer.echo(f"  {label}: {info[key]}")
    if info["seconds"] is not None:
        typer.echo(f"  Thời gian: {texts.duration(info['seconds'])}")


@broadcast_app.command("cancel")
def cancel(broadcast_id: Annotated[int, typer.Argument(help="Số thông báo.")]) -> None:
    """Cancel a scheduled or running broadcast: once this returns, no new message of it starts
    (on PostgreSQL it waits for the few already in flight; the report counts them)."""
    from bot.broadcast import outbox
    from bot.messages import utcnow

    async def job(session):
        return await outbox.cancel_broadcast(session, broadcast_id, "cli", utcnow())

    result = with_database(job)
    if result == outbox.NOT_FOUND:
        raise fail(f"Không có thông báo #{broadcast_id}.")
    if result == outbox.ALREADY_OVER:
        raise fail(f"Thông báo #{broadcast_id} đã gửi xong hoặc đã hủy trước đó.")
    typer.echo(f"Đã hủy thông báo #{broadcast_id}.")


@broadcast_app.command("worker")
def worker(
    platform: Annotated[Optional[list[str]], typer.Option("--platform", help="Chỉ gửi qua nền tảng này (lặp lại được).")] = None,
    concurrency: Annotated[Optional[int], typer.Option("--concurrency", min=1, max=256, help="Số tin gửi song song.")] = None,
    worker_id: Annotated[Optional[str], typer.Option("--worker-id", help="Mã cố định: khởi động lại sẽ lấy lại ngay các tin đang dở.")] = None,
    exit_when_idle: Annotated[bool, typer.Option("--exit-when-idle", help="Thoát khi không còn thông báo nào đến hạn hoặc đang gửi.")] = False,
) -> None:
    """Run an outbox worker in this process (extra processes or machines; PostgreSQL for more than one)."""
    from bot.broadcast.service import open_worker
    setup_logging(verbose=True)
    settings = get_settings()
    if concurrency:
        settings = settings.model_copy(update={"broadcast": settings.broadcast.model_copy(update={"concurrency": concurrency})})
    migrate_or_fail(settings.effective_database_url)
    wanted = _platforms(platform, settings) if platform else None

    async def main() -> None:
        try:
            async with open_worker(settings, platforms=wanted, worker_id=worker_id) as w:
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    with contextlib.suppress(NotImplementedError, RuntimeError):
                        loop.add_signal_handler(sig, w.stop)
                await w.run(until_idle=exit_when_idle)
        except RuntimeError as exc:
            raise fail(f"Không chạy được worker: {exc}") from None

    from bot.eventloop import run_event_loop

    logging.getLogger(__name__).info("starting broadcast worker")
    run_event_loop(main())


def register(app: typer.Typer) -> None:
    app.add_typer(broadcast_app, name="broadcast")
