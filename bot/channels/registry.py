"""Every messenger the bot speaks, in one list: the only place platform names live.

A `PlatformSpec` names the package that implements the platform. The package
(e.g. ``bot.channels.telegram``) exposes:

* ``build_channel(settings, session) -> Channel``: outbound, one attempt per send;
* ``start_inbound(app, accept, settings) -> readiness check``: webhook routes
  and/or polling added to the aiohttp app (see bot/channels/base.py).

The package is imported only when the platform is used, so the registry stays
cheap to import (settings, CLIs, tests).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from bot.channels.base import PlatformLimits


@dataclass(frozen=True)
class PlatformSpec:
    name: str                  # stored with every subscriber, dialog, outbox row: never rename
    label: str                 # what officials and residents read ("Zalo")
    section: str               # the Settings attribute and env prefix: CIVICBOT_<SECTION>__*
    package: str               # dotted module path of the implementation
    limits: PlatformLimits

    def module(self) -> ModuleType:
        return importlib.import_module(self.package)

    def settings_of(self, settings) -> object:
        """This platform's settings section (a pydantic model with an ``enabled`` property)."""
        return getattr(settings, self.section)

    def enabled(self, settings) -> bool:
        return bool(getattr(self.settings_of(settings), "enabled", False))


PLATFORMS: tuple[PlatformSpec, ...] = (
    PlatformSpec(
        name="telegram", label="Telegram", section="telegram", package="bot.channels.telegram",
        # Bot API FAQ: about 30 messages/s overall, 1 message/s in one chat.
        limits=PlatformLimits(per_second=30.0, chat_interval_seconds=1.0, text_limit=4096,
                              buttons=True, can_edit=True),
    ),
    PlatformSpec(
        name="zalo", label="Zalo", section="zalo", package="bot.channels.zalo",
        # The OA's quota is agreed with Zalo; 5/s is a safe default. CS messages carry no buttons here.
        limits=PlatformLimits(per_second=5.0, chat_interval_seconds=1.0, text_limit=2000,
                              buttons=False, can_edit=False),
    ),
    PlatformSpec(
        name="zalo_bot", label="Zalo Bot", section="zalo_bot", package="bot.channels.zalo_bot",
        # Zalo documents 2,000 characters per message, no buttons, no edits, and no rate:
        # the OA's safe default, and one message a second in one chat.
        limits=PlatformLimits(per_second=5.0, chat_interval_seconds=1.0, text_limit=2000,
                              buttons=False, can_edit=False),
    ),
)

_BY_NAME = {spec.name: spec for spec in PLATFORMS}


def names() -> tuple[str, ...]:
    return tuple(_BY_NAME)


def get(name: str) -> PlatformSpec:
    """The spec for ``name``; KeyError for a platform the bot does not know."""
    return _BY_NAME[name]


def label(name: str) -> str:
    spec = _BY_NAME.get(name)
    return spec.label if spec else name


def enabled(settings) -> tuple[PlatformSpec, ...]:
    """The platforms whose credentials are configured."""
    return tuple(spec for spec in PLATFORMS if spec.enabled(settings))


def broadcast_targets(settings) -> tuple[str, ...]:
    """The platforms an announcement can go through: the configured ones (every
    known one when none is, e.g. composing before the tokens are set)."""
    return tuple(spec.name for spec in enabled(settings)) or names()
