"""Alembic environment for civicbot, async-aware.

Two ways in:
* from the bot (`Database.upgrade`, `civicbot db upgrade`): a connection is
  passed in ``config.attributes["connection"]`` and used as is;
* from the plain ``alembic -c bot/storage/alembic.ini ...`` command: an
  async engine is built from ``sqlalchemy.url`` or, when unset, from the
  bot's settings, and driven with asyncio.run.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from bot.storage.models import Base
import bot.storage.broadcast_models  # noqa: E402,F401  (its tables join Base.metadata)
import bot.storage.quiz_models  # noqa: E402,F401  (its tables join Base.metadata)

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things in place; batch mode copies the table.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _run_with(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.settings import load_settings

    return load_settings().effective_database_url


async def _run_async() -> None:
    from bot.storage.database import create_engine

    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_with)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


given = config.attributes.get("connection")
if context.is_offline_mode():
    run_offline()
elif given is not None:
    _run_with(given)
else:
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    asyncio.run(_run_async())
