"""Telegram: `build_channel` for sending (chat replies and broadcasts), the adapter for updates.

    channel.py  one Bot API attempt per part → `Delivery` (the only Telegram sending client)
    adapter.py  updates in (long polling or our webhook route) → `Incoming`
"""

from __future__ import annotations

import aiohttp

from bot.channels import registry
from bot.channels.base import PlatformContext
from bot.channels.telegram.adapter import start_inbound
from bot.channels.telegram.channel import PLATFORM, TelegramChannel
from bot.settings import Settings, SettingsError


def build_channel(settings: Settings, session: aiohttp.ClientSession,
                  context: PlatformContext = PlatformContext()) -> TelegramChannel:
    """The Telegram channel on ``session``; ``context.polls`` stores the quiz polls it sends."""
    telegram = settings.telegram
    token = telegram.token.get_secret_value() if telegram.token else ""
    if not token:
        raise SettingsError("Cấu hình thiếu: CIVICBOT_TELEGRAM__TOKEN.")
    return TelegramChannel(token, telegram.base_url, session, registry.get(PLATFORM).limits,
                           timeout=settings.send_timeout_seconds, polls=context.polls)


__all__ = ["build_channel", "start_inbound"]
