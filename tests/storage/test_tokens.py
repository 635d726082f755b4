"""The token pair in the database (bot/storage/tokens.py) on SQLite and PostgreSQL:
one refresher at a time across processes, the old token file imported once."""

from __future__ import annotations

from bot.channels.zalo.api import MemoryTokenStore, TokenPair
from bot.storage.tokens import DbTokenStore


async def test_one_process_at_a_time_may_spend_the_refresh_token(db):
    first, second = DbTokenStore(db.sessions, "zalo"), DbTokenStore(db.sessions, "zalo")
    await first.save(TokenPair("a0", "r0", seeded_from="seed"))
    assert await first.claim_refresh("r0")
    assert not await second.claim_refresh("r0")          # the other process waits
    await first.save(TokenPair("a1", "r1", seeded_from="seed"))
    assert (await second.load()).access_token == "a1"     # ... and finds the new pair
    assert not await second.claim_refresh("r0")           # a spent refresh token is never claimed again
    assert await second.claim_refresh("r1")


async def test_a_failed_refresh_releases_its_claim(db):
    first, second = DbTokenStore(db.sessions, "zalo"), DbTokenStore(db.sessions, "zalo")
    await first.save(TokenPair("a0", "r0"))
    assert await first.claim_refresh("r0")
    await first.release_refresh()
    assert await second.claim_refresh("r0")


async def test_without_a_stored_pair_the_first_claim_wins(db):
    first, second = DbTokenStore(db.sessions, "zalo"), DbTokenStore(db.sessions, "zalo")
    assert await first.claim_refresh("r-settings")
    assert not await second.claim_refresh("r-settings")
    assert (await second.load()).access_token == ""       # a placeholder: nobody adopts it


async def test_the_token_file_of_earlier_versions_is_imported(db):
    legacy = MemoryTokenStore(TokenPair("a-file", "r-file", 123.0, "seed"))
    assert await DbTokenStore(db.sessions, "zalo", legacy=legacy).load() == legacy.tokens
    legacy.tokens = None
    assert (await DbTokenStore(db.sessions, "zalo", legacy=legacy).load()).refresh_token == "r-file"
