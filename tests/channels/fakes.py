"""Each registered platform's channel against its fake server, with the same fault knobs.

The contract suite (test_contract.py) runs once per entry of `FAKES`; a new
messenger plugs in with a class like these and its fake server. Knobs:

    rate_limited(seconds)   the next send is refused with the platform's "slow down"
    server_error()          the next send gets a 5xx without being delivered
    delivered_then_error()  the next send is delivered, then answered with a 5xx
    timeout()               the next send gets no answer within the channel's timeout
    unreachable() -> Outcome  the chat can no longer be written to; the outcome it gives
    fail_part(n)            the n-th send (1-based) from now gets a 5xx
    texts()                 what the chat received, in order
    edited()                texts the chat's messages were edited to
"""

from __future__ import annotations

import aiohttp
from pydantic import SecretStr

from bot.channels import registry
from bot.channels.delivery import Outcome
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.zalo.api import MemoryTokenStore, ZaloClient
from bot.channels.zalo.channel import ZaloChannel
from bot.settings import ZaloSettings
from tests.fakes import telegram_api, zalo_api

CHANNEL_TIMEOUT = 0.5           # seconds; the fakes' "timeout" answers after 4x this


class TelegramFake:
    platform = "telegram"
    chat_id = "4242"

    async def start(self, session: aiohttp.ClientSession) -> TelegramChannel:
        self.api = await telegram_api.FakeTelegramAPI().start()
        return TelegramChannel(self.api.token, self.api.base_url, session, registry.get(self.platform).limits,
                               timeout=CHANNEL_TIMEOUT)

    async def close(self) -> None:
        await self.api.close()

    def _fault(self, fault: telegram_api.Fault) -> None:
        self.api.add_fault(fault, chat_id=self.chat_id)

    def rate_limited(self, seconds: int) -> None:
        self._fault(telegram_api.Fault.rate_limited(seconds))

    def server_error(self) -> None:
        self._fault(telegram_api.Fault.server_error(502))

    def delivered_then_error(self) -> None:
        self._fault(telegram_api.Fault.delivered_then_error())

    def timeout(self) -> None:
        self._fault(telegram_api.Fault.slow(CHANNEL_TIMEOUT * 4))

    def unreachable(self) -> Outcome:
        self.api.block(self.chat_id)
        return Outcome.BLOCKED

    def fail_part(self, n: int) -> None:
        for _ in range(n - 1):
            self._fault(telegram_api.Fault.slow(0))
        self.server_error()

    def texts(self) -> list[str]:
        return self.api.texts(self.chat_id)

    def edited(self) -> list[str]:
        return [c.params["text"] for c in self.api.calls_to("editMessageText", self.chat_id)]


class ZaloFake:
    platform = "zalo"
    chat_id = "zalo-user-42"

    async def start(self, session: aiohttp.ClientSession) -> ZaloChannel:
        self.api = await zalo_api.FakeZaloAPI().start()
        settings = ZaloSettings(app_id=self.api.app_id, app_secret=SecretStr(self.api.app_secret),
                                access_token=SecretStr(self.api.access_token),
                                refresh_token=SecretStr(self.api.refresh_token),
                                api_base_url=self.api.base_url, oauth_base_url=self.api.base_url)
        client = ZaloClient(settings, session, MemoryTokenStore(), timeout=CHANNEL_TIMEOUT)
        return ZaloChannel(client, registry.get(self.platform).limits)

    async def close(self) -> None:
        await self.api.close()

    def _fault(self, fault: zalo_api.Fault) -> None:
        self.api.inject(self.chat_id, fault)

    def rate_limited(self, seconds: int) -> None:
        self._fault(zalo_api.Fault.http(429))

    def server_error(self) -> None:
        self._fault(zalo_api.Fault.http(502))

    def delivered_then_error(self) -> None:
        self._fault(zalo_api.Fault.delivered_then(500))

    def timeout(self) -> None:
        self._fault(zalo_api.Fault.timeout(CHANNEL_TIMEOUT * 4))

    def unreachable(self) -> Outcome:
        self.api.out_of_window.add(self.chat_id)
        return Outcome.OUTSIDE_WINDOW

    def fail_part(self, n: int) -> None:
        for _ in range(n - 1):
            self._fault(zalo_api.Fault.slow(0))
        self.server_error()

    def texts(self) -> list[str]:
        return self.api.texts_to(self.chat_id)

    def edited(self) -> list[str]:
        return []


from tests.channels.zalo_bot_fake import ZaloBotFake  # noqa: E402  (after the fakes it builds on)

FAKES = {"telegram": TelegramFake, "zalo": ZaloFake, "zalo_bot": ZaloBotFake}
