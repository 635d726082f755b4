"""Explicit routing from an `Incoming` to the handler that answers it.

Each handlers module owns a `Router` and registers, beside the code, what it
answers: its commands (name, menu description, help line), the prefixes of
its buttons' data, its dialog (and what /huy and an expiry say about it).
`bot/app.py` includes those routers in one place, in the order residents see
the commands; /help, Telegram's command menu (setMyCommands) and dispatch
all read the same registry, so they cannot drift apart:

    # handlers/feedback.py
    router = Router()

    @router.command("gopy", "Gửi góp ý về Nghị quyết 05 và các mô hình")
    async def start_feedback(msg, turn): ...

    @router.button("fb")                   # data "fb:..."
    async def on_button(msg, turn): ...

    @router.dialog("gopy", about="gửi góp ý", command="gopy", cancelled="Đã hủy góp ý.")
    async def on_text(msg, turn): ...      # free text while /gopy is open

Order of precedence (see `dispatch`): button presses by their data prefix,
then commands, then non-text messages (a voice note, a sticker), then an open
multi-step dialog, then free text, which is a question.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.choices import dispatch_numbered, has_buttons
from bot.messages import Incoming, Reply

if TYPE_CHECKING:
    from bot.deps import Deps, Turn

log = logging.getLogger(__name__)

Handler = Callable[[Incoming, "Turn"], Awaitable[list[Reply]]]
# Something in progress that /huy can stop (a quiz round): its replies, or None if there is none.
CancelHook = Callable[[Incoming, "Turn"], Awaitable[list[Reply] | None]]
# Work for free text started before its update is dispatched (see Router.prefetch).
Prefetch = Callable[[Incoming, "Deps"], "Awaitable[Any] | None"]

UNKNOWN_COMMAND = "Mình chưa biết lệnh /{name}. Bạn gõ /help để xem các lệnh mình hiểu nhé."
STALE_BUTTON = "Lựa chọn này không còn hiệu lực. Bạn gõ /help để bắt đầu lại nhé."
EXPIRED = (
    "Phần {about} bạn làm dở trước đó đã quá lâu nên mình đã hủy, chưa lưu gì cả. "
    "Khi cần, bạn gõ /{command} để làm lại nhé."
)


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    description: str       # Vietnamese: the messenger's "/" menu and, by default, /help
    hidden: bool = False   # official-only commands stay out of residents' menus
    help: str = ""         # the /help line when it says more than the description

    @property
    def help_line(self) -> str:
        return f"/{self.name} – {self.help or self.description}"


@dataclass(frozen=True)
class Dialog:
    """A multi-step dialog: free text while it is open goes to ``on_text``."""

    name: str
    on_text: Handler
    about: str             # what the resident is doing, after "Bạn đang …": "gửi góp ý"
    command: str           # the command that starts it again: "gopy"
    cancelled: str         # what /huy says when it closes this dialog
    # The data prefix of the dialog's buttons: the numbers they get on a platform
    # without buttons stay the dialog's while it is open (bot/choices.py).
    buttons: str = ""

    @property
    def expired_notice(self) -> str:
        return EXPIRED.format(about=self.about, command=self.command)


class Router:
    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}
        self._buttons: dict[str, Handler] = {}
        self._dialogs: dict[str, Dialog] = {}
        self._cancel_hooks: list[CancelHook] = []
        self._media: Handler | None = None
        self._text: Handler | None = None
        self._prefetch: Prefetch | None = None

    # -- registration (decorators, used in each handlers module) -----------------

    def command(self, name: str, description: str, *old_form: object, hidden: bool = False,
                help: str = "") -> Callable[[Handler], Handler]:
        """``@router.command("gopy", "Gửi góp ý …")``: the handler of /gopy."""
        if old_form or not isinstance(description, str):      # router.command(name, handler, description)
            raise TypeError(
                f"router.command({name!r}, ...): commands are registered in their handlers module, "
                f"as a decorator: @router.command({name!r}, description) above the handler "
                "(see bot/router.py and bot/app.py)"
            )

        def register(handler: Handler) -> Handler:
            self._add_command(Command(name, handler, description, hidden, help))
            return handler
        return register

    def button(self, prefix: str) -> Callable[[Handler], Handler]:
        """``@router.button("fb")``: presses whose data is "fb:…" (and numbers typed for them)."""
        def register(handler: Handler) -> Handler:
            self._add_button(prefix, handler)
            return handler
        return register

    def dialog(self, name: str, *, about: str, command: str, cancelled: str,
               buttons: str = "") -> Callable[[Handler], Handler]:
        """``@router.dialog("gopy", ...)``: free text while dialog ``name`` is open for the user;
        ``buttons``: the prefix of the dialog's buttons."""
        def register(handler: Handler) -> Handler:
            self._add_dialog(Dialog(name, handler, about, command, cancelled, buttons))
            return handler
        return register

    def cancels(self, hook: CancelHook) -> CancelHook:
        """``@router.cancels``: something besides a dialog that /huy stops (an open quiz round)."""
        self._cancel_hooks.append(hook)
        return hook

    def media(self, handler: Handler) -> Handler:
        """``@router.media``: a message with no text the bot can read (voice, sticker, …)."""
        self._media = handler
        return handler

    def text(self, handler: Handler) -> Handler:
        """``@router.text``: any other free text (a question)."""
        self._text = handler
        return handler

    def prefetch(self, hook: "Prefetch") -> "Prefetch":
        """``@router.prefetch``: work for free text started as soon as it arrives, before the
        update's transaction and turn exist (a question's search); ``hook(msg, deps)`` returns an awaitable,
        or None when there is nothing to start. The text handler gets the result as
        ``turn.search_ahead``."""
        self._prefetch = hook
        return hook

    def prefetch_for(self, msg: Incoming, deps: "Deps") -> "Awaitable[Any] | None":
        return self._prefetch(msg, deps) if self._prefetch is not None else None

    def include(self, other: "Router") -> None:
        """Take over everything ``other`` (a handlers module's router) registered.

        A command name, button prefix or dialog name claimed twice is an error
        at start-up, not a silent override.
        """
        for command in other._commands.values():
            self._add_command(command)
        for prefix, handler in other._buttons.items():
            self._add_button(prefix, handler)
        for dialog in other._dialogs.values():
            self._add_dialog(dialog)
        self._cancel_hooks += other._cancel_hooks
        for kind in ("_media", "_text", "_prefetch"):
            handler = getattr(other, kind)
            if handler is not None:
                if getattr(self, kind) is not None:
                    raise ValueError(f"two handlers for {kind[1:]} messages")
                setattr(self, kind, handler)

    def _add_command(self, command: Command) -> None:
        if command.name in self._commands:
            raise ValueError(f"command /{command.name} registered twice")
        self._commands[command.name] = command

    def _add_button(self, prefix: str, handler: Handler) -> None:
        if not prefix or ":" in prefix or prefix in self._buttons:
            raise ValueError(f"button prefix {prefix!r} empty, malformed or registered twice")
        self._buttons[prefix] = handler

    def _add_dialog(self, dialog: Dialog) -> None:
        if dialog.name in self._dialogs:
            raise ValueError(f"dialog {dialog.name!r} registered twice")
        self._dialogs[dialog.name] = dialog

    # -- what the registry tells others --------------------------------------------

    def public_commands(self) -> list[Command]:
        return [c for c in self._commands.values() if not c.hidden]

    def find_dialog(self, name: str | None) -> Dialog | None:
        return self._dialogs.get(name) if name else None

    def dialog_of_button(self, data: str) -> Dialog | None:
        """The dialog whose buttons carry ``data`` ("fb:…" → /gopy's), if any."""
        prefix = data.split(":", 1)[0]
        return next((d for d in self._dialogs.values() if d.buttons and d.buttons == prefix), None)

    @property
    def cancel_hooks(self) -> list[CancelHook]:
        return list(self._cancel_hooks)

    # -- dispatch ----------------------------------------------------------------------

    async def dispatch(self, msg: Incoming, turn: "Turn",
                       open_dialog: "Awaitable[str | None] | None" = None) -> list[Reply]:
        """``open_dialog``: the user's open dialog, when the caller already started
        looking it up (the pipeline does, while the question is searched).

        On a platform without buttons, numbers typed for choices are read, and
        the choices offered are numbered, by bot/choices.py around this."""
        if not has_buttons(msg.platform):
            return await dispatch_numbered(msg, turn, lambda numbered: self._dispatch(numbered, turn, open_dialog))
        return await self._dispatch(msg, turn, open_dialog)

    async def _dispatch(self, msg: Incoming, turn: "Turn",
                        open_dialog: "Awaitable[str | None] | None") -> list[Reply]:
        if msg.callback_data is not None:
            prefix = msg.callback_data.split(":", 1)[0]
            handler = self._buttons.get(prefix)
            return await handler(msg, turn) if handler else [Reply(STALE_BUTTON)]
        if msg.command:
            command = self._commands.get(msg.command)
            if command is None:
                return [Reply(UNKNOWN_COMMAND.format(name=msg.command[:32]))]
            return await command.handler(msg, turn)
        if msg.media and not msg.text and self._media is not None:
            return await self._media(msg, turn)
        dialog = self.find_dialog(await (open_dialog or turn.dialogs.peek(msg.platform, msg.user_id)))
        if dialog is not None:
            return await dialog.on_text(msg, turn)
        # A dialog left unfinished for too long: say so once, then answer as usual.
        expired = self.find_dialog(await turn.dialogs.expired(msg.platform, msg.user_id))
        replies = await self._text(msg, turn) if self._text is not None else []
        return ([Reply(expired.expired_notice)] if expired else []) + replies
