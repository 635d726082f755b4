"""What a messenger package provides: a `Channel` out, an inbound side in.

Outbound: `Channel.send(chat_id, reply)` makes one attempt (a long reply may
be several platform messages; the parts go out in order and the first
failure stops it) and returns a `Delivery`. It never sleeps and never
retries: rate limits, backoff and deadlines belong to the caller.

Inbound: the package's ``start_inbound(app, accept, settings)`` adds its
webhook routes or polling lifecycle to the aiohttp app and turns each
platform update into an `Incoming`, handed to ``accept``. ``accept`` returns
once the update is stored durably; only then is it acknowledged to the
platform (webhook 200, polling offset). The core processes it and sends
the replies through the channel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.channels.delivery import Delivery
from bot.messages import Incoming, Reply

# Stores an accepted update durably; acknowledging it to the platform comes after.
Accept = Callable[[Incoming], Awaitable[None]]


@dataclass(frozen=True)
class PlatformLimits:
    """A platform's sending limits and shape, as documented by it (settings may lower them)."""

    per_second: float                  # messages per second for the whole bot / OA (0: no limit)
    chat_interval_seconds: float       # spacing between two messages to one chat
    text_limit: int                    # characters in one message; longer replies are split
    buttons: bool                      # inline buttons; False: choices are shown as numbered text
    can_edit: bool                     # a sent message can be edited (menus change in place)


class Channel(Protocol):
    platform: str                      # the registry name
    limits: PlatformLimits

    async def send(self, chat_id: str, reply: Reply, *, skip_parts: int = 0) -> Delivery:
        """One attempt to deliver ``reply`` to ``chat_id``. ``skip_parts``: the first parts of
        a long reply went out in an earlier attempt (``Delivery.parts_sent``); send the rest."""

    async def edit(self, chat_id: str, message_id: str, reply: Reply) -> Delivery:
        """One attempt to replace a sent message (a menu) with ``reply``; a platform
        that cannot edit (``limits.can_edit`` False) answers PERMANENT at once."""

    async def aclose(self) -> None:
        """Release connections; the channel is not used afterwards."""


class SendGate(Protocol):
    """Asked before every send attempt: returns when the platform's limits allow one more
    message to ``chat_id`` (the shared limiter, bot/channels/limits.py, plugs in here)."""

    async def acquire(self, platform: str, chat_id: str) -> None: ...


class NoGate:
    """No limit (tests, the terminal)."""

    async def acquire(self, platform: str, chat_id: str) -> None:
        return None


class PollStore(Protocol):
    """Where a platform with native quiz polls keeps which poll asks which question."""

    async def link(self, platform: str, poll_id: str, key: str, chat_id: str, message_id: str) -> None: ...

    async def find(self, platform: str, poll_id: str) -> tuple[str, str] | None:
        """(answer key, chat id) of a poll we sent, or None."""


@dataclass(frozen=True)
class PlatformContext:
    """What the core offers every platform package (``build_channel`` / ``start_inbound``);
    each takes what it needs and ignores the rest."""

    commands: tuple[tuple[str, str], ...] = ()   # public (command, description), for a "/" menu
    polls: PollStore | None = None
    # Where a platform keeps rotating tokens: (platform, its old store to import from) → store.
    token_store_for: Callable[[str, object], object] | None = None
    channel: Channel | None = None               # the platform's channel (inbound readiness)
    on_unfollow: Callable[[str, str], Awaitable[None]] | None = None   # (platform, user id)
