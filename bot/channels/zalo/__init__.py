"""Zalo Official Account: `build_channel` for sending, the signed webhook for events.

    api.py      the OA API client: CS text messages, the token pair and its refresh
    channel.py  a reply as numbered-choice text messages → `Delivery`
    webhook.py  signed events in → `Incoming`
"""

from __future__ import annotations

import aiohttp

from bot.channels import registry
from bot.channels.zalo.api import TokenStore, ZaloClient, default_token_store
from bot.channels.zalo.channel import PLATFORM, ZaloChannel
from bot.settings import Settings


def build_channel(settings: Settings, session: aiohttp.ClientSession, *,
                  token_store: TokenStore | None = None) -> ZaloChannel:
    client = ZaloClient(settings.zalo, session, token_store or default_token_store(settings.data_dir))
    return ZaloChannel(client, registry.get(PLATFORM).limits)
