"""What the officials' console reads and writes (console/ calls only these).

Every query that returns residents' data takes a ward ``scope``: ``None`` for
everything (admins), else the tuple of wards the official may see; rows with
no ward are then left out. Personal data is masked here, once, so no page,
CSV or JSON built on these functions can show it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.broadcast_models import PENDING, RUNNING, Broadcast, BroadcastRecipient
from bot.storage.console_models import (
    ADMIN, CONSOLE_ROLES, FEEDBACK_NEW, FEEDBACK_REPLIED, FEEDBACK_STATUSES, OFFICIAL, VIEWER,
    AuditEntry, FeedbackState, LoginLink, OfficialWard, QuestionGroup, QuestionReply,
)
from bot.storage.models import (
    AnswerLog, Feedback, InboxQuestion, Official, Resident, Subscription, SubscriptionGroup,
)
from bot.storage.quiz_models import DONE as QUIZ_DONE
from bot.storage.quiz_models import QuizRound
from bot.storage.sql import LOCAL_UTC_OFFSET, dialect_of, insert_for, local_day
from vntext.normalize import fold
from vntext.pii import mask_personal_data

Scope = tuple[str, ...] | None
NO_WARD = "(chưa rõ phường/xã)"
GROUP_KEY_CHARS = 200
ASSIGN_BATCH = 5000


# -- officials, roles, wards --------------------------------------------------------------

@dataclass(frozen=True)
class Officer:
    """A signed-in official as the console sees them: re-read on every request."""

    id: int
    platform: str
    user_id: str
    role: str
    wards: tuple[str, ...]
    note: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def can_act(self) -> bool:
        """Answer, publish, reply, broadcast: admins and officials, never viewers."""
        return self.role in (ADMIN, OFFICIAL)

    @property
    def scope(self) -> Scope:
        """The wards whose data this person sees; None: all of them."""
        if self.role == ADMIN or (self.role == VIEWER and not self.wards):
            return None
        return self.wards


async def _officer(session: AsyncSession, official: Official | None) -> Officer | None:
    if official is None or official.role not in CONSOLE_ROLES:
        return None
    wards = (await session.scalars(select(OfficialWard.ward).where(OfficialWard.official_id == official.id)
                                   .order_by(OfficialWard.ward))).all()
    return Officer(official.id, official.platform, official.platform_user_id, official.role, tuple(wards),
                   official.note)


async def get_officer(session: AsyncSession, official_id: int) -> Officer | None:
    return await _officer(session, await session.get(Official, official_id))


async def officer_by_account(session: AsyncSession, platform: str, user_id: str) -> Officer | None:
    return await _officer(session, await session.scalar(
        select(Official).where(Official.platform == platform, Official.platform_user_id == user_id)))


async def list_officers(session: AsyncSession) -> list[Officer]:
    officials = (await session.scalars(select(Official).order_by(Official.platform, Official.created_at))).all()
    return [o for o in [await _officer(session, official) for official in officials] if o is not None]


async def set_wards(session: AsyncSession, official_id: int, wards: Sequence[str]) -> None:
    await session.execute(delete(OfficialWard).where(OfficialWard.official_id == official_id))
    for ward in dict.fromkeys(wards):
        session.add(OfficialWard(official_id=official_id, ward=ward))
    await session.flush()


# -- one-time sign-in links -------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_login_link(session: AsyncSession, official_id: int, now: datetime, minutes: int) -> str:
    """A new single-use token (only its hash is stored), valid for ``minutes``."""
    token = secrets.token_urlsafe(32)
    session.add(LoginLink(token_hash=_token_hash(token), official_id=official_id, created_at=now,
                          expires_at=now + timedelta(minutes=minutes)))
    await session.flush()
    return token


async def redeem_login_link(session: AsyncSession, token: str, now: datetime) -> int | None:
    """The official the token signs in, once: a used or expired token gives None.

    One UPDATE with the conditions in it, so two tabs racing the same link
    cannot both win.
    """
    if not token or len(token) > 128:
        return None
    return await session.scalar(
        update(LoginLink)
        .where(LoginLink.token_hash == _token_hash(token), LoginLink.used_at.is_(None), LoginLink.expires_at > now)
        .values(used_at=now).returning(LoginLink.official_id))


async def login_link_state(session: AsyncSession, token: str, now: datetime) -> str:
    """"valid", "used", "expired" or "unknown": what the sign-in page tells the official."""
    link = await session.get(LoginLink, _token_hash(token)) if token and len(token) <= 128 else None
    if link is None:
        return "unknown"
    if link.used_at is not None:
        return "used"
    return "valid" if link.expires_at > now else "expired"


# -- audit log ----------------------------------------------------------------------------------

async def audit(session: AsyncSession, actor: str, action: str, now: datetime, target: str | None = None,
                detail: str | None = None) -> None:
    session.add(AuditEntry(at=now, actor=actor[:100], action=action[:32], target=(target or None) and target[:100],
                           detail=detail))


async def audit_entries(session: AsyncSession, limit: int = 200, offset: int = 0) -> Sequence[AuditEntry]:
    return (await session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset))).all()


# -- scope helpers -----------------------------------------------------------------------------

def _in_scope(column, scope: Scope):
    return True if scope is None else column.in_(scope)


def allowed_wards(scope: Scope, known: Sequence[str]) -> list[str]:
    return list(known) if scope is None else [w for w in known if w in scope]


# -- question inbox --------------------------------------------------------------------------------

_NOT_WORD = re.compile(r"[^\w]+")


def group_key(question: str) -> str:
    """Questions that differ only in diacritics, case, punctuation or word order share a key."""
    words = sorted(set(_NOT_WORD.sub(" ", fold(question or "")).split()))
    return " ".join(words)[:GROUP_KEY_CHARS]


async def assign_groups(session: AsyncSession) -> int:
    """Give questions that arrived since the last call their group key (ids only grow)."""
    assigned = 0
    while True:
        last = await session.scalar(select(func.max(QuestionGroup.question_id))) or 0
        rows = (await session.execute(select(InboxQuestion.id, InboxQuestion.question)
                                      .where(InboxQuestion.id > last).order_by(InboxQuestion.id)
                                      .limit(ASSIGN_BATCH))).all()
        if not rows:
            return assigned
        insert = insert_for(session)
        await session.execute(insert(QuestionGroup).values(
            [{"question_id": i, "group_key": group_key(q)} for i, q in rows]).on_conflict_do_nothing())
        assigned += len(rows)


@dataclass(frozen=True)
class InboxGroup:
    key: str
    count: int
    newest: datetime
    sample: str               # masked
    sample_id: int
    asked: int                # of them, sent on by the resident


async def inbox_groups(session: AsyncSession, scope: Scope, *, status: str = "new", ward: str | None = None,
                       since: datetime | None = None, order: str = "count", limit: int = 50) -> list[InboxGroup]:
    """Groups of similar questions, most asked (or newest) first."""
    await assign_groups(session)
    q, g = InboxQuestion, QuestionGroup
    n = func.count()
    newest = func.max(q.created_at)
    query = (select(g.group_key, n, newest, func.max(q.id), func.sum(case((q.origin == "asked", 1), else_=0)))
             .join(g, g.question_id == q.id)
             .where(q.status == status, _in_scope(q.ward, scope))
             .group_by(g.group_key).limit(limit))
    if ward:
        query = query.where(q.ward == ward)
    if since is not None:
        query = query.where(q.created_at >= since)
    query = query.order_by(n.desc(), newest.desc()) if order == "count" else query.order_by(newest.desc(), n.desc())
    rows = (await session.execute(query)).all()
    samples = dict((await session.execute(
        select(q.id, q.question).where(q.id.in_([r[3] for r in rows])))).all()) if rows else {}
    return [InboxGroup(key, count, when, mask_personal_data(samples.get(sample_id, "")), sample_id, int(asked or 0))
            for key, count, when, sample_id, asked in rows]


@dataclass(frozen=True)
class InboxItem:
    id: int
    platform: str
    ward: str | None
    question: str              # masked
    origin: str
    status: str
    created_at: datetime
    note: str | None
    answer_text: str | None
    answered_by: str | None
    delivery: str | None       # the outbox row's status when an answer was sent


async def group_questions(session: AsyncSession, scope: Scope, question_id: int, limit: int = 200) -> list[InboxItem]:
    """The questions in the same group as ``question_id`` (within scope), newest first."""
    await assign_groups(session)
    q, g = InboxQuestion, QuestionGroup
    key = await session.scalar(select(g.group_key).join(q, q.id == g.question_id)
                               .where(g.question_id == question_id, _in_scope(q.ward, scope)))
    if key is None:
        return []
    r = BroadcastRecipient
    rows = (await session.execute(
        select(q, r.status).join(g, g.question_id == q.id)
        .outerjoin(QuestionReply, QuestionReply.question_id == q.id)
        .outerjoin(r, and_(r.broadcast_id == QuestionReply.broadcast_id, r.platform == q.platform,
                           r.chat_id == q.chat_id))
        .where(g.group_key == key, _in_scope(q.ward, scope))
        .order_by(q.created_at.desc(), q.id.desc()).limit(limit))).all()
    return [InboxItem(x.id, x.platform, x.ward, mask_personal_data(x.question), x.origin, x.status, x.created_at,
                      mask_personal_data(x.note) if x.note else None, x.answer_text, x.answered_by, delivery)
            for x, delivery in rows]


async def questions_in_scope(session: AsyncSession, scope: Scope, ids: Sequence[int]) -> Sequence[InboxQuestion]:
    if not ids:
        return []
    return (await session.scalars(select(InboxQuestion).where(
        InboxQuestion.id.in_(list(ids)), _in_scope(InboxQuestion.ward, scope)))).all()


async def send_direct(session: AsyncSession, text: str, recipients: Sequence[tuple[int, str, str]],
                      created_by: str, wards: Sequence[str], now: datetime) -> int:
    """A message to chosen chats through the broadcast outbox (same worker, rate limits,
    outcomes: a Zalo resident outside the 7-day window ends ``out_of_window``).

    ``recipients``: (resident id, platform, chat id). The broadcast is created
    running with its rows, so the worker picks it up at its next claim.
    """
    platforms = sorted({p for _, p, _ in recipients}) or ["telegram"]
    broadcast = Broadcast(text=text, segment={"wards": sorted(set(wards)), "groups": [], "platforms": platforms,
                                              "direct": True},
                          status=RUNNING, created_by=created_by[:100], created_at=now, scheduled_at=now,
                          started_at=now, total=0, sent=0, failed=0, blocked=0, out_of_window=0,
                          progress_milestone=0)
    session.add(broadcast)
    await session.flush()
    rows = {(p, c): r for r, p, c in recipients if c}
    if rows:
        insert = insert_for(session)
        await session.execute(insert(BroadcastRecipient).values([
            {"broadcast_id": broadcast.id, "resident_id": resident, "platform": p, "chat_id": c,
             "status": PENDING, "attempts": 0, "next_attempt_at": now} for (p, c), resident in rows.items()
        ]).on_conflict_do_nothing())
    broadcast.total = len(rows)
    return broadcast.id


def answer_message(question: str, answer: str, agency: str) -> str:
    return f"Trả lời câu hỏi của bạn: «{question}»\n\n{answer.strip()}\n\n— {agency}"


async def answer_questions(session: AsyncSession, questions: Sequence[InboxQuestion], answer: str, by: str,
                           agency: str, now: datetime) -> list[int]:
    """Deliver ``answer`` to everyone who asked ``questions`` (one outbox message each) and
    mark them answered; the ids of the broadcasts created."""
    created = []
    for question in questions:
        recipient = [(question.resident_id, question.platform, question.chat_id)] if question.chat_id else []
        broadcast_id = await send_direct(session, answer_message(question.question, answer, agency), recipient,
                                         by, [question.ward] if question.ward else [], now)
        created.append(broadcast_id)
        session.add(QuestionReply(question_id=question.id, broadcast_id=broadcast_id))
        question.status, question.answer_text, question.answered_by, question.answered_at = \
            "answered", answer, by[:128], now
    await session.flush()
    return created


async def close_questions(session: AsyncSession, questions: Sequence[InboxQuestion], status: str, note: str,
                          by: str, now: datetime) -> None:
    if status not in ("not_needed", "duplicate"):
        raise ValueError(status)
    for question in questions:
        question.status, question.note, question.answered_by, question.answered_at = status, note or None, by[:128], now


# -- feedback inbox ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedbackItem:
    id: int
    platform: str
    topic: str
    topic_label: str
    ward: str | None
    text: str                   # masked
    created_at: datetime
    status: str
    reply_text: str | None
    delivery: str | None


async def feedback_items(session: AsyncSession, scope: Scope, *, status: str | None = None, ward: str | None = None,
                         topic: str | None = None, limit: int = 100, ids: Sequence[int] | None = None,
                         ) -> list[FeedbackItem]:
    f, s, r = Feedback, FeedbackState, BroadcastRecipient
    state = func.coalesce(s.status, FEEDBACK_NEW)
    query = (select(f, state, s.reply_text, r.status).outerjoin(s, s.feedback_id == f.id)
             .outerjoin(Resident, Resident.id == f.resident_id)
             .outerjoin(r, and_(r.broadcast_id == s.broadcast_id, r.resident_id == f.resident_id))
             .where(_in_scope(f.ward, scope)).order_by(f.created_at.desc(), f.id.desc()).limit(limit))
    if status:
        query = query.where(state == status)
    if ward:
        query = query.where(f.ward == ward)
    if topic:
        query = query.where(f.topic == topic)
    if ids is not None:
        query = query.where(f.id.in_(list(ids)))
    return [FeedbackItem(x.id, x.platform, x.topic, x.topic_label, x.ward, mask_personal_data(x.text), x.created_at,
                         st, reply, delivery)
            for x, st, reply, delivery in (await session.execute(query)).all()]


async def set_feedback_status(session: AsyncSession, feedback_id: int, status: str, by: str, now: datetime,
                              reply_text: str | None = None, broadcast_id: int | None = None) -> None:
    if status not in FEEDBACK_STATUSES:
        raise ValueError(status)
    state = await session.get(FeedbackState, feedback_id)
    if state is None:
        state = FeedbackState(feedback_id=feedback_id, status=status, updated_by=by[:100], updated_at=now)
        session.add(state)
    elif state.status == FEEDBACK_REPLIED and status != FEEDBACK_REPLIED:
        return                     # "đã trả lời" stays: opening it again does not make it merely seen
    state.status, state.updated_by, state.updated_at = status, by[:100], now
    if reply_text is not None:
        state.reply_text, state.broadcast_id = reply_text, broadcast_id
    await session.flush()


async def reply_feedback(session: AsyncSession, scope: Scope, feedback_id: int, text: str, by: str, agency: str,
                         now: datetime) -> int | None:
    """Send ``text`` to the resident who wrote the feedback; None if it is not in scope."""
    row = (await session.execute(select(Feedback, Resident).join(Resident, Resident.id == Feedback.resident_id)
                                 .where(Feedback.id == feedback_id, _in_scope(Feedback.ward, scope)))).first()
    if row is None:
        return None
    feedback, resident = row
    chat_id = await session.scalar(select(Subscription.chat_id).where(Subscription.resident_id == resident.id)) \
        or resident.platform_user_id      # a private chat's id is the user's id on both messengers
    message = f"Phản hồi góp ý của bạn về «{feedback.topic_label}»:\n\n{text.strip()}\n\n— {agency}"
    broadcast_id = await send_direct(session, message, [(resident.id, feedback.platform, chat_id)], by,
                                     [feedback.ward] if feedback.ward else [], now)
    await set_feedback_status(session, feedback_id, FEEDBACK_REPLIED, by, now, text, broadcast_id)
    return broadcast_id


# -- overview -----------------------------------------------------------------------------------------

@dataclass
class Overview:
    days: list[str]
    answered: list[int]
    declined: list[int]
    ratings_up: list[int]
    ratings_down: list[int]
    top_passages: list[tuple[str, int]]
    feedback_by_topic: list[tuple[str, int]]
    subscribers_by_ward: list[tuple[str, int]]
    subscribers_by_group: list[tuple[str, int]]
    quiz_by_unit: list[tuple[str, str, int, float]] = field(default_factory=list)  # chi đoàn, ward, rounds, avg %


def period_start(now: datetime, days: int) -> datetime:
    """Midnight (Việt Nam time), ``days - 1`` days before today, in UTC."""
    local = (now + LOCAL_UTC_OFFSET - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return local - LOCAL_UTC_OFFSET


async def overview(sessions: async_sessionmaker[AsyncSession], scope: Scope, now: datetime, days: int = 30,
                   ward: str | None = None) -> Overview:
    """The overview's figures. On PostgreSQL its queries run at once, each on its own
    connection (the page waits for the slowest, not for their sum: 1,000,000 logged
    questions, bench/console.py); SQLite has one connection and runs them in turn."""
    since = period_start(now, days)
    day_list = [(since + LOCAL_UTC_OFFSET + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(days)]
    a, f, s, qr = AnswerLog, Feedback, Subscription, QuizRound
    n = func.count()
    async with sessions() as session:
        dialect = dialect_of(session)
        day = local_day(session, a.created_at)

    def answers_where(query):
        query = query.where(a.created_at >= since, _in_scope(a.ward, scope))
        return query.where(a.ward == ward) if ward else query

    def ward_is(query, column):
        return query.where(column == ward) if ward else query

    unit_ward = func.coalesce(Resident.ward, NO_WARD)
    # Grouped by an expression, not the bare column: SQLite would otherwise walk the whole
    # index on that column (a million rows) to group, instead of reading the period's rows.
    passage, topic = func.coalesce(a.top_passage_id, ""), func.coalesce(f.topic, "")
    statements = [
        answers_where(select(day, n, func.sum(case((a.confident.is_(False), 1), else_=0)),
                             func.sum(case((a.rating > 0, 1), else_=0)), func.sum(case((a.rating < 0, 1), else_=0))))
        .group_by(day),
        answers_where(select(passage, n).where(a.confident.is_(True), a.top_passage_id.is_not(None)))
        .group_by(passage).order_by(n.desc(), passage).limit(10),
        ward_is(select(func.max(f.topic_label), n).where(f.created_at >= since, _in_scope(f.ward, scope)), f.ward)
        .group_by(topic).order_by(n.desc(), topic).limit(12),
        ward_is(select(s.ward, n).where(s.active.is_(True), _in_scope(s.ward, scope)), s.ward)
        .group_by(s.ward).order_by(n.desc(), s.ward).limit(30),
        ward_is(select(SubscriptionGroup.group_code, n).join(s, s.id == SubscriptionGroup.subscription_id)
                .where(s.active.is_(True), _in_scope(s.ward, scope)), s.ward)
        .group_by(SubscriptionGroup.group_code).order_by(SubscriptionGroup.group_code),
        ward_is(select(func.coalesce(Resident.chi_doan, "(không ghi chi đoàn)"), unit_ward, n,
                       func.avg(100.0 * qr.score / qr.size))
                .join(Resident, Resident.id == qr.resident_id)
                .where(qr.status == QUIZ_DONE, qr.finished_at >= since, qr.size > 0, _in_scope(Resident.ward, scope)),
                Resident.ward)
        .group_by(Resident.chi_doan, unit_ward).order_by(n.desc()).limit(20),
    ]
    if dialect == "postgresql":
        async def run(statement):
            async with sessions() as own:
                return (await own.execute(statement)).all()
        results = await asyncio.gather(*(run(statement) for statement in statements))
    else:
        async with sessions() as session:
            results = [(await session.execute(statement)).all() for statement in statements]
    per_day_rows, top, topics, by_ward, by_group, quiz = results

    per_day = {d: (0, 0, 0, 0) for d in day_list}
    for d, total, no, up, down in per_day_rows:
        if d in per_day:
            per_day[d] = (int(total), int(no or 0), int(up or 0), int(down or 0))
    return Overview(
        days=day_list,
        answered=[per_day[d][0] - per_day[d][1] for d in day_list],
        declined=[per_day[d][1] for d in day_list],
        ratings_up=[per_day[d][2] for d in day_list],
        ratings_down=[per_day[d][3] for d in day_list],
        top_passages=[(p, c) for p, c in top],
        feedback_by_topic=[(label or "", c) for label, c in topics],
        subscribers_by_ward=[(w or NO_WARD, c) for w, c in by_ward],
        subscribers_by_group=[(g, c) for g, c in by_group],
        quiz_by_unit=[(u, w, c, round(float(avg or 0), 1)) for u, w, c, avg in quiz],
    )


async def open_counts(session: AsyncSession, scope: Scope) -> dict[str, int]:
    """Badges in the menu: new questions, new feedback."""
    questions = await session.scalar(select(func.count()).select_from(InboxQuestion).where(
        InboxQuestion.status == "new", _in_scope(InboxQuestion.ward, scope))) or 0
    return {"questions": int(questions)}
