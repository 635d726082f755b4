"""Quiz leaderboards on 100,000 stored answers: query latency on SQLite and PostgreSQL.

    .venv/bin/python bench/leaderboard.py [--answers 100000] [--members 2000] [--repeats 30]
                                          [--postgres URL | --no-postgres] [--explain]

For each backend a fresh database (a temporary SQLite file; a schema of its
own on the PostgreSQL server, dropped afterwards) is migrated with the real
migrations, then filled with members spread over wards and chi đoàn (some
without a /dangky subscription), rounds of 10 questions finished over the
last eight weeks (a few open or void ones as well) and one answer row per
question. Then each leaderboard query `/bangxephang` can run (members, chi
đoàn, wards × this week, all time) is timed through `bot.storage.quiz_repo`,
exactly as the handler calls it, in a fresh transaction per call, after
one warm-up; figures are p50 and max over ``--repeats`` calls. The
officials' report (`civicbot quiz report`) is timed once per grouping.

The target is 100 ms per leaderboard query; leaderboards read the rounds
(score kept on the round), never the answers, so they scale with rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from bot.settings import DEFAULT_WARDS, Settings  # noqa: E402
from bot.storage import Database, quiz_repo  # noqa: E402
from bot.storage.models import Resident  # noqa: E402
from bot.storage.quiz_models import DONE, OPEN, VOID, QuizAnswer, QuizRound  # noqa: E402
from bot.storage.quiz_report import report_rows  # noqa: E402
from knowledge.base import KnowledgeBase  # noqa: E402
from knowledge.quiz_schedule import QuestionBank  # noqa: E402

DEFAULT_PG = os.environ.get("CIVICBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
ROUND_SIZE = 10
NOW = datetime(2025, 11, 26, 3, 0, tzinfo=timezone.utc)        # a Wednesday, 10:00 in Việt Nam
WARDS = DEFAULT_WARDS + [f"Xã Thử Nghiệm {i}" for i in range(1, 16)]           # 30 wards
QUERIES = [(kind, period) for kind in quiz_repo.BOARDS for period in ("week", "all")]


def build_rows(bank: QuestionBank, answers: int, members: int, seed: int = 5):
    """Residents, rounds and answers as lists of dicts for bulk inserts."""
    rng = random.Random(seed)
    questions = bank.questions
    residents, rounds, answer_rows = [], [], []
    branches = [(ward, f"Chi đoàn {kind} số {n}") for ward in WARDS
                for kind, n in [("khu dân cư", i) for i in range(1, 6)] + [("trường học", 1), ("cơ quan", 1)]]
    for rid in range(1, members + 1):
        ward, chi_doan = rng.choice(branches)
        if rng.random() < 0.1:
            ward, chi_doan = None, None           # no /dangky
        elif rng.random() < 0.1:
            chi_doan = None                       # resident, not a member of a branch
        residents.append(dict(id=rid, platform="telegram", platform_user_id=str(10_000_000 + rid),
                              display_name=f"Đoàn viên {rid}", ward=ward, chi_doan=chi_doan,
                              created_at=NOW, updated_at=NOW))
    skill = {rid: rng.uniform(0.3, 0.95) for rid in range(1, members + 1)}
    activity = [rng.paretovariate(1.2) for _ in range(members)]     # a few play a lot
    number = {rid: 0 for rid in range(1, members + 1)}
    round_id = 0
    while len(answer_rows) < answers:
        rid = rng.choices(range(1, members + 1), weights=activity)[0]
        round_id += 1
        number[rid] += 1
        finished = NOW - timedelta(seconds=rng.uniform(0, 56 * 86400))
        started = finished - timedelta(seconds=rng.uniform(60, 600))
        status = rng.choices([DONE, OPEN, VOID], weights=[96, 3, 1])[0]
        picked = rng.sample(questions, ROUND_SIZE)
        settled = ROUND_SIZE if status == DONE else (rng.randrange(1, ROUND_SIZE) if status == OPEN else 0)
        score = 0
        for position, q in enumerate(picked[:settled]):
            right = rng.random() < skill[rid]
            score += right
            answer_rows.append(dict(
                round_id=round_id, resident_id=rid, position=position, question_id=q.id, topic=q.topic,
                criteria_group=bank.group(q), chosen=q.answer if right else (q.answer + 1) % 4, correct=right,
                outcome="answered", time_taken_ms=rng.randrange(2000, 60000),
                answered_at=started + timedelta(seconds=30 * position)))
        rounds.append(dict(
            id=round_id, resident_id=rid, platform="telegram", token=secrets.token_urlsafe(6), menu_token=None,
            topic="mixed", number=number[rid], question_ids=[q.id for q in picked], size=ROUND_SIZE,
            position=settled, score=score, status=status, started_at=started, asked_at=finished,
            finished_at=finished if status != OPEN else None))
    return residents, rounds, answer_rows[:answers]


async def fill(db: Database, residents, rounds, answers) -> float:
    started = time.perf_counter()
    async with db.sessions.begin() as session:
        for table, rows in ((Resident, residents), (QuizRound, rounds), (QuizAnswer, answers)):
            for i in range(0, len(rows), 5000):
                await session.execute(insert(table), rows[i:i + 5000])
        if db.dialect == "postgresql":
            await session.execute(text("SELECT setval(pg_get_serial_sequence('residents', 'id'), "
                                       "(SELECT max(id) FROM residents))"))
    async with db.engine.connect() as conn:       # fresh statistics, as autovacuum would have by now
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    return time.perf_counter() - started


async def time_queries(db: Database, members: int, repeats: int, min_rounds: int, limit: int) -> dict:
    rng = random.Random(7)
    figures = {}
    for kind, period in QUERIES:
        since = quiz_repo.week_start(NOW) if period == "week" else None
        samples = []
        for attempt in range(repeats + 1):
            me = rng.randrange(1, members + 1)
            t0 = time.perf_counter()
            async with db.sessions.begin() as session:
                board = await quiz_repo.board(session, kind, since=since, min_rounds=min_rounds, limit=limit, me=me)
            if attempt:                       # the first call warms caches and the pool
                samples.append((time.perf_counter() - t0) * 1000)
        figures[(kind, period)] = (statistics.median(samples), max(samples), board.ranked)
    return figures


async def explain(db: Database) -> None:
    since = quiz_repo.week_start(NOW)
    sql = ("SELECT resident_id, count(*), avg(CAST(score AS FLOAT) * 10.0 / size) FROM quiz_rounds "
           "WHERE status = 'done' AND finished_at >= :since GROUP BY resident_id")
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    value = since.replace(tzinfo=None) if db.dialect == "sqlite" else since
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text(prefix + sql), {"since": value})).all()
    print("    plan (weekly members): " + " | ".join(str(r[-1]) for r in rows))


async def run_backend(name: str, url: str, rows, bank: QuestionBank, args) -> None:
    db = Database.from_url(url)
    try:
        await db.upgrade()
        seconds = await fill(db, *rows)
        async with db.sessions() as session:
            counted = {
                "answers": await session.scalar(select(func.count()).select_from(QuizAnswer)),
                "rounds": await session.scalar(select(func.count()).select_from(QuizRound)),
                "done rounds": await session.scalar(select(func.count()).select_from(QuizRound)
                                                    .where(QuizRound.status == DONE)),
                "members": await session.scalar(select(func.count()).select_from(Resident)),
            }
        print(f"\n{name}: " + ", ".join(f"{v:,} {k}" for k, v in counted.items()) + f" (loaded in {seconds:.1f} s)")
        figures = await time_queries(db, len(rows[0]), args.repeats, args.min_rounds, args.limit)
        print(f"  {'leaderboard':<22}{'p50 ms':>9}{'max ms':>9}{'ranked':>9}")
        for (kind, period), (p50, worst, ranked) in figures.items():
            flag = "" if worst <= 100 else "  > 100 ms!"
            print(f"  {kind + ' / ' + period:<22}{p50:>9.2f}{worst:>9.2f}{ranked:>9}{flag}")
        for grouping in ("chi_doan", "ward"):
            t0 = time.perf_counter()
            async with db.sessions() as session:
                report = await report_rows(session, grouping, bank)
            print(f"  report by {grouping:<9} {(time.perf_counter() - t0) * 1000:9.1f} ms ({len(report)} rows)")
        if args.explain:
            await explain(db)
    finally:
        await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--min-rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL URL (a schema is created and dropped)")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print the weekly member board's query plan")
    args = parser.parse_args()

    bank = QuestionBank.build(KnowledgeBase.load(Settings(_env_file=None).knowledge_dir))
    rows = build_rows(bank, args.answers, args.members)
    print(f"Data: {len(rows[2]):,} answers in {len(rows[1]):,} rounds of {ROUND_SIZE}, {len(rows[0]):,} members, "
          f"{len(WARDS)} wards, {len(WARDS) * 7} chi đoàn; rounds over 8 weeks; "
          f"min {args.min_rounds} rounds, top {args.limit}; {args.repeats} timed calls per query.")

    with tempfile.TemporaryDirectory() as tmp:
        await run_backend("SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", rows, bank, args)

    if not args.no_postgres:
        schema = f"civicbot_bench_{secrets.token_hex(4)}"
        url = f"{args.postgres}{'&' if '?' in args.postgres else '?'}search_path={schema}"
        try:
            await run_backend("PostgreSQL", url, rows, bank, args)
        except OSError as exc:
            print(f"\nPostgreSQL: unavailable at {args.postgres} ({exc})")
        finally:
            admin = Database.from_url(args.postgres)
            try:
                async with admin.engine.begin() as conn:
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            except OSError:
                pass
            finally:
                await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
