"""When to send: "gửi lúc 14:30 25/12", "14h30", presets; Việt Nam time (UTC+7).

Officials think in local time; the database keeps UTC. Việt Nam has no
daylight saving, so a fixed offset is exact.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone

from bot.storage.sql import LOCAL_UTC_OFFSET
from vntext.normalize import fold

VN = timezone(LOCAL_UTC_OFFSET)
MAX_AHEAD = timedelta(days=60)
PRESETS = {
    "now": "Gửi ngay",
    "h1": "Sau 1 giờ",
    "m8": "8:00 sáng mai",
}

_WHEN = re.compile(
    r"^(?:gui\s+)?(?:luc\s+)?(?P<h>\d{1,2})\s*(?:[:h]\s*(?P<m>\d{1,2})?)?\s*"
    r"(?:(?:ngay\s+)?(?P<d>\d{1,2})\s*[/.-]\s*(?P<mo>\d{1,2})(?:\s*[/.-]\s*(?P<y>\d{2,4}))?)?$"
)


def preset_time(code: str, now: datetime) -> datetime | None:
    """UTC time for a preset button code (see PRESETS)."""
    if code == "now":
        return now
    if code == "h1":
        return now + timedelta(hours=1)
    if code == "m8":
        tomorrow = (now.astimezone(VN) + timedelta(days=1)).date()
        return datetime.combine(tomorrow, time(8, 0), VN).astimezone(timezone.utc)
    return None


def parse_when(text: str, now: datetime) -> datetime | None:
    """UTC time for "gửi lúc HH:MM dd/mm[/yyyy]", "HH:MM", "14h", "14h30 25/12"; None if unreadable.

    Without a date: today, or tomorrow when that time has passed. Without a
    year: this year, or next year when the date has passed.
    """
    match = _WHEN.match(" ".join(fold(text).split()))
    if not match:
        return None
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if hour > 23 or minute > 59:
        return None
    local_now = now.astimezone(VN)
    try:
        if match["d"]:
            year = int(match["y"]) if match["y"] else local_now.year
            year += 2000 if year < 100 else 0
            moment = datetime(year, int(match["mo"]), int(match["d"]), hour, minute, tzinfo=VN)
            if not match["y"] and moment < local_now - timedelta(minutes=1):
                moment = moment.replace(year=year + 1)
        else:
            moment = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if moment < local_now:
                moment += timedelta(days=1)
    except ValueError:            # 31/02 and the like
        return None
    return moment.astimezone(timezone.utc)


def parse_iso(value: str) -> datetime:
    """--at for the CLI: ISO 8601; without an offset it is Việt Nam time."""
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VN)
    return moment.astimezone(timezone.utc)
