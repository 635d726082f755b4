"""What handlers and the CLI store and read, one function per job.

Each function works inside the caller's session and never commits: the
unit of work (one update, one CLI command) decides. Platform ids enter here
and are never exported (see `bot.storage.export`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy import insert as insert_rows
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.broadcast_models import BroadcastRecipient
from bot.storage.models import (
    QUESTION_STATUSES,
    AnswerLog,
    ChatContextState,
    DialogState,
    Feedback,
    InboxQuestion,
    Official,
    Resident,
    Subscription,
    SubscriptionGroup,
)
from bot.storage.quiz_repo import delete_member_quiz
from bot.storage.sql import insert_for

# "viewer": reads the console (and /thongke), never acts: no broadcasts, no answers.
ROLES = ("official", "admin", "viewer")


# Residents ---------------------------------------------------------------

async def find_resident(session: AsyncSession, platform: str, user_id: str) -> Resident | None:
    return await session.scalar(
        select(Resident).where(Resident.platform == platform, Resident.platform_user_id == user_id)
    )


async def ensure_resident(session: AsyncSession, platform: str, user_id: str,
                          display_name: str | None, now: datetime) -> Resident:
    """The resident's row, created on first contact (safe against concurrent first contacts)."""
    await _insert_missing_residents(session, [(platform, user_id, display_name)], now)
    resident = await find_resident(session, platform, user_id)
    assert resident is not None
    if display_name and resident.display_name != display_name:
        resident.display_name = display_name
        resident.updated_at = now
    return resident


@dataclass(frozen=True)
class ResidentRef:
    id: int
    ward: str | None


async def ensure_residents(session: AsyncSession, people: Sequence[tuple[str, str, str | None]],
                           now: datetime) -> dict[tuple[str, str], ResidentRef]:
    """`ensure_resident` for many (platform, user id, display name) at once, in three statements."""
    await _insert_missing_residents(session, people, now)
    keys = {(platform, user_id) for platform, user_id, _ in people}
    rows = (await session.execute(
        select(Resident.id, Resident.platform, Resident.platform_user_id, Resident.ward, Resident.display_name)
        .where(tuple_(Resident.platform, Resident.platform_user_id).in_(sorted(keys)))
    )).all()
    names = {(platform, user_id): name for platform, user_id, name in people if name}
    renamed = [{"id": r.id, "display_name": names[(r.platform, r.platform_user_id)], "updated_at": now}
               for r in rows if names.get((r.platform, r.platform_user_id), r.display_name) != r.display_name]
    if renamed:
        await session.execute(update(Resident), renamed)     # bulk UPDATE by primary key
    return {(r.platform, r.platform_user_id): ResidentRef(r.id, r.ward) for r in rows}


async def _insert_missing_residents(session: AsyncSession, people: Sequence[tuple[str, str, str | None]],
                                    now: datetime) -> None:
    insert = insert_for(session)
    first_seen = {(platform, user_id): name for platform, user_id, name in reversed(people)}
    await session.execute(
        insert(Resident)
        .values([{"platform": platform, "platform_user_id": user_id, "display_name": name,
                  "created_at": now, "updated_at": now}
                 for (platform, user_id), name in sorted(first_seen.items())])
        .on_conflict_do_nothing(index_elements=[Resident.platform, Resident.platform_user_id])
    )


# Q&A ---------------------------------------------------------------------

@dataclass(frozen=True)
class AnswerEntry:
    """One answered (or declined) question, as the answer log stores it."""

    platform: str
    user_id: str
    display_name: str | None
    question: str
    top_passage_id: str | None
    confident: bool
    confidence: float
    at: datetime
    chat_id: str | None = None            # where the question came from (and an answer can go)
    # What the answer showed, for follow-ups in this chat (handlers/context.py); None: unchanged.
    context: dict[str, Any] | None = None


async def log_answers(session: AsyncSession, entries: Sequence[AnswerEntry], now: datetime) -> list[int]:
    """Log answers, declined ones also into the question inbox, and each chat's context; ids, in order."""
    residents = await ensure_residents(
        session, [(e.platform, e.user_id, e.display_name) for e in entries], now)
    asker = [residents[(e.platform, e.user_id)] for e in entries]
    ids = list((await session.scalars(
        insert_rows(AnswerLog).returning(AnswerLog.id, sort_by_parameter_order=True),
        [{"resident_id": r.id, "platform": e.platform, "question": e.question,
          "top_passage_id": e.top_passage_id, "confident": e.confident, "confidence": e.confidence,
          "ward": r.ward, "created_at": e.at} for e, r in zip(entries, asker)],
    )).all())
    declined = [{"resident_id": r.id, "answer_id": answer_id, "platform": e.platform, "chat_id": e.chat_id,
                 "question": e.question, "ward": r.ward, "nearest_passage_id": e.top_passage_id,
                 "confidence": e.confidence, "origin": "declined", "status": "new", "created_at": e.at}
                for e, r, answer_id in zip(entries, asker, ids) if not e.confident]
    if declined:
        await session.execute(insert_rows(InboxQuestion), declined)
    contexts = {(e.platform, e.chat_id): (e.user_id, e.context) for e in entries
                if e.context is not None and e.chat_id}
    if contexts:
        await save_chat_contexts(session, contexts, now)
    return ids


# Chat context ------------------------------------------------------------

async def save_chat_contexts(session: AsyncSession,
                             contexts: dict[tuple[str, str], tuple[str, dict[str, Any]]], now: datetime) -> None:
    """Store what the last answer in each chat showed: (platform, chat id) → (user id, state); one row per chat."""
    insert = insert_for(session)
    stmt = insert(ChatContextState).values([
        {"platform": platform, "chat_id": chat_id, "platform_user_id": user_id, "state": state, "updated_at": now}
        for (platform, chat_id), (user_id, state) in sorted(contexts.items())
    ])
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[ChatContextState.platform, ChatContextState.chat_id],
        set_={"platform_user_id": stmt.excluded.platform_user_id, "state": stmt.excluded.state,
              "updated_at": stmt.excluded.updated_at},
    ))


async def chat_contexts(session: AsyncSession, keys: Sequence[tuple[str, str]],
                        since: datetime) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored contexts of these chats, when written after ``since``."""
    rows = (await session.execute(
        select(ChatContextState.platform, ChatContextState.chat_id, ChatContextState.state)
        .where(tuple_(ChatContextState.platform, ChatContextState.chat_id).in_(sorted(set(keys))),
               ChatContextState.updated_at >= since)
    )).all()
    return {(r.platform, r.chat_id): dict(r.state) for r in rows}


async def prune_chat_contexts(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(delete(ChatContextState).where(ChatContextState.updated_at < before))
    return result.rowcount or 0


# Question inbox ----------------------------------------------------------

FORWARDED, ALREADY_FORWARDED = "forwarded", "already"


async def forward_question(session: AsyncSession, answer_id: int, platform: str, user_id: str,
                           chat_id: str, now: datetime) -> str:
    """The resident sends their declined question on to officials ("Gửi câu hỏi này tới cán bộ").

    The inbox row logged with the decline becomes origin "asked" (one row per
    question); pressing again changes nothing (ALREADY_FORWARDED). Someone
    else's question, or one that does not exist, reports NOT_YOURS.
    """
    resident = await find_resident(session, platform, user_id)
    if resident is None:
        return NOT_YOURS
    result = await session.execute(
        update(InboxQuestion)
        .where(InboxQuestion.answer_id == answer_id, InboxQuestion.resident_id == resident.id,
               InboxQuestion.origin == "declined")
        .values(origin="asked", asked_at=now, chat_id=chat_id, ward=func.coalesce(InboxQuestion.ward, resident.ward))
    )
    if result.rowcount:
        return FORWARDED
    exists = await session.scalar(
        select(func.count()).select_from(InboxQuestion)
        .where(InboxQuestion.answer_id == answer_id, InboxQuestion.resident_id == resident.id))
    return ALREADY_FORWARDED if exists else NOT_YOURS


RATED, ALREADY_RATED, NOT_YOURS = "rated", "already", "not_yours"


async def rate_answer(session: AsyncSession, answer_id: int, platform: str, user_id: str,
                      value: int, now: datetime) -> str:
    """Store 👍 (+1) or 👎 (-1) for an answer the user was given.

    The first rating counts; a second tap (either button, or a replayed
    callback) changes nothing and reports ALREADY_RATED. Answers given to
    someone else, or that do not exist, report NOT_YOURS.
    """
    resident = await find_resident(session, platform, user_id)
    if resident is None:
        return NOT_YOURS
    result = await session.execute(
        update(AnswerLog)
        .where(AnswerLog.id == answer_id, AnswerLog.resident_id == resident.id,
               AnswerLog.confident.is_(True), AnswerLog.rating.is_(None))
        .values(rating=value, rated_at=now)
    )
    if result.rowcount == 1:
        return RATED
    exists = await session.scalar(
        select(func.count()).select_from(AnswerLog)
        .where(AnswerLog.id == answer_id, AnswerLog.resident_id == resident.id,
               AnswerLog.confident.is_(True))
    )
    return ALREADY_RATED if exists else NOT_YOURS


# Feedback ----------------------------------------------------------------

async def add_feedback(session: AsyncSession, resident: Resident, platform: str, topic: str,
                       topic_label: str, text: str, now: datetime) -> Feedback:
    entry = Feedback(resident_id=resident.id, platform=platform, topic=topic,
                     topic_label=topic_label, ward=resident.ward, text=text, created_at=now)
    session.add(entry)
    await session.flush()
    return entry


# Subscriptions -----------------------------------------------------------

async def subscribe(session: AsyncSession, resident: Resident, chat_id: str, ward: str,
                    groups: Iterable[str], chi_doan: str | None, now: datetime) -> Subscription:
    """Create or replace the resident's subscription; the profile takes the ward and chi đoàn."""
    resident.ward = ward
    resident.chi_doan = chi_doan
    resident.updated_at = now
    sub = await session.scalar(select(Subscription).where(Subscription.resident_id == resident.id))
    if sub is None:
        sub = Subscription(resident_id=resident.id, platform=resident.platform, created_at=now,
                           chat_id=chat_id, ward=ward, active=True, updated_at=now)
        session.add(sub)
        await session.flush()
    else:
        sub.chat_id, sub.ward, sub.active, sub.updated_at = chat_id, ward, True, now
        await session.execute(delete(SubscriptionGroup).where(SubscriptionGroup.subscription_id == sub.id))
    session.add_all(SubscriptionGroup(subscription_id=sub.id, group_code=g) for g in sorted(set(groups)))
    await session.flush()
    return sub


async def unsubscribe(session: AsyncSession, platform: str, user_id: str, now: datetime) -> bool:
    """Stop announcements; False when there was no active subscription."""
    resident = await find_resident(session, platform, user_id)
    if resident is None:
        return False
    result = await session.execute(
        update(Subscription)
        .where(Subscription.resident_id == resident.id, Subscription.active.is_(True))
        .values(active=False, updated_at=now)
    )
    return result.rowcount == 1


async def subscription_of(session: AsyncSession, resident_id: int) -> tuple[Subscription, list[str]] | None:
    sub = await session.scalar(select(Subscription).where(Subscription.resident_id == resident_id))
    if sub is None:
        return None
    groups = (await session.scalars(
        select(SubscriptionGroup.group_code)
        .where(SubscriptionGroup.subscription_id == sub.id).order_by(SubscriptionGroup.group_code)
    )).all()
    return sub, list(groups)


# Privacy -----------------------------------------------------------------

@dataclass(frozen=True)
class DataSummary:
    display_name: str | None
    ward: str | None
    chi_doan: str | None
    subscribed: bool
    subscription_ward: str | None
    groups: tuple[str, ...]
    feedback: int
    questions: int
    ratings: int
    unanswered: int            # questions the text did not answer
    sent_to_officials: int     # of those, sent on to officials by the resident
    first_seen: datetime | None


async def data_summary(session: AsyncSession, platform: str, user_id: str) -> DataSummary | None:
    """What is stored about this user, or None when nothing is."""
    resident = await find_resident(session, platform, user_id)
    if resident is None:
        return None

    async def count(model, *where) -> int:
        return await session.scalar(
            select(func.count()).select_from(model).where(model.resident_id == resident.id, *where)
        ) or 0

    sub = await subscription_of(session, resident.id)
    return DataSummary(
        display_name=resident.display_name,
        ward=resident.ward,
        chi_doan=resident.chi_doan,
        subscribed=bool(sub and sub[0].active),
        subscription_ward=sub[0].ward if sub else None,
        groups=tuple(sub[1]) if sub else (),
        feedback=await count(Feedback),
        questions=await count(AnswerLog),
        ratings=await count(AnswerLog, AnswerLog.rating.is_not(None)),
        unanswered=await count(InboxQuestion),
        sent_to_officials=await count(InboxQuestion, InboxQuestion.origin == "asked"),
        first_seen=resident.created_at,
    )


async def delete_resident_data(session: AsyncSession, platform: str, user_id: str) -> int:
    """Delete everything stored about the user; returns how many rows went.

    Children are deleted explicitly as well as by ON DELETE CASCADE, so the
    result does not depend on the backend enforcing foreign keys. Running it
    again deletes nothing. An official's role is not personal data the
    resident gave us and stays (an administrator removes it).
    """
    removed = (await session.execute(
        delete(DialogState).where(DialogState.platform == platform, DialogState.platform_user_id == user_id)
    )).rowcount or 0
    # The last answer shown to them, in their private chat or a group.
    removed += (await session.execute(
        delete(ChatContextState).where(ChatContextState.platform == platform,
                                       (ChatContextState.platform_user_id == user_id)
                                       | (ChatContextState.chat_id == user_id))
    )).rowcount or 0
    resident = await find_resident(session, platform, user_id)
    if resident is None:
        return removed
    rid = resident.id
    sub_ids = select(Subscription.id).where(Subscription.resident_id == rid).scalar_subquery()
    removed += await delete_member_quiz(session, rid)       # rounds, answers, Leitner boxes, poll links
    for stmt in (
        delete(BroadcastRecipient).where(BroadcastRecipient.resident_id == rid),   # their chat id
        delete(SubscriptionGroup).where(SubscriptionGroup.subscription_id.in_(sub_ids)),
        delete(Subscription).where(Subscription.resident_id == rid),
        delete(InboxQuestion).where(InboxQuestion.resident_id == rid),
        delete(AnswerLog).where(AnswerLog.resident_id == rid),
        delete(Feedback).where(Feedback.resident_id == rid),
        delete(Resident).where(Resident.id == rid),
    ):
        removed += (await session.execute(stmt.execution_options(synchronize_session=False))).rowcount or 0
    session.expunge(resident)
    return removed


# Officials ---------------------------------------------------------------

async def official_role(session: AsyncSession, platform: str, user_id: str) -> str | None:
    """The user's role if they are an official, else None. The only check that grants anything."""
    return await session.scalar(
        select(Official.role).where(Official.platform == platform, Official.platform_user_id == user_id)
    )


async def add_official(session: AsyncSession, platform: str, user_id: str, role: str,
                       note: str | None, now: datetime) -> bool:
    """Grant ``role``; False when the account already had a role (then updated to ``role``)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    existing = await session.scalar(
        select(Official).where(Official.platform == platform, Official.platform_user_id == user_id)
    )
    if existing is not None:
        existing.role = role
        if note is not None:
            existing.note = note
        return False
    session.add(Official(platform=platform, platform_user_id=user_id, role=role, note=note, created_at=now))
    await session.flush()
    return True


async def remove_official(session: AsyncSession, platform: str, user_id: str) -> bool:
    result = await session.execute(
        delete(Official).where(Official.platform == platform, Official.platform_user_id == user_id)
    )
    return result.rowcount == 1


async def list_officials(session: AsyncSession) -> Sequence[Official]:
    return (await session.scalars(select(Official).order_by(Official.platform, Official.created_at))).all()


async def open_unanswered(session: AsyncSession, limit: int = 5) -> Sequence[InboxQuestion]:
    """The newest questions in the inbox that nobody has handled yet."""
    return (await session.scalars(
        select(InboxQuestion).where(InboxQuestion.status == "new")
        .order_by(InboxQuestion.created_at.desc(), InboxQuestion.id.desc()).limit(limit)
    )).all()


async def latest_feedback(session: AsyncSession, limit: int = 5) -> Sequence[Feedback]:
    return (await session.scalars(
        select(Feedback).order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(limit)
    )).all()


async def resolve_unanswered(session: AsyncSession, question_id: int, now: datetime,
                             by: str | None = None, status: str = "answered") -> bool:
    """Mark an inbox question handled (default "answered"); False if unknown or already handled."""
    if status not in QUESTION_STATUSES or status == "new":
        raise ValueError(f"unknown status {status!r}")
    result = await session.execute(
        update(InboxQuestion)
        .where(InboxQuestion.id == question_id, InboxQuestion.status == "new")
        .values(status=status, answered_at=now, answered_by=by)
    )
    return result.rowcount == 1
