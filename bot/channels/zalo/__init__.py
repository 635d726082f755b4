"""Zalo Official Account: `build_channel` for sending, the signed webhook for events.

    api.py      the OA API client: CS text messages, the token pair and its refresh
    channel.py  a reply as numbered-choice text messages → `Delivery`
    webhook.py  signed events in → `Incoming`, stored before they are acknowledged
"""

from __future__ import annotations

import aiohttp

from bot.channels import registry
from bot.channels.base import PlatformContext
from bot.channels.zalo.api import ZaloClient, default_token_store
from bot.channels.zalo.channel import PLATFORM, ZaloChannel
from bot.channels.zalo.webhook import start_inbound
from bot.settings import Settings


def build_channel(settings: Settings, session: aiohttp.ClientSession,
                  context: PlatformContext = PlatformContext()) -> ZaloChannel:
    """The Zalo channel on ``session``; the token pair lives where ``context.token_store_for``
    says (the database, shared by every process), else in a file in the data directory."""
    store = default_token_store(settings.data_dir)
    if context.token_store_for is not None:
        store = context.token_store_for(PLATFORM, store)
    client = ZaloClient(settings.zalo, session, store,      # type: ignore[arg-type]
                        timeout=settings.send_timeout_seconds)
    return ZaloChannel(client, registry.get(PLATFORM).limits)


__all__ = ["build_channel", "start_inbound"]
