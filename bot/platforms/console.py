"""Terminal chat: the same router and handlers the messengers use, on stdin/stdout."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.messages import Incoming
from bot.pipeline import Pipeline
from bot.platforms.base import NumberedChoices, numbered_texts

CHAT_ID = "console"
USER_ID = "console-user"
GOODBYE = "Tạm biệt! Hẹn gặp lại bạn."
EXIT_WORDS = {"/thoat", "/exit", "/quit"}


async def run_console(pipeline: Pipeline, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    choices = NumberedChoices()
    interactive = stdin.isatty()

    async def handle(text: str | None, callback: str | None = None) -> None:
        msg = Incoming.from_platform("console", CHAT_ID, USER_ID, text, callback_data=callback)
        replies = await pipeline.process(msg)
        choices.remember(CHAT_ID, replies)
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
        data = choices.resolve(CHAT_ID, line)
        await handle(None if data else line, data)
