"""A resident's own ward's documents: searched again with their ward when it has some.

The first search of a question (started as it arrives, bot/pipeline.py)
knows no one's ward: it quotes city-wide documents, and a ward's documents
only when the question names that ward. When the asker registered a ward
(/dangky) that has documents or announcements of its own, the question is
searched again with that ward in scope (retrieval/live.py), so "phường mình
có thông báo gì?" finds their ward's announcements and never another's.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.deps import Deps
from bot.messages import Incoming
from bot.storage import transaction
from bot.storage.models import Resident
from retrieval.searcher import SearchResult
from vntext.normalize import fold


async def with_resident_ward(msg: Incoming, deps: Deps, result: SearchResult) -> SearchResult:
    live = getattr(getattr(deps.searcher, "searcher", None), "live", None)
    if live is None or not live.current.wards or deps.db is None:
        return result
    async with transaction(deps) as session:
        ward = await session.scalar(select(Resident.ward).where(
            Resident.platform == msg.platform, Resident.platform_user_id == msg.user_id))
    if not ward or fold(ward) not in {fold(w) for w in live.current.wards}:
        return result
    return await deps.searcher.search(msg.text, k=deps.settings.top_k, ward=ward)
