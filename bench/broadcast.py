"""Broadcast throughput: 10,000 subscribers, a fake Bot API that answers 5% of
sendMessage calls with 429 (retry_after 1 s) and 2% with 500.

    .venv/bin/python bench/broadcast.py [--phase limited|unlimited|both]
        [--limited-messages 3000] [--messages 10000] [--db sqlite|postgres|both] [--json]

(a) limited: Telegram's limits on (30 msg/s per bot, 1 msg/s per chat): the
    sustained delivery rate must be >= 95% of 30 msg/s. 10,000 messages at
    30/s take 5.5 minutes, so by default this phase sends 3,000 (100 s);
    --limited-messages 10000 runs the full set.
(b) unlimited: limits lifted: pipeline throughput (deliveries/s from the
    start of the broadcast to the last delivery, retries included) must be
    >= 500 msg/s, on SQLite and on PostgreSQL.

Every run checks zero lost and zero duplicates (per chat, at the fake
server) and that every outbox row ends "sent".

The fake server runs in a child process (as Telegram is elsewhere), so
its CPU is not charged to the worker; the worker is the real one
(`open_worker`, as `civicbot broadcast worker` builds it) in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TELEGRAM_LIMIT = 30.0


# ------------------------------------------------------------------ the fake server, in a child process

def _serve(conn, p429: float, p500: float) -> None:
    from tests.broadcast.helpers import RandomFaultTelegramAPI

    async def main() -> None:
        api = RandomFaultTelegramAPI(rate_limited=p429, server_errors=p500, retry_after=1)
        await api.start()
        conn.send(("ready", api.token, api.base_url))
        loop = asyncio.get_running_loop()
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "stats":
                ok = [(c.chat_id, c.at) for c in api.calls if c.method == "sendMessage" and c.ok]
                statuses = Counter(c.status for c in api.calls if c.method == "sendMessage")
                conn.send((ok, dict(statuses)))
                api.calls.clear()
                api._messages.clear()
            elif command == "stop":
                await api.close()
                conn.send("bye")
                return

    asyncio.run(main())


class FakeServer:
    def __init__(self, p429: float = 0.05, p500: float = 0.02):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, p429, p500), daemon=True)
        self.proc.start()
        _, self.token, self.base_url = self.conn.recv()

    def stats(self):
        self.conn.send("stats")
        return self.conn.recv()

    def close(self) -> None:
        self.conn.send("stop")
        self.conn.recv()
        self.proc.join(5)


# ------------------------------------------------------------------ one run

async def run_once(server: FakeServer, db_kind: str, messages: int, limited: bool, tmp: Path) -> dict:
    from pydantic import SecretStr

    from bot.broadcast import outbox
    from bot.broadcast.service import open_worker
    from bot.messages import utcnow
    from bot.settings import BroadcastSettings, Settings, TelegramSettings
    from bot.storage import Database
    from bot.storage.broadcast_models import BroadcastRecipient
    from tests.broadcast.helpers import add_subscribers
    from tests.storage.storage_helpers import PG_URL, pg_admin, with_schema

    schema = None
    if db_kind == "postgres":
        schema = f"civicbot_bench_{secrets.token_hex(4)}"
        url = with_schema(PG_URL, schema)
    else:
        url = f"sqlite+aiosqlite:///{tmp / f'bench-{secrets.token_hex(3)}.db'}"
    db = Database.from_url(url)
    await db.upgrade()
    try:
        chats = await add_subscribers(db, [str(10_000_000 + i) for i in range(messages)])
        async with db.sessions.begin() as s:
            await outbox.create_broadcast(s, text="Thông báo thử tải: lịch tiếp công dân tuần này.",
                                          segment=outbox.Segment(platforms=("telegram",)), created_by="bench",
                                          scheduled_at=utcnow(), now=utcnow())
        knobs = {"telegram_per_second": TELEGRAM_LIMIT, "concurrency": 8, "batch_size": 20} if limited else \
                {"telegram_per_second": 0, "concurrency": 48, "batch_size": 100}
        settings = Settings(_env_file=None, data_dir=tmp, database_url=url, telegram=TelegramSettings(
            token=SecretStr(server.token), base_url=server.base_url),
            broadcast=BroadcastSettings(poll_seconds=0.2, **knobs))
        started = time.monotonic()
        async with open_worker(settings, platforms=["telegram"]) as worker:
            await worker.run(until_idle=True)
        wall = time.monotonic() - started
        ok, statuses = server.stats()
        async with db.sessions() as s:
            from sqlalchemy import func, select

            rows = dict((await s.execute(select(BroadcastRecipient.status, func.count())
                                         .group_by(BroadcastRecipient.status))).all())
    finally:
        await db.dispose()
        if schema:
            await pg_admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    per_chat = Counter(chat for chat, _ in ok)
    lost = len(set(chats) - set(per_chat))
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    times = sorted(at for _, at in ok)
    span = times[-1] - started
    t99 = times[int(0.99 * len(times)) - 1] - started
    first_to_last = times[-1] - times[0]
    # Steady rate: deliveries per whole second, ignoring the first and last seconds and the retry tail.
    seconds = Counter(int(t - times[0]) for t in times)
    middle = [seconds[i] for i in range(1, int(first_to_last) - 1)] if first_to_last > 3 else []
    attempts = sum(statuses.values())
    return {
        "db": db_kind, "phase": "limited" if limited else "unlimited", "messages": messages,
        "delivered": len(ok), "lost": lost, "duplicates": duplicates,
        "outbox": rows, "answers": statuses,
        "wall_s": round(wall, 2), "first_to_last_s": round(first_to_last, 2),
        "rate_overall": round(len(ok) / span, 1),              # start of broadcast → last delivery
        "rate_99pct": round(0.99 * len(ok) / t99, 1),           # → 99% delivered (before the retry tail)
        "rate_first_to_last": round(len(ok) / first_to_last, 1) if first_to_last else None,
        "rate_steady_median": statistics.median(middle) if middle else None,
        "attempts_per_s": round(attempts / first_to_last, 1) if first_to_last else None,
        "per_second": [seconds[i] for i in range(int(first_to_last) + 1)],
        "worker": {"sent": worker.stats.sent, "rate_limited": worker.stats.rate_limited,
                   "transient": worker.stats.transient,
                   "platform_pauses": worker.limiters["telegram"].pauses},
    }


def verdict(result: dict) -> str:
    clean = result["lost"] == 0 and result["duplicates"] == 0 and result["outbox"] == {"sent": result["messages"]}
    if result["phase"] == "limited":
        target = 0.95 * TELEGRAM_LIMIT
        ok = clean and result["rate_first_to_last"] >= target
        return (f"{'PASS' if ok else 'FAIL'}: {result['rate_first_to_last']} msg/s sustained "
                f"(target >= {target:.1f}; steady median {result['rate_steady_median']}/s)")
    ok = clean and result["rate_overall"] >= 500
    return f"{'PASS' if ok else 'FAIL'}: {result['rate_overall']} msg/s (target >= 500)"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phase", choices=["limited", "unlimited", "both"], default="both")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--limited-messages", type=int, default=3_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("bot.broadcast.worker").setLevel(logging.WARNING)
    server = FakeServer()
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
            if args.phase in ("unlimited", "both"):
                for kind in dbs:
                    results.append(await run_once(server, kind, args.messages, False, Path(tmp)))
                    print(f"(b) unlimited, {kind}: {verdict(results[-1])}", file=sys.stderr, flush=True)
            if args.phase in ("limited", "both"):
                results.append(await run_once(server, dbs[0], args.limited_messages, True, Path(tmp)))
                print(f"(a) limited, {dbs[0]}: {verdict(results[-1])}", file=sys.stderr, flush=True)
    finally:
        server.close()
    for result in results:
        result["verdict"] = verdict(result)
        print(json.dumps(result, ensure_ascii=False) if args.json else
              "\n".join(f"  {k}: {v}" for k, v in result.items()) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
