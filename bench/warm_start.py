"""Warm start: the first answer after `civicbot run` starts, against the next 20; cold `civicbot ask`.

    .venv/bin/python bench/warm_start.py [--runs 3] [--next 20] [--json]

The real `civicbot run` in a child process (Telegram long polling against
the fake Bot API in tests/fakes, run by this process; model and index from
data/, as a deployment has them; answers logged to a temporary SQLite
database). A question is waiting at "Telegram" when the process starts, as
after a restart. Printed per run:

* ready: process launch → GET /healthz answers 200 (model and index warm,
  polling started);
* first answer: from the getUpdates call that handed the waiting question
  over → its sendMessage, and from process launch;
* the next 20 questions, one at a time: question queued → its sendMessage;
  their median, and first / median (target: ≤ 2). A question is asked
  `RESIDENT_PAUSE_SECONDS` after the previous answer, as a resident reading
  it would: replies to one chat are spaced by Telegram's per-chat limit
  (1 message/s, bot/channels/limits.py), which asking at once would measure
  instead of the answer.

Then cold `civicbot ask QUESTION` (index cached): a fresh process's wall
time, and whether it imported torch, transformers or sentence-transformers.
Run it on a quiet machine: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402

CIVICBOT = [sys.executable, "-m", "bot.cli"]
QUESTIONS = ROOT / "bench" / "data" / "heldout.jsonl"
CHAT = 777


def questions() -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["q"] for r in rows if r.get("in_scope", True)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# A resident reads an answer before asking again; more than the per-chat spacing.
RESIDENT_PAUSE_SECONDS = 1.2


async def one_run(qs: list[str], following: int) -> dict:
    port = free_port()
    async with FakeTelegramAPI() as api, aiohttp.ClientSession() as http:
        with tempfile.TemporaryDirectory(prefix="civicbot-warm-") as tmp:
            env = {**os.environ,
                   "CIVICBOT_TELEGRAM__TOKEN": api.token, "CIVICBOT_TELEGRAM__BASE_URL": api.base_url,
                   "CIVICBOT_HTTP__PORT": str(port), "CIVICBOT_HTTP__HOST": "127.0.0.1",
                   "CIVICBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
                   "CIVICBOT_FLOOD_MAX_MESSAGES": "1000"}
            api.push_update(api.message_update(CHAT, qs[0]))            # waiting when the bot starts
            launched = time.monotonic()
            child = subprocess.Popen([*CIVICBOT, "run"], cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                ready = await _wait_healthy(http, port, child) - launched
                (first,) = await api.wait_for("sendMessage", 1, chat_id=CHAT, timeout=120)
                handed_over = api.calls_to("getUpdates")[0].at
                latencies = []
                for n, question in enumerate(qs[1:following + 1], start=2):
                    await asyncio.sleep(RESIDENT_PAUSE_SECONDS)
                    asked = time.monotonic()
                    api.push_update(api.message_update(CHAT, question))
                    answer = (await api.wait_for("sendMessage", n, chat_id=CHAT, timeout=60))[-1]
                    latencies.append(answer.at - asked)
            finally:
                child.terminate()
                _, err = child.communicate(timeout=30)
    median = statistics.median(latencies)
    return {
        "ready_s": round(ready, 2),
        "first_answer_ms": round((first.at - handed_over) * 1000, 1),
        "first_answer_from_launch_s": round(first.at - launched, 2),
        "next_median_ms": round(median * 1000, 1),
        "next_max_ms": round(max(latencies) * 1000, 1),
        "first_over_median": round((first.at - handed_over) / median, 2),
        "log_tail": [line for line in err.splitlines() if "ready:" in line or "warm in" in line][-2:],
    }


async def _wait_healthy(http: aiohttp.ClientSession, port: int, child: subprocess.Popen) -> float:
    while True:
        if child.poll() is not None:
            raise RuntimeError(f"civicbot run exited: {child.stderr.read()[-2000:]}")
        try:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return time.monotonic()
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)


def cold_ask(question: str, runs: int) -> dict:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([*CIVICBOT, "ask", question], cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        assert done.returncode == 0, done.stderr[-2000:]
    probe = subprocess.run([sys.executable, "-X", "importtime", "-m", "bot.cli", "ask", question], cwd=ROOT,
                           capture_output=True, text=True)
    imported = sorted({line.split("|")[-1].strip().split(".")[0] for line in probe.stderr.splitlines()
                       if "|" in line} & {"torch", "transformers", "sentence_transformers"})
    return {"runs_s": [round(t, 2) for t in times], "median_s": round(statistics.median(times), 2),
            "heavy_imports": imported}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--next", type=int, default=20, dest="following")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    qs = questions()
    subprocess.run([*CIVICBOT, "ask", qs[0]], cwd=ROOT, capture_output=True)   # model and index in data/
    result = {"load_before": load(), "run": [], "ask": None}
    for n in range(args.runs):
        result["run"].append(asyncio.run(one_run(qs[n * (args.following + 1):], args.following)))
    result["ask"] = cold_ask(qs[0], args.runs)
    result["load_after"] = load()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"load average before: {result['load_before']}")
    for n, run in enumerate(result["run"], 1):
        print(f"civicbot run #{n}: ready {run['ready_s']} s after launch; first answer {run['first_answer_ms']} ms "
              f"({run['first_answer_from_launch_s']} s after launch); next {args.following}: median "
              f"{run['next_median_ms']} ms, max {run['next_max_ms']} ms; first/median {run['first_over_median']}")
    ask = result["ask"]
    print(f"cold civicbot ask (index cached): {ask['runs_s']} s, median {ask['median_s']} s; "
          f"torch/transformers/sentence-transformers imported: {ask['heavy_imports'] or 'none'}")
    print(f"load average after: {result['load_after']}")


if __name__ == "__main__":
    main()
