"""Zalo Bot Platform: bots any Zalo user creates in the Zalo Bot Creator, talking to
residents in their personal Zalo through a Telegram-like Bot API.

The whole messenger is this package plus its entry in bot/channels/registry.py
and the ``zalo_bot`` field of `bot.settings.Settings`:

    settings.py  ZaloBotSettings (CIVICBOT_ZALO_BOT__TOKEN, __BASE_URL, __WEBHOOK_URL, __WEBHOOK_SECRET)
    api.py       the HTTP client (one POST per call, never raises)
    channel.py   outbound: Reply → numbered text → sendMessage → Delivery
    inbound.py   inbound: update → Incoming → accept, by long polling or webhook

The two functions below are what the runner calls (bot/channels/base.py).
They import the package's aiohttp code when called: bot/settings.py imports
this package for its settings model and must stay cheap to import.
"""

from __future__ import annotations

from collections.abc import Callable


def build_channel(settings, session, context=None):
    """The outbound channel; ``session`` is the caller's aiohttp session (it closes it).
    ``context`` (bot/channels/base.PlatformContext) holds nothing this platform needs."""
    from bot.channels import registry
    from bot.channels.zalo_bot.api import ZaloBotAPI
    from bot.channels.zalo_bot.channel import PLATFORM, ZaloBotChannel
    from bot.settings import SettingsError

    section = settings.zalo_bot
    if not section.enabled:
        raise SettingsError("Cấu hình thiếu: CIVICBOT_ZALO_BOT__TOKEN.")
    api = ZaloBotAPI(section.base_url, section.token.get_secret_value(), session,
                     timeout=settings.send_timeout_seconds)
    return ZaloBotChannel(api, registry.get(PLATFORM).limits)


def start_inbound(app, accept, settings, context=None) -> Callable:
    """Long polling or the webhook (CIVICBOT_ZALO_BOT__WEBHOOK_URL set), started and stopped
    with ``app``; returns the readiness check (token accepted, updates coming in)."""
    from bot.channels.zalo_bot.inbound import add_inbound

    return add_inbound(app, accept, settings.zalo_bot).check
