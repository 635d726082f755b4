"""The officials' console at scale: overview and question inbox render times.

    .venv/bin/python bench/console.py [--db sqlite|postgres|both] [--questions 1000000]
        [--inbox 200000] [--feedback 100000] [--subscribers 100000] [--requests 40]

Seeds (PostgreSQL with COPY, SQLite with executemany) ``--questions`` logged
questions (answer_log, spread over a year, 15 % declined, a third rated),
``--inbox`` of them in the question inbox (from 5,000 distinct wordings, so
there are groups), ``--feedback`` feedback messages and ``--subscribers``
residents with a subscription, across the city's wards. Then, through HTTP
against the real console (create_app, signed in with a one-time link), times
``--requests`` renders of the overview (30 days) and the inbox (last 90 days, the
default, and all time), as an admin
(every ward) and as an official of one ward, and prints p50/p95.

Targets (issue 11): p95 <= 300 ms on PostgreSQL, <= 1 s on SQLite. The first
inbox listing after seeding gives every question its group key (once; timed
separately).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "civicbot_bench_console"
NOW = datetime(2026, 11, 20, 5, 0, tzinfo=timezone.utc)
WORDS = ("thủ tục hồ sơ giấy phép xây dựng nhà ở đất đai hộ khẩu cư trú khai sinh kết hôn chứng thực "
         "học phí trường mầm non y tế bảo hiểm điện nước rác thải đường ngõ đèn chiếu sáng chợ việc làm "
         "đoàn viên tiêu chí mô hình nghị quyết phường xã thời gian địa điểm lệ phí bao lâu ở đâu").split()


def wordings(n: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.sample(WORDS, rng.randint(5, 9))) + "?" for _ in range(n)]


def rows(args, wards: list[str]):
    """Column tuples for each table, in insertion order (ids from 1)."""
    rng = random.Random(11)
    year = 365 * 24 * 3600
    residents = [(i, "telegram" if i % 3 else "zalo", f"u{i}", None, wards[i % len(wards)], f"Chi đoàn {i % 40}",
                  NOW, NOW) for i in range(1, args.subscribers + 1)]
    subscriptions = [(i, i, platform, uid, ward, True, NOW, NOW) for i, platform, uid, _, ward, *_ in residents]
    groups = [(i, ("cu_dan", "doan_vien", "can_bo")[i % 3]) for i in range(1, args.subscribers + 1)]

    def when() -> datetime:
        return NOW - timedelta(seconds=rng.random() * year)

    answers = []
    for i in range(1, args.questions + 1):
        r = residents[rng.randrange(len(residents))]
        confident = rng.random() > 0.15
        rating = rng.choice((1, 1, -1)) if rng.random() < 0.33 else None
        answers.append((i, r[0], r[1], "q", f"nq05-p{rng.randrange(300)}" if confident else None, confident,
                        0.8 if confident else 0.2, r[4], when(), rating, None))
    texts = wordings(5000, rng)
    inbox = []
    for i in range(1, args.inbox + 1):
        r = residents[rng.randrange(len(residents))]
        inbox.append((i, r[0], None, r[1], r[2], r[4], texts[int(rng.paretovariate(1.2)) % len(texts)], None, 0.2,
                      "asked" if rng.random() < 0.2 else "declined", "new" if rng.random() < 0.7 else "answered",
                      when(), None, None, None, None, None))
    feedback = []
    for i in range(1, args.feedback + 1):
        r = residents[rng.randrange(len(residents))]
        topic = rng.randrange(20)
        feedback.append((i, r[0], r[1], f"tieuchi:{topic}", f"Tiêu chí {topic}", r[4], "Góp ý " + rng.choice(texts),
                         when()))
    return {
        "residents": (["id", "platform", "platform_user_id", "display_name", "ward", "chi_doan", "created_at",
                       "updated_at"], residents),
        "subscriptions": (["id", "resident_id", "platform", "chat_id", "ward", "active", "created_at", "updated_at"],
                          subscriptions),
        "subscription_groups": (["subscription_id", "group_code"], groups),
        "answer_log": (["id", "resident_id", "platform", "question", "top_passage_id", "confident", "confidence",
                        "ward", "created_at", "rating", "rated_at"], answers),
        "question_inbox": (["id", "resident_id", "answer_id", "platform", "chat_id", "ward", "question",
                            "nearest_passage_id", "confidence", "origin", "status", "created_at", "asked_at", "note",
                            "answer_text", "answered_by", "answered_at"], inbox),
        "feedback": (["id", "resident_id", "platform", "topic", "topic_label", "ward", "text", "created_at"], feedback),
    }


async def seed(db, args, wards) -> float:
    from sqlalchemy import text

    started = time.perf_counter()
    tables = rows(args, wards)
    if db.dialect == "postgresql":
        async with db.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            for name, (columns, records) in tables.items():
                await raw.copy_records_to_table(name, records=records, columns=columns, schema_name=PG_SCHEMA)
                if "id" in columns:
                    await raw.execute(f"SELECT setval(pg_get_serial_sequence('{PG_SCHEMA}.{name}', 'id'), "
                                      f"{len(records) + 1}, false)")
            await raw.execute("VACUUM ANALYZE")         # as autovacuum does after bulk inserts
    else:
        async with db.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            for name, (columns, records) in tables.items():
                marks = ", ".join("?" * len(columns))
                await raw.executemany(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})",
                                      [tuple(v.isoformat(sep=" ") if isinstance(v, datetime) else v for v in r)
                                       for r in records])
            await raw.commit()
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    return time.perf_counter() - started


async def analyze(db) -> None:
    """Fresh planner statistics after the first listing filled question_groups (autovacuum would)."""
    from sqlalchemy import text

    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()


async def measure(url: str, args) -> dict[str, object]:
    import aiohttp
    from aiohttp.test_utils import TestServer

    from bot.settings import ConsoleSettings, Settings
    from bot.storage import Database, console_repo, repo
    from console.app import ConsoleDeps, create_app

    data = Path(tempfile.mkdtemp(prefix="console-bench-"))
    settings = Settings(_env_file=None, data_dir=data, database_url=url,
                        console=ConsoleSettings(secure_cookie=False))
    if url.startswith("postgresql") and not args.reuse:
        admin = Database.from_url(PG_URL)
        async with admin.engine.begin() as conn:
            from sqlalchemy import text
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE'))
        await admin.dispose()
    db = Database.from_url(url)
    await db.upgrade()
    seconds = 0.0 if args.reuse else await seed(db, args, settings.wards)
    print(f"  seeded in {seconds:.0f} s" if not args.reuse else "  reusing the seeded data", flush=True)
    async with db.sessions.begin() as session:
        await repo.add_official(session, "telegram", "admin", "admin", None, NOW)
        await repo.add_official(session, "telegram", "ward", "official", None, NOW)
        ward_officer = await console_repo.officer_by_account(session, "telegram", "ward")
        await console_repo.set_wards(session, ward_officer.id, [settings.wards[1]])

    # Every render recounts (no overview cache): the figures are the cold cost.
    server = TestServer(create_app(ConsoleDeps(db, settings, clock=lambda: NOW, overview_cache_seconds=0)))
    await server.start_server()
    results: dict[str, object] = {"seed_seconds": round(seconds, 1)}
    try:
        for who in ("admin", "ward"):
            async with db.sessions.begin() as session:
                officer = await console_repo.officer_by_account(session, "telegram", who)
                token = await console_repo.create_login_link(session, officer.id, NOW, 10)
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as client:
                async with client.post(server.make_url(f"/console/login/{token}")) as response:
                    assert response.status == 200 and str(response.url).endswith("/console/"), response.status
                for name, path in (("inbox", "/console/inbox"), ("inbox_all", "/console/inbox?days=0"),
                                   ("overview", "/console/?days=30")):
                    times = []
                    for i in range(args.requests + 1):
                        started = time.perf_counter()
                        async with client.get(server.make_url(path)) as response:
                            body = await response.text()
                            assert response.status == 200, (response.status, body[:300])
                        elapsed = (time.perf_counter() - started) * 1000
                        if i == 0:
                            results[f"{name}_{who}_first_ms"] = round(elapsed)   # the inbox assigns group keys
                            await analyze(db)
                        else:
                            times.append(elapsed)
                    times.sort()
                    p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
                    results[f"{name}_{who}_p50_ms"] = round(statistics.median(times))
                    results[f"{name}_{who}_p95_ms"] = round(p95)
                    print(f"  {name:9} as {who:5}: p50 {statistics.median(times):6.0f} ms   p95 {p95:6.0f} ms"
                          f"   (first {results[f'{name}_{who}_first_ms']} ms)", flush=True)
    finally:
        await server.close()
        await db.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--questions", type=int, default=1_000_000)
    parser.add_argument("--inbox", type=int, default=200_000)
    parser.add_argument("--feedback", type=int, default=100_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--sqlite-file", type=Path, help="the SQLite database (default: a new temporary file)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the data seeded by an earlier run (--sqlite-file, or the PostgreSQL schema)")
    args = parser.parse_args()
    print(f"{args.questions:,} questions ({args.inbox:,} in the inbox), {args.feedback:,} feedback, "
          f"{args.subscribers:,} subscribers; {args.requests} requests per page")
    for backend in (("sqlite", "postgres") if args.db == "both" else (args.db,)):
        if backend == "sqlite":
            path = args.sqlite_file or Path(tempfile.mkdtemp(prefix="console-bench-")) / "bench.db"
            url = f"sqlite+aiosqlite:///{path}"
        else:
            url = f"{PG_URL}?search_path={PG_SCHEMA}"
        print(backend, flush=True)
        asyncio.run(measure(url, args))


if __name__ == "__main__":
    main()
