"""`civicbot admin add|remove|list`: who may use the official-only commands."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from bot.cli.common import fail, with_database


class Platform(str, Enum):
    telegram = "telegram"
    zalo = "zalo"
    console = "console"


class Role(str, Enum):
    official = "official"
    admin = "admin"


admin_app = typer.Typer(help="Officials: accounts allowed to use the official-only commands.", no_args_is_help=True)


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
        raise fail("Mã người dùng không hợp lệ.")

    async def job(session):
        return await repo.add_official(session, platform.value, user_id, role.value, note, utcnow())

    added = with_database(job)
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

    if not with_database(job):
        raise fail(f"{platform.value}:{user_id} không có trong danh sách cán bộ.")
    typer.echo(f"Đã gỡ quyền cán bộ của {platform.value}:{user_id}.")


@admin_app.command("list")
def admin_list() -> None:
    """List the accounts with an official role."""
    from bot.storage import repo

    async def job(session):
        return [(o.platform, o.platform_user_id, o.role, o.note or "") for o in await repo.list_officials(session)]

    rows = with_database(job)
    if not rows:
        typer.echo("Chưa có tài khoản cán bộ nào. Thêm bằng: civicbot admin add PLATFORM USER_ID")
        return
    for platform, user_id, role, note in rows:
        typer.echo("\t".join(part for part in (platform, user_id, role, note)))


def register(app: typer.Typer) -> None:
    app.add_typer(admin_app, name="admin")
