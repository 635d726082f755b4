"""Small SQL helpers shared by the stores."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Date, cast, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

# Residents live in Việt Nam (UTC+7, no daylight saving): "a day" in stats is theirs.
LOCAL_UTC_OFFSET = timedelta(hours=7)


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_for(session: AsyncSession):
    """The dialect's ``insert`` (with ON CONFLICT support) for ``session``'s backend."""
    return postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert


def local_day(session: AsyncSession, column: ColumnElement[datetime]) -> ColumnElement:
    """The calendar day (Việt Nam time) of a UTC timestamp column, as ``YYYY-MM-DD`` text."""
    hours = int(LOCAL_UTC_OFFSET.total_seconds() // 3600)
    if dialect_of(session) == "postgresql":
        shifted = column.op("AT TIME ZONE")(literal_column("'UTC'")) + literal_column(f"interval '{hours} hours'")
        return func.to_char(cast(shifted, Date), "YYYY-MM-DD")
    return func.date(column, f"+{hours} hours")
