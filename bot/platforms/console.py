"""Terminal chat: the same router and handlers the messengers use, on stdin/stdout."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.messages import Incoming
from bot.pipeline import Pipeline
from bot.platforms.base import numbered_texts

CHAT_ID = "console"
USER_ID = "console-user"
GOODBYE = "Tạm biệt! Hẹn gặp lại bạn."
EXIT_WORDS = {"/thoat", "/exit", "/quit"}


async def run_console(pipeline: Pipeline, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    interactive = stdin.isatty()

    async def handle(text: str) -> None:
        # A number typed for a choice is read by the core (bot/choices.py).
        msg = Incoming.from_platform("console", CHAT_ID, USER_ID, text)
        replies = await pipeline.process(msg)
        for text_out in numbered_texts(replies):
            stdout.write(text_out + "\n\n")
        stdout.flush()

    await handle("/start")
    stdout.write("(Gõ /thoat hoặc Ctrl-D để kết thúc.)\n\n")
    while True:
        if interactive:
            stdout.write("Bạn: ")
            stdout.flush()
        line = await asyncio.to_thread(stdin.readline)
        if not line or line.strip().lower() in EXIT_WORDS:
            stdout.write(GOODBYE + "\n")
            stdout.flush()
            return
        await handle(line)
