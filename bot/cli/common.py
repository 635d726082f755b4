"""What every `civicbot` subcommand shares: logging, one-line failures, a database job."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from bot.settings import get_settings

T = TypeVar("T")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def fail(message: str) -> typer.Exit:
    """Print ``message`` on stderr; the caller raises the returned exit (status 1)."""
    typer.echo(message, err=True)
    return typer.Exit(1)


def progress_bar(total: int):
    from tqdm import tqdm

    bar = tqdm(total=total, desc="Lập chỉ mục", unit="đoạn", file=sys.stderr)
    return bar.update


def migrate_or_fail(url: str) -> None:
    """Bring the schema up to date; an unreachable server is one clear line, not a traceback."""
    from bot.storage import upgrade_sync

    try:
        upgrade_sync(url)
    except Exception as exc:
        raise fail(f"Không kết nối được cơ sở dữ liệu: {exc.__class__.__name__}: {exc}") from None


def with_database(job: Callable[..., Awaitable[T]]) -> T:
    """Migrate, then run ``job(session)`` in one transaction and dispose the engine."""
    from bot.storage import Database

    url = get_settings().effective_database_url
    migrate_or_fail(url)

    async def run() -> T:
        db = Database.from_url(url)
        try:
            async with db.sessions.begin() as session:
                return await job(session)
        finally:
            await db.dispose()

    return asyncio.run(run())
