"""A question's search, with the asker's ward in scope when their ward has documents of its own.

Without a ward, a search quotes city-wide documents, and a ward's documents
only when the question names that ward (retrieval/live.py). When the asker
registered a ward (/dangky) that has documents or announcements of its own,
that ward is in scope too, so "phường mình có thông báo gì?" finds their
ward's announcements and never another's.

The pipeline starts this search as a message arrives, before the update's
transaction opens (bot/pipeline.py): the ward is read in a short session of
its own, which never waits behind the update's (one SQLite connection).
"""

from __future__ import annotations

from sqlalchemy import select

from bot.deps import Deps
from bot.messages import Incoming
from bot.storage.models import Resident
from retrieval.searcher import SearchResult
from vntext.normalize import fold


async def search_question(msg: Incoming, deps: Deps) -> SearchResult:
    ward = await _ward_with_documents(msg, deps)
    if ward is None:
        return await deps.searcher.search(msg.text, k=deps.settings.top_k)
    return await deps.searcher.search(msg.text, k=deps.settings.top_k, ward=ward)


async def _ward_with_documents(msg: Incoming, deps: Deps) -> str | None:
    live = getattr(getattr(deps.searcher, "searcher", None), "live", None)
    if live is None or not live.current.wards or deps.db is None:
        return None
    async with deps.db.sessions() as session:
        ward = await session.scalar(select(Resident.ward).where(
            Resident.platform == msg.platform, Resident.platform_user_id == msg.user_id))
    return ward if ward and fold(ward) in {fold(w) for w in live.current.wards} else None
