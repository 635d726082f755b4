"""The Zalo Bot channel against its fake server, with the contract suite's fault knobs.

For tests/channels/test_contract.py (the shared suite over every registered
platform): register it there as ``FAKES["zalo_bot"] = ZaloBotFake``.
"""

from __future__ import annotations

import aiohttp

from bot.channels import registry
from bot.channels.delivery import Outcome
from bot.channels.zalo_bot.api import ZaloBotAPI
from bot.channels.zalo_bot.channel import ZaloBotChannel
from tests.fakes.zalo_bot_api import FakeZaloBotAPI, Fault

CHANNEL_TIMEOUT = 0.5           # seconds; "timeout" answers after 4x this


class ZaloBotFake:
    platform = "zalo_bot"
    chat_id = "zalo-bot-chat-42"

    async def start(self, session: aiohttp.ClientSession) -> ZaloBotChannel:
        self.api = await FakeZaloBotAPI().__aenter__()
        client = ZaloBotAPI(self.api.base_url, self.api.token, session, timeout=CHANNEL_TIMEOUT)
        return ZaloBotChannel(client, registry.get(self.platform).limits)

    async def close(self) -> None:
        await self.api.__aexit__(None, None, None)

    def _fault(self, fault: Fault) -> None:
        self.api.add_fault(fault, method="sendMessage", chat_id=self.chat_id)

    def rate_limited(self, seconds: int) -> None:
        self._fault(Fault.rate_limited(seconds))

    def server_error(self) -> None:
        self._fault(Fault.server_error(502))

    def delivered_then_error(self) -> None:
        self._fault(Fault.error_after_delivery())

    def timeout(self) -> None:
        self._fault(Fault.timeout(CHANNEL_TIMEOUT * 4))

    def unreachable(self) -> Outcome:
        self._fault(Fault.blocked())
        return Outcome.BLOCKED

    def fail_part(self, n: int) -> None:
        for _ in range(n - 1):
            self._fault(Fault.answer_normally())
        self.server_error()

    def texts(self) -> list[str]:
        return self.api.texts_to(self.chat_id)

    def edited(self) -> list[str]:
        return []                 # Zalo Bot messages cannot be edited
