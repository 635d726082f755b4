"""Zalo Bot long polling: how many updates a second one poller takes in.

    .venv/bin/python bench/zalo_bot_polling.py [--updates 300] [--rtt-ms 0 50]

getUpdates returns one update per call and takes no offset, so the poller
stores each update before its next call: its rate is one update per round
trip (plus the store). The fake Bot API (tests/fakes/zalo_bot_api.py) runs
in this process; ``--rtt-ms`` delays each of its answers to act out a
distant server. ``accept`` stores nothing (it appends to a list), so the
figure is the channel's ceiling, not the bot's. Printed per round trip:
updates/s and the time from queueing the first update to storing the last.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bot.channels.zalo_bot.api import ZaloBotAPI  # noqa: E402
from bot.channels.zalo_bot.inbound import Poller  # noqa: E402
from bot.platforms.base import NumberedChoices  # noqa: E402
from tests.fakes.zalo_bot_api import FakeZaloBotAPI, Fault  # noqa: E402


async def measure(updates: int, rtt_ms: float) -> tuple[float, float]:
    stored: list = []
    done = asyncio.Event()

    async def accept(msg) -> None:
        stored.append(msg)
        if len(stored) == updates:
            done.set()

    async with FakeZaloBotAPI() as api, aiohttp.ClientSession() as session:
        if rtt_ms:
            api.add_fault(Fault.slow(rtt_ms / 1000), method="getUpdates", times=updates + 10)
        for i in range(updates):
            await api.push(api.update(f"u{i % 50}", f"câu hỏi {i}"))
        poller = Poller(ZaloBotAPI(api.base_url, api.token, session), accept, NumberedChoices(),
                        poll_seconds=1.0)
        started = time.perf_counter()
        poller.start()
        await done.wait()
        elapsed = time.perf_counter() - started
        await poller.stop()
    return updates / elapsed, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--rtt-ms", type=float, nargs="+", default=[0.0, 50.0])
    args = parser.parse_args()
    for rtt in args.rtt_ms:
        rate, elapsed = asyncio.run(measure(args.updates, rtt))
        print(f"round trip +{rtt:.0f} ms: {args.updates} updates in {elapsed:.2f} s = {rate:.1f} updates/s")


if __name__ == "__main__":
    main()
