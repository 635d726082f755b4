"""Fake messenger servers for end-to-end tests and benchmarks.

Each fake is a small aiohttp server on 127.0.0.1 (random port) that speaks
enough of the real API for our adapters, records every call for assertions,
and can be told to fail (rate limits, server errors, blocked chats):

    telegram_api.FakeTelegramAPI   the Bot API under /bot<token>/<method>
    zalo_api.FakeZaloAPI           the Zalo OA API
"""
