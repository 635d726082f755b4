"""Explicit routing from an `Incoming` to the handler that answers it.

Order of precedence (see `dispatch`): button presses by their data prefix,
then commands, then an open multi-step dialog (e.g. feedback being written),
then free text, which is a question for the Q&A handler.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.messages import Incoming, Reply

if TYPE_CHECKING:
    from bot.deps import Deps

log = logging.getLogger(__name__)

Handler = Callable[[Incoming, "Deps"], Awaitable[list[Reply]]]

UNKNOWN_COMMAND = "Mình chưa biết lệnh /{name}. Bạn gõ /help để xem các lệnh mình hiểu nhé."
STALE_BUTTON = "Nút này không còn hiệu lực. Bạn gõ /help để bắt đầu lại nhé."


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    description: str       # Vietnamese, shown in /help and the messenger's command menu
    hidden: bool = False   # official-only commands stay out of residents' menus


class Router:
    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._callbacks: dict[str, Handler] = {}
        self._dialogs: dict[str, Handler] = {}
        self._text: Handler | None = None

    def command(self, name: str, handler: Handler, description: str, hidden: bool = False) -> None:
        self._commands[name] = Command(name, handler, description, hidden)

    def callback(self, prefix: str, handler: Handler) -> None:
        """Button presses whose data is "prefix:..." go to ``handler``."""
        self._callbacks[prefix] = handler

    def dialog(self, name: str, handler: Handler) -> None:
        """Free text while dialog ``name`` is open for the user goes to ``handler``."""
        self._dialogs[name] = handler

    def text(self, handler: Handler) -> None:
        self._text = handler

    def public_commands(self) -> list[Command]:
        return [c for c in self._commands.values() if not c.hidden]

    async def dispatch(self, msg: Incoming, deps: "Deps",
                       open_dialog: "Awaitable[str | None] | None" = None) -> list[Reply]:
        """``open_dialog``: the user's open dialog, when the caller already started
        looking it up (the pipeline does, while the question is searched)."""
        if msg.callback_data is not None:
            prefix = msg.callback_data.split(":", 1)[0]
            handler = self._callbacks.get(prefix)
            return await handler(msg, deps) if handler else [Reply(STALE_BUTTON)]
        if msg.command:
            command = self._commands.get(msg.command)
            if command is None:
                return [Reply(UNKNOWN_COMMAND.format(name=msg.command[:32]))]
            return await command.handler(msg, deps)
        dialog = await (open_dialog or deps.dialogs.peek(msg.platform, msg.user_id))
        if dialog and dialog in self._dialogs:
            return await self._dialogs[dialog](msg, deps)
        if self._text is None:
            return []
        return await self._text(msg, deps)
