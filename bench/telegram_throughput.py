"""Telegram adapter under load: answers/s, latency, lost and duplicated replies.

    .venv/bin/python bench/telegram_throughput.py [--users 100] [--per-user 10]
        [--phase paced|closed|both] [--rate 100] [--json]

The bot runs in a child process, as `civicbot run` would in webhook mode: our
aiohttp app + `Messengers` (updates stored in the inbox before the 200, replies
through the reply outbox) + the real default embedding model
(`build_searcher`; the first run builds data/index) + real deps (router,
pipeline, SQLite answer log in a temporary data dir). This process runs the
fake Bot API (tests/fakes/telegram_api.py), which posts the updates to the
bot's webhook with the registered secret, as Telegram does, and records the
sendMessage calls coming back.

Latency of a question: the fake starts the webhook POST → the fake receives
the sendMessage answering it. Every bench question is answered in exactly
one message (checked beforehand), and one chat's replies come back in order,
so the k-th sendMessage to a chat answers its k-th question.

Two load shapes, 100 users × 10 questions each (1,000, distinct users per
phase, so the 20/min flood limit never triggers):

* paced: every user asks one question every users/rate seconds (offered load
  = --rate questions/s, users start at random offsets). This is the shape
  the targets are about: answers/s ≥ 100 and p95 ≤ 150 ms at 100 questions/s.
* closed: every user asks the next question as soon as the previous is
  answered: the saturation throughput. Here latency ≈ users / throughput
  (Little's law): 100 users in flight at 100 answers/s means ~1 s each, so
  the p95 target cannot apply to this shape.

The child also reports where the time goes: search batches (size, embedding
and ranking time), the whole pipeline per update, and the Bot API call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bot.pipeline import FLOOD_NOTICE, TRY_LATER  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402

QUESTIONS = ROOT / "bench" / "data" / "heldout.jsonl"
SECRET = "bench-webhook-secret"


# -- the bot, in a child process --------------------------------------------------

class Timings:
    """Wall-clock samples by name, gathered in the bot process."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)

    def wrap_async(self, name: str, fn):
        async def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.samples[name].append(time.perf_counter() - t0)
        return timed

    def wrap(self, name: str, fn, size=None):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.samples[name].append(time.perf_counter() - t0)
                if size is not None:
                    self.samples[name + ".size"].append(size(*args, **kwargs))
        return timed

    def summary(self) -> dict:
        out = {}
        for name, values in sorted(self.samples.items()):
            if name.endswith(".size"):
                out[name] = {"n": len(values), "mean": round(statistics.fmean(values), 1), "max": max(values)}
            else:
                out[name] = {"n": len(values), "total_s": round(sum(values), 2),
                             "mean_ms": round(1000 * statistics.fmean(values), 1),
                             "p95_ms": round(1000 * percentile(values, 95), 1)}
        return out


def serve_bot(api_url: str, token: str, conn) -> None:
    from bot.eventloop import run_event_loop

    run_event_loop(_serve_bot(api_url, token, conn))   # as `civicbot run` does


async def _serve_bot(api_url: str, token: str, conn) -> None:
    import logging
    import socket

    from aiohttp import web
    from pydantic import SecretStr

    from bot.app import build_deps, build_searcher, close_deps
    from bot.channels.messengers import Messengers
    from bot.channels.telegram.adapter import WEBHOOK_PATH
    from bot.channels.telegram.channel import split_for_telegram
    from bot.pipeline import Pipeline
    from bot.platforms.base import TELEGRAM_TEXT_LIMIT
    from bot.runner import build_http_app, serving_settings, settle_heap
    from bot.settings import HttpSettings, Settings, TelegramSettings
    from handlers.conversation import Conversation, problem_with
    from knowledge.base import KnowledgeBase

    logging.basicConfig(level=logging.WARNING, format="bot %(levelname)s %(name)s: %(message)s")
    os.chdir(ROOT)                              # data/ (index, model) is relative to the checkout
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    tmp = tempfile.TemporaryDirectory(prefix="civicbot-bench-")
    settings = Settings(
        _env_file=None,
        telegram=TelegramSettings(token=SecretStr(token), base_url=api_url,
                                  webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
                                  webhook_secret=SecretStr(SECRET)),
        http=HttpSettings(host="127.0.0.1", port=port),
    )
    started = time.monotonic()
    settings = serving_settings(settings)   # as `civicbot run` does
    knowledge = KnowledgeBase.load(settings.knowledge_dir)
    searcher = build_searcher(settings, knowledge)      # the real default model; builds data/index if stale
    # Questions answered in exactly one message, so replies map to questions one to one.
    candidates = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    candidates = [q for q in candidates if problem_with(q) is None]
    results = searcher.search_many(candidates, k=settings.top_k)
    conversation = Conversation(knowledge)

    async def searched(text: str):
        return searcher.search(text, k=settings.top_k)

    replies = [await conversation.respond(q, searched, search_ahead=r) for q, r in zip(candidates, results)]
    questions = [q for q, reply in zip(candidates, replies)
                 if len(split_for_telegram(reply.text, TELEGRAM_TEXT_LIMIT)) == 1]
    load_seconds = time.monotonic() - started

    timings = Timings()
    searcher.search_many = timings.wrap("search_batch", searcher.search_many, size=lambda qs, k=5: len(qs))
    # Inside a batch: normalisation (diacritic restoration), the embedding, then ranking.
    # (Private attributes of retrieval/: this is a probe, it changes nothing there.)
    for name, attr in (("normalise", "normalise"), ("rank", "_rank")):
        if hasattr(searcher, attr):
            setattr(searcher, attr, timings.wrap(name, getattr(searcher, attr)))
    embedder = getattr(searcher, "_embedder", None)
    if embedder is not None:
        embedder.embed_queries = timings.wrap("embed_batch", embedder.embed_queries)
    # The database: SQLite in a temporary data dir (the durable message path needs one).
    settings = settings.model_copy(update={"data_dir": Path(tmp.name)})
    deps = build_deps(settings, searcher=searcher, knowledge=knowledge)
    pipeline = Pipeline(deps)
    pipeline.process = timings.wrap_async("pipeline", pipeline.process)
    import handlers.qa
    if hasattr(handlers.qa, "record_answer"):
        handlers.qa.record_answer = timings.wrap_async("answer_log", handlers.qa.record_answer)
    app = build_http_app()
    messengers = Messengers(pipeline, settings)
    messengers.install(app)
    for platform, channel in messengers.channels.items():
        channel.send = timings.wrap_async("send_message", channel.send)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    settle_heap()                  # as `civicbot run` does once it is ready
    conn.send({"port": port, "model": searcher.dense_manifest.model, "load_seconds": load_seconds,
               "questions": questions, "threads": settings.embedding_threads})
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command == "reset":
            timings.samples.clear()
            conn.send("ok")
        elif command == "timings":
            conn.send(timings.summary())
        else:
            break
    await runner.cleanup()
    await close_deps(deps)
    tmp.cleanup()
    conn.send({"stopped": True})




# -- the load -----------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def run_phase(api: FakeTelegramAPI, questions: list[str], args, phase: str, first_user: int,
                    rng: random.Random) -> dict:
    users = list(range(first_user, first_user + args.users))
    posted: dict[int, list[float]] = defaultdict(list)
    answered: dict[int, list[float]] = defaultdict(list)
    texts: dict[int, list[str]] = defaultdict(list)
    statuses: dict[int, int] = defaultdict(int)
    waiters: dict[int, asyncio.Event] = {u: asyncio.Event() for u in users}

    def on_call(call) -> None:
        if call.method == "sendMessage" and call.ok and call.chat_id is not None:
            chat = int(call.chat_id)
            if chat in waiters:
                answered[chat].append(call.at)
                texts[chat].append(call.text or "")
                waiters[chat].set()

    api.listeners.append(on_call)
    interval = args.users / args.rate

    async def post(user: int) -> None:
        update = api.message_update(user, rng.choice(questions))
        posted[user].append(time.monotonic())
        statuses[await api.deliver_webhook(update)] += 1

    async def paced_user(user: int, start: float) -> None:
        offset = rng.uniform(0, interval)
        for k in range(args.per_user):
            delay = start + offset + k * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await post(user)

    async def closed_user(user: int) -> None:
        for k in range(args.per_user):
            await post(user)
            while len(answered[user]) <= k:
                waiters[user].clear()
                try:
                    await asyncio.wait_for(waiters[user].wait(), args.patience)
                except TimeoutError:
                    return                      # lost: this user stops asking

    first = time.monotonic()
    if phase == "paced":
        await asyncio.gather(*(paced_user(u, first) for u in users))
    else:
        await asyncio.gather(*(closed_user(u) for u in users))
    expected = args.users * args.per_user
    last_change, last_count = time.monotonic(), -1
    while sum(len(v) for v in answered.values()) < expected:
        count = sum(len(v) for v in answered.values())
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > args.patience:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(args.grace)             # a duplicate would arrive now
    api.listeners.remove(on_call)

    latencies, lost, duplicated = [], 0, 0
    for user in users:
        sent, got = posted[user], answered[user]
        latencies += [got[k] - sent[k] for k in range(min(len(sent), len(got)))]
        lost += max(0, len(sent) - len(got))
        duplicated += max(0, len(got) - len(sent))
    last = max((t for v in answered.values() for t in v), default=first)
    ms = lambda v: round(v * 1000, 1)  # noqa: E731
    try_later = sum(t == TRY_LATER for v in texts.values() for t in v)
    answers = len(latencies) - try_later
    return {
        "phase": phase,
        "offered_rate": args.rate if phase == "paced" else None,
        "questions": sum(len(v) for v in posted.values()),
        "replies": len(latencies),
        "answers": answers,
        "webhook_statuses": dict(statuses),
        "seconds": round(last - first, 2),
        "answers_per_second": round(answers / (last - first), 1) if answers > 0 else 0.0,
        "latency_ms": {"p50": ms(percentile(latencies, 50)), "p95": ms(percentile(latencies, 95)),
                       "p99": ms(percentile(latencies, 99)), "max": ms(max(latencies)),
                       "mean": ms(statistics.fmean(latencies))} if latencies else {},
        "lost": lost,
        "duplicated": duplicated,
        "flood_notices": sum(t == FLOOD_NOTICE for v in texts.values() for t in v),
        # "Please try again later": a reply, but not an answer (a handler failed, e.g. storage).
        "try_later_replies": try_later,
    }


async def run(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    ctx = mp.get_context("spawn")
    async with FakeTelegramAPI() as api:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=serve_bot, args=(api.base_url, api.token, child),
                           daemon=True)
        proc.start()
        ready = await asyncio.to_thread(parent.recv)
        questions = ready["questions"]
        print(f"bot ready: model {ready['model']}, encoder threads {ready['threads']}, "
              f"loaded in {ready['load_seconds']:.1f} s, {len(questions)} one-message questions",
              file=sys.stderr)
        assert api.webhook.get("secret_token") == SECRET

        # Warm-up: connections, database, search thread.
        warm = argparse.Namespace(**{**vars(args), "users": 20, "per_user": 2, "rate": 40})
        await run_phase(api, questions, warm, "paced", 1_000_000, rng)

        report = {"model": ready["model"], "cpus": os.cpu_count(), "encoder_threads": ready["threads"],
                  "storage": "sqlite", "users": args.users, "per_user": args.per_user,
                  "phases": []}
        phases = ["paced", "closed"] if args.phase == "both" else [args.phase]
        for number, phase in enumerate(phases):
            parent.send("reset")
            await asyncio.to_thread(parent.recv)
            load_before = os.getloadavg()[0]
            result = await run_phase(api, questions, args, phase, 10_000 + number * 10_000, rng)
            # Other processes on the machine share the 2 cores: say how busy it was.
            result["loadavg_1min"] = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
            parent.send("timings")
            result["bot_timings"] = await asyncio.to_thread(parent.recv)
            report["phases"].append(result)
            print(format_phase(result), file=sys.stderr)
        parent.send("stop")
        await asyncio.to_thread(parent.recv)
        proc.join(timeout=30)
        return report


def format_phase(r: dict) -> str:
    lat = r["latency_ms"]
    shape = f"paced at {r['offered_rate']}/s" if r["phase"] == "paced" else "closed loop"
    lines = [
        f"\n== {shape}: {r['questions']} questions, {r['replies']} replies ({r['answers']} answers) in {r['seconds']} s "
        f"(machine load avg {r['loadavg_1min']['before']} → {r['loadavg_1min']['after']})",
        f"   answers/s {r['answers_per_second']}   latency p50 {lat.get('p50')} ms  p95 {lat.get('p95')} ms  "
        f"p99 {lat.get('p99')} ms  max {lat.get('max')} ms",
        f"   lost {r['lost']}   duplicated {r['duplicated']}   flood notices {r['flood_notices']}   "
        f"'try again later' replies {r['try_later_replies']}   webhook statuses {r['webhook_statuses']}",
        "   where the bot's time goes:",
    ]
    for name, t in r["bot_timings"].items():
        if name.endswith(".size"):
            lines.append(f"     {name:<18} mean {t['mean']} max {t['max']} ({t['n']} batches)")
        else:
            lines.append(f"     {name:<18} n {t['n']:>5}  mean {t['mean_ms']:>7} ms  p95 {t['p95_ms']:>7} ms  "
                         f"total {t['total_s']} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--per-user", type=int, default=10)
    parser.add_argument("--phase", choices=["paced", "closed", "both"], default="both")
    parser.add_argument("--rate", type=float, default=100.0, help="offered questions/s in the paced phase")
    parser.add_argument("--patience", type=float, default=60.0, help="give up after this long without progress")
    parser.add_argument("--grace", type=float, default=1.0, help="wait this long for late duplicates")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    args = parser.parse_args()
    report = asyncio.run(run(args))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
