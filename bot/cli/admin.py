"""`civicbot admin add|remove|list|login-link`: who may use the official-only commands and
the web console, with which role and wards."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from bot.cli.common import fail, with_database
from bot.settings import get_settings


class Platform(str, Enum):
    telegram = "telegram"
    zalo = "zalo"
    console = "console"


class Role(str, Enum):
    official = "official"
    admin = "admin"
    viewer = "viewer"


admin_app = typer.Typer(help="Officials: accounts allowed to use the official-only commands.", no_args_is_help=True)


def _resolve_wards(given: list[str]) -> list[str]:
    from bot.documents import DocumentError, resolve_ward

    known = get_settings().wards
    try:
        return list(dict.fromkeys(resolve_ward(w, known) for w in given))
    except DocumentError as exc:
        raise fail(str(exc)) from None


@admin_app.command("add")
def admin_add(
    platform: Annotated[Platform, typer.Argument(help="telegram, zalo hoặc console.")],
    user_id: Annotated[str, typer.Argument(help="Mã người dùng trên nền tảng đó.")],
    role: Annotated[Role, typer.Option("--role", help="official (theo phường/xã), admin (toàn quyền) hoặc viewer (chỉ xem).")] = Role.official,
    ward: Annotated[Optional[list[str]], typer.Option("--ward", help="Phường/xã phụ trách (lặp lại để chọn nhiều).")] = None,
    note: Annotated[Optional[str], typer.Option("--note", help="Ghi chú, ví dụ họ tên, đơn vị.")] = None,
) -> None:
    """Grant an account a role (and, for official or viewer, its wards)."""
    from bot.messages import utcnow
    from bot.storage import console_repo, repo

    user_id = user_id.strip()
    if not user_id or len(user_id) > 64:
        raise fail("Mã người dùng không hợp lệ.")
    wards = _resolve_wards(ward or [])

    async def job(session):
        added = await repo.add_official(session, platform.value, user_id, role.value, note, utcnow())
        officer = await console_repo.officer_by_account(session, platform.value, user_id)
        if ward is not None or added:
            await console_repo.set_wards(session, officer.id, wards)
        await console_repo.audit(session, "cli", "admin_add", utcnow(), f"{platform.value}:{user_id}",
                                 f"{role.value}; {', '.join(wards) or 'mọi phường/xã'}")
        return added

    added = with_database(job)
    verb = "Đã thêm" if added else "Đã cập nhật"
    scope = f", phụ trách: {', '.join(wards)}" if wards else ""
    typer.echo(f"{verb} {platform.value}:{user_id} với vai trò {role.value}{scope}.")
    if role is Role.official and not wards and ward is not None:
        typer.echo("Lưu ý: cán bộ chưa được giao phường/xã nào sẽ không thấy số liệu của phường/xã nào.")


@admin_app.command("remove")
def admin_remove(
    platform: Annotated[Platform, typer.Argument()],
    user_id: Annotated[str, typer.Argument()],
) -> None:
    """Take the official role away from an account (its console sessions end at once)."""
    from bot.messages import utcnow
    from bot.storage import console_repo, repo

    async def job(session):
        removed = await repo.remove_official(session, platform.value, user_id.strip())
        if removed:
            await console_repo.audit(session, "cli", "admin_remove", utcnow(), f"{platform.value}:{user_id.strip()}")
        return removed

    if not with_database(job):
        raise fail(f"{platform.value}:{user_id} không có trong danh sách cán bộ.")
    typer.echo(f"Đã gỡ quyền cán bộ của {platform.value}:{user_id}.")


@admin_app.command("list")
def admin_list() -> None:
    """List the accounts with a role: platform, id, role, note, wards."""
    from bot.storage import console_repo

    async def job(session):
        return [(o.platform, o.user_id, o.role, o.note or "", "phụ trách: " + ", ".join(o.wards) if o.wards else "")
                for o in await console_repo.list_officers(session)]

    rows = with_database(job)
    if not rows:
        typer.echo("Chưa có tài khoản cán bộ nào. Thêm bằng: civicbot admin add PLATFORM USER_ID")
        return
    for row in rows:
        typer.echo("\t".join(part for part in row if part))


@admin_app.command("login-link")
def login_link(
    platform: Annotated[Platform, typer.Argument(help="telegram, zalo hoặc console.")],
    user_id: Annotated[str, typer.Argument(help="Mã người dùng của cán bộ.")],
) -> None:
    """Print a one-time sign-in link to the web console for an official."""
    from bot.messages import utcnow
    from bot.storage import console_repo
    from handlers.officials import login_url

    settings = get_settings()

    async def job(session):
        officer = await console_repo.officer_by_account(session, platform.value, user_id.strip())
        if officer is None:
            return None
        token = await console_repo.create_login_link(session, officer.id, utcnow(), settings.console.login_link_minutes)
        await console_repo.audit(session, "cli", "login_link", utcnow(), officer.actor)
        return token

    token = with_database(job)
    if token is None:
        raise fail(f"{platform.value}:{user_id} không có trong danh sách cán bộ (thêm bằng civicbot admin add).")
    typer.echo(login_url(settings.console.public_url, token))
    typer.echo(f"(chỉ dùng một lần, hết hạn sau {settings.console.login_link_minutes} phút)", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
