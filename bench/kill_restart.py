"""kill -9 right after acknowledging: is every acknowledged update answered exactly once?

    .venv/bin/python bench/kill_restart.py [--zalo 50] [--telegram 50] [--rounds 3]

Each round starts the real ``civicbot run`` (a child process: the default
embedding model, SQLite in a throw-away data directory, Telegram in webhook
mode and Zalo, both against the fake APIs in this process), posts
``--zalo`` signed Zalo events and ``--telegram`` Telegram webhook updates at
once, each from its own chat, waits until every one is acknowledged (HTTP
200), waits a random 0–100 ms (``--kill-after``), and kills the bot with SIGKILL. Then it
starts the bot again on the same data directory and waits until every chat
is answered (or ``--patience`` seconds pass without progress).

Figures per round: acknowledged, answered before the kill, answered in all,
chats answered more than once (a send cut off between reaching the platform
and being recorded is sent again: the one case a Bot API cannot tell apart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bot.channels.zalo.webhook import WEBHOOK_PATH as ZALO_PATH, signature  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.zalo_api import FakeZaloAPI  # noqa: E402

APP_ID = "bench-app"
OA_SECRET = "bench-oa-secret"
APP_SECRET = "bench-app-secret"
WEBHOOK_SECRET = "bench-webhook-secret"
QUESTIONS = ROOT / "bench" / "data" / "heldout.jsonl"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bot_env(data_dir: Path, port: int, telegram: FakeTelegramAPI, zalo: FakeZaloAPI) -> dict[str, str]:
    return {
        **os.environ,
        "CIVICBOT_DATA_DIR": str(data_dir),
        "CIVICBOT_HTTP__PORT": str(port),
        "CIVICBOT_TELEGRAM__TOKEN": telegram.token,
        "CIVICBOT_TELEGRAM__BASE_URL": telegram.base_url,
        "CIVICBOT_TELEGRAM__WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
        "CIVICBOT_TELEGRAM__WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CIVICBOT_ZALO__APP_ID": APP_ID,
        "CIVICBOT_ZALO__OA_SECRET_KEY": OA_SECRET,
        "CIVICBOT_ZALO__APP_SECRET": APP_SECRET,
        "CIVICBOT_ZALO__ACCESS_TOKEN": zalo.access_token,
        "CIVICBOT_ZALO__REFRESH_TOKEN": zalo.refresh_token,
        "CIVICBOT_ZALO__API_BASE_URL": zalo.base_url,
        "CIVICBOT_ZALO__OAUTH_BASE_URL": zalo.base_url,
        "CIVICBOT_BROADCAST__WORKER": "false",
    }


async def start_bot(env: dict[str, str], port: int, log_path: Path) -> asyncio.subprocess.Process:
    log = open(log_path, "ab")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "run", cwd=ROOT, env=env,
                                                stdout=log, stderr=log)
    async with aiohttp.ClientSession() as http:
        for _ in range(3000):
            if proc.returncode is not None:
                raise RuntimeError(f"the bot exited with {proc.returncode}; see {log_path}")
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the bot did not get ready")


async def one_round(args, rng: random.Random, questions: list[str], n: int) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="kill-bench-"))
    (data_dir / "models").symlink_to((ROOT / "data" / "models").resolve())
    shutil.copytree(ROOT / "data" / "index", data_dir / "index")
    port = free_port()
    async with FakeTelegramAPI() as telegram, FakeZaloAPI(app_id=APP_ID, app_secret=APP_SECRET) as zalo:
        env = bot_env(data_dir, port, telegram, zalo)
        bot = await start_bot(env, port, data_dir / "bot.log")
        zalo_users = [f"z{n}-{i}" for i in range(args.zalo)]
        telegram_chats = [1_000_000 + n * 1000 + i for i in range(args.telegram)]

        async def post_zalo(http: aiohttp.ClientSession, user: str) -> int:
            ts = str(int(time.time() * 1000))
            event = {"app_id": APP_ID, "event_name": "user_send_text", "sender": {"id": user},
                     "recipient": {"id": "oa"}, "timestamp": ts,
                     "message": {"text": rng.choice(questions), "msg_id": f"msg-{user}"}}
            body = json.dumps(event, ensure_ascii=False).encode()
            async with http.post(f"http://127.0.0.1:{port}{ZALO_PATH}", data=body, headers={
                    "X-ZEvent-Signature": signature(APP_ID, body, ts, OA_SECRET)}) as resp:
                return resp.status

        async with aiohttp.ClientSession() as http:
            statuses = await asyncio.gather(
                *(post_zalo(http, u) for u in zalo_users),
                *(telegram.deliver_webhook(telegram.message_update(c, rng.choice(questions)))
                  for c in telegram_chats))
        acked = sum(s == 200 for s in statuses)
        await asyncio.sleep(rng.uniform(args.kill_after[0], args.kill_after[1]) / 1000)
        bot.send_signal(signal.SIGKILL)
        await bot.wait()
        before = answered(telegram, zalo, telegram_chats, zalo_users)

        bot = await start_bot(env, port, data_dir / "bot.log")
        last, since = -1, time.monotonic()
        while True:
            now = answered(telegram, zalo, telegram_chats, zalo_users)
            if len(now) == len(statuses):
                break
            if len(now) != last:
                last, since = len(now), time.monotonic()
            elif time.monotonic() - since > args.patience:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(args.grace)                  # late duplicates would show up here
        bot.send_signal(signal.SIGTERM)
        await bot.wait()
        counts = Counter({str(c): len(telegram.texts(c)) for c in telegram_chats})
        counts.update({u: len(zalo.texts_to(u)) for u in zalo_users})
    shutil.rmtree(data_dir, ignore_errors=True)
    return {"acknowledged": acked, "answered_before_kill": len(before),
            "answered": sum(1 for n in counts.values() if n >= 1),
            "answered_twice_or_more": sum(1 for n in counts.values() if n > 1),
            "never_answered": sum(1 for n in counts.values() if n == 0)}


def answered(telegram: FakeTelegramAPI, zalo: FakeZaloAPI, chats: list[int], users: list[str]) -> set[str]:
    done = {str(c) for c in chats if telegram.texts(c)}
    return done | {u for u in users if zalo.texts_to(u)}


async def run(args) -> list[dict]:
    questions = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(args.seed)
    results = []
    for n in range(args.rounds):
        result = await one_round(args, rng, questions, n)
        print(f"round {n + 1}: {result}", file=sys.stderr)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--zalo", type=int, default=50)
    parser.add_argument("--telegram", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kill-after", type=float, nargs=2, default=(0.0, 100.0), metavar=("MIN_MS", "MAX_MS"),
                        help="kill this long after the last acknowledgement (later: replies are in flight)")
    parser.add_argument("--patience", type=float, default=60.0)
    parser.add_argument("--grace", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    total = {key: sum(r[key] for r in results) for key in results[0]}
    print(json.dumps({"rounds": results, "total": total}, indent=2))
    ok = total["never_answered"] == 0 and total["answered_twice_or_more"] == 0
    print(f"{args.rounds} round(s) of kill -9 {args.kill_after[0]:g}–{args.kill_after[1]:g} ms after "
          f"{args.zalo} Zalo + {args.telegram} Telegram acks: "
          f"{total['answered']}/{total['acknowledged']} answered, {total['never_answered']} never, "
          f"{total['answered_twice_or_more']} more than once ({'OK' if ok else 'MISSED'})", file=sys.stderr)


if __name__ == "__main__":
    main()
