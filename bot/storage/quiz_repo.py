"""What the quiz stores and reads: rounds, answers, Leitner boxes, poll links, leaderboards.

Like `bot.storage.repo`, every function works in the caller's session and
never commits. One answer counts once: `settle` moves the round on with a
compare-and-set on its position, and the answer's (round, position) key is
unique, so a replayed callback, a double tap or a second PollAnswer for the
same poll finds the question already settled and changes nothing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Float, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Resident
from bot.storage.quiz_models import (
    DONE,
    OPEN,
    VOID,
    QuizAnswer,
    QuizLeitner,
    QuizPollLink,
    QuizRound,
)
from bot.storage.sql import LOCAL_UTC_OFFSET, insert_for
from knowledge.quiz_schedule import CardState, next_state
from vntext.normalize import fold

_KEY = re.compile(r"^([A-Za-z0-9_-]{1,16})\.(\d{1,2})$")


# Keys --------------------------------------------------------------------

def answer_key(token: str, position: int) -> str:
    """The key of question ``position`` of the round with ``token`` ("Ab3_xZ.4")."""
    return f"{token}.{position}"


def parse_answer_key(key: str) -> tuple[str, int] | None:
    match = _KEY.match(key)
    return (match[1], int(match[2])) if match else None


# Rounds ------------------------------------------------------------------

async def open_round(session: AsyncSession, resident_id: int) -> QuizRound | None:
    return await session.scalar(
        select(QuizRound).where(QuizRound.resident_id == resident_id, QuizRound.status == OPEN)
        .order_by(QuizRound.id.desc()).limit(1)
    )


async def round_by_token(session: AsyncSession, token: str) -> QuizRound | None:
    return await session.scalar(select(QuizRound).where(QuizRound.token == token))


async def round_by_menu_token(session: AsyncSession, resident_id: int, menu_token: str) -> QuizRound | None:
    return await session.scalar(
        select(QuizRound).where(QuizRound.resident_id == resident_id, QuizRound.menu_token == menu_token)
    )


async def next_round_number(session: AsyncSession, resident_id: int) -> int:
    latest = await session.scalar(select(func.max(QuizRound.number)).where(QuizRound.resident_id == resident_id))
    return (latest or 0) + 1


async def card_states(session: AsyncSession, resident_id: int) -> dict[str, CardState]:
    rows = await session.execute(
        select(QuizLeitner.question_id, QuizLeitner.box, QuizLeitner.due_round)
        .where(QuizLeitner.resident_id == resident_id)
    )
    return {qid: CardState(box, due) for qid, box, due in rows.all()}


async def create_round(session: AsyncSession, *, resident_id: int, platform: str, token: str,
                       menu_token: str | None, topic: str, number: int, question_ids: Sequence[str],
                       now: datetime) -> QuizRound | None:
    """A new open round; None when ``menu_token`` already started one (a double tap)."""
    insert = insert_for(session)
    result = await session.execute(
        insert(QuizRound)
        .values(resident_id=resident_id, platform=platform, token=token, menu_token=menu_token,
                topic=topic, number=number, question_ids=list(question_ids), size=len(question_ids),
                position=0, score=0, status=OPEN, started_at=now, asked_at=now)
        .on_conflict_do_nothing(index_elements=[QuizRound.resident_id, QuizRound.menu_token])
    )
    if result.rowcount != 1:
        return None
    return await round_by_token(session, token)


async def close_open_rounds(session: AsyncSession, resident_id: int, now: datetime,
                            keep: int | None = None) -> int:
    """End the member's open rounds (but ``keep``): scored as they stand if anything was
    answered, void otherwise. A member cannot drop a badly going round by starting another."""
    rounds = (await session.scalars(
        select(QuizRound).where(QuizRound.resident_id == resident_id, QuizRound.status == OPEN,
                                QuizRound.id != (keep if keep is not None else -1))
    )).all()
    for r in rounds:
        r.status = DONE if r.position > 0 else VOID
        r.finished_at = now
    return len(rounds)


async def settle(session: AsyncSession, rnd: QuizRound, position: int, *, question_id: str, topic: str,
                 criteria_group: str, chosen: int | None, correct: bool, outcome: str,
                 now: datetime) -> bool:
    """Record the answer to question ``position`` and move the round on; False when that
    question was already settled (or the round is over): then nothing changed."""
    last = position + 1 >= rnd.size
    values = dict(position=position + 1, score=QuizRound.score + (1 if correct else 0), asked_at=now)
    if last:
        values.update(status=DONE, finished_at=now)
    result = await session.execute(
        update(QuizRound)
        .where(QuizRound.id == rnd.id, QuizRound.status == OPEN, QuizRound.position == position)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    taken = max(0, int((now - rnd.asked_at).total_seconds() * 1000))
    session.add(QuizAnswer(
        round_id=rnd.id, resident_id=rnd.resident_id, position=position, question_id=question_id,
        topic=topic, criteria_group=criteria_group, chosen=chosen, correct=correct, outcome=outcome,
        time_taken_ms=taken, answered_at=now,
    ))
    card = await session.get(QuizLeitner, (rnd.resident_id, question_id))
    state = next_state(CardState(card.box, card.due_round) if card else None, correct, rnd.number)
    if card is None:
        session.add(QuizLeitner(resident_id=rnd.resident_id, question_id=question_id, box=state.box,
                                due_round=state.due_round, times_right=int(correct),
                                times_wrong=int(not correct), last_answered_at=now))
    else:
        card.box, card.due_round, card.last_answered_at = state.box, state.due_round, now
        if correct:
            card.times_right += 1
        else:
            card.times_wrong += 1
    await session.flush()
    await session.refresh(rnd)
    return True


async def stop_round(session: AsyncSession, rnd: QuizRound, now: datetime) -> bool:
    """End an open round early (scored as it stands); False if it was not open."""
    result = await session.execute(
        update(QuizRound).where(QuizRound.id == rnd.id, QuizRound.status == OPEN)
        .values(status=DONE if rnd.position > 0 else VOID, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    await session.refresh(rnd)
    return True


async def round_answers(session: AsyncSession, round_id: int) -> Sequence[QuizAnswer]:
    return (await session.scalars(
        select(QuizAnswer).where(QuizAnswer.round_id == round_id).order_by(QuizAnswer.position)
    )).all()


async def member_totals(session: AsyncSession, resident_id: int) -> tuple[int, int]:
    """(rounds played, answers stored) of a member, for /quyenriengtu."""
    rounds = await session.scalar(select(func.count()).select_from(QuizRound).where(
        QuizRound.resident_id == resident_id, QuizRound.status != VOID)) or 0
    answers = await session.scalar(select(func.count()).select_from(QuizAnswer).where(
        QuizAnswer.resident_id == resident_id)) or 0
    return rounds, answers


async def delete_member_quiz(session: AsyncSession, resident_id: int) -> int:
    """Every quiz row of a member (also removed by ON DELETE CASCADE with the resident)."""
    round_ids = select(QuizRound.id).where(QuizRound.resident_id == resident_id).scalar_subquery()
    removed = 0
    for stmt in (
        delete(QuizPollLink).where(QuizPollLink.round_id.in_(round_ids)),
        delete(QuizAnswer).where(QuizAnswer.resident_id == resident_id),
        delete(QuizLeitner).where(QuizLeitner.resident_id == resident_id),
        delete(QuizRound).where(QuizRound.resident_id == resident_id),
    ):
        removed += (await session.execute(stmt.execution_options(synchronize_session=False))).rowcount or 0
    return removed


# Poll links (Telegram) ---------------------------------------------------

async def link_poll(session: AsyncSession, platform: str, poll_id: str, key: str, chat_id: str,
                    message_id: str | None, now: datetime) -> bool:
    """Remember that ``poll_id`` asks question ``key`` in ``chat_id``; False for an unknown key."""
    parsed = parse_answer_key(key)
    rnd = await round_by_token(session, parsed[0]) if parsed else None
    if rnd is None:
        return False
    insert = insert_for(session)
    await session.execute(
        insert(QuizPollLink)
        .values(platform=platform, poll_id=poll_id, round_id=rnd.id, position=parsed[1],
                chat_id=chat_id, message_id=message_id, created_at=now)
        .on_conflict_do_nothing(index_elements=[QuizPollLink.platform, QuizPollLink.poll_id])
    )
    return True


async def poll_link(session: AsyncSession, platform: str, poll_id: str) -> tuple[str, str] | None:
    """(answer key, chat id) of a poll we sent, or None."""
    row = (await session.execute(
        select(QuizRound.token, QuizPollLink.position, QuizPollLink.chat_id)
        .join(QuizRound, QuizRound.id == QuizPollLink.round_id)
        .where(QuizPollLink.platform == platform, QuizPollLink.poll_id == poll_id)
    )).one_or_none()
    return (answer_key(row.token, row.position), row.chat_id) if row else None


# Leaderboards ------------------------------------------------------------

MEMBERS, CHI_DOAN, WARD = "members", "chi_doan", "ward"
BOARDS = (MEMBERS, CHI_DOAN, WARD)
ANONYMOUS = "Đoàn viên ẩn danh"


def week_start(now: datetime) -> datetime:
    """Monday 00:00 Việt Nam time of ``now``'s week, as a UTC instant."""
    local = now + LOCAL_UTC_OFFSET
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday - LOCAL_UTC_OFFSET


def chi_doan_key(ward: str | None, chi_doan: str) -> tuple[str, str]:
    """Branches typed differently ("Chi đoàn KDC số 3", "chi doan kdc so 3") are one branch;
    branches of the same name in two wards are two."""
    folded = " ".join(re.findall(r"\w+", fold(chi_doan)))
    folded = re.sub(r"^chi doan\s+", "", folded)
    return (ward or "", folded)


def preferred_spelling(counts: dict[str, int]) -> str:
    """The name to show for spellings of one unit: written with diacritics first, then the commonest."""
    return max(counts.items(), key=lambda item: (item[0] != fold(item[0]), item[1], item[0]))[0]


@dataclass(frozen=True)
class Standing:
    rank: int
    name: str
    rounds: int
    average: float              # points per round, out of 10
    members: int = 1


@dataclass(frozen=True)
class Board:
    kind: str                   # members, chi_doan, ward
    since: datetime | None      # None: all time
    min_rounds: int
    top: list[Standing]
    ranked: int                 # how many qualify
    me: Standing | None         # the asker's (or their group's) standing, when qualified
    my_rounds: int = 0          # the asker's (or their group's) rounds in the period
    my_group: str | None = None     # the asker's chi đoàn / ward; None: not registered


def _points():
    return cast(QuizRound.score, Float) * 10.0 / QuizRound.size


def _done_since(since: datetime | None):
    where = [QuizRound.status == DONE]
    if since is not None:
        where.append(QuizRound.finished_at >= since)
    return where


async def member_board(session: AsyncSession, *, since: datetime | None, min_rounds: int, limit: int,
                       me: int | None) -> Board:
    """Members by average points per round (at least ``min_rounds`` rounds), top ``limit`` and ``me``."""
    agg = (
        select(QuizRound.resident_id.label("rid"), func.count().label("rounds"),
               func.avg(_points()).label("average"))
        .where(*_done_since(since))
        .group_by(QuizRound.resident_id)
        .having(func.count() >= min_rounds)
        .subquery()
    )
    ranked = select(
        agg.c.rid, agg.c.rounds, agg.c.average,
        func.rank().over(order_by=(agg.c.average.desc(), agg.c.rounds.desc())).label("rank"),
        func.count().over().label("total"),
    ).subquery()
    rows = (await session.execute(
        select(ranked, Resident.display_name)
        .join(Resident, Resident.id == ranked.c.rid)
        .where(or_(ranked.c.rank <= limit, ranked.c.rid == (me if me is not None else -1)))
        .order_by(ranked.c.rank, ranked.c.rid)
    )).all()
    top, mine, total = [], None, 0
    for row in rows:
        total = row.total
        standing = Standing(row.rank, row.display_name or ANONYMOUS, row.rounds, float(row.average))
        if row.rank <= limit and len(top) < limit:
            top.append(standing)
        if row.rid == me:
            mine = standing
    my_rounds = mine.rounds if mine else 0
    if me is not None and mine is None:
        my_rounds = await session.scalar(
            select(func.count()).select_from(QuizRound).where(QuizRound.resident_id == me, *_done_since(since))
        ) or 0
    return Board(MEMBERS, since, min_rounds, top, total, mine, my_rounds)


async def group_board(session: AsyncSession, kind: str, *, since: datetime | None, min_rounds: int,
                      limit: int, me: int | None) -> Board:
    """Chi đoàn or wards (from the members' /dangky) by average points per round."""
    if kind not in (CHI_DOAN, WARD):
        raise ValueError(f"unknown board {kind!r}")
    columns = [Resident.ward] if kind == WARD else [Resident.ward, Resident.chi_doan]
    present = [c.is_not(None) for c in columns]
    # Rounds summed per member first (an index-only scan), then members per unit:
    # the join touches one row per member, not one per round.
    per_member = (
        select(QuizRound.resident_id.label("rid"), func.count().label("rounds"),
               func.sum(_points()).label("points"))
        .where(*_done_since(since))
        .group_by(QuizRound.resident_id)
        .subquery()
    )
    rows = (await session.execute(
        select(*columns, func.sum(per_member.c.rounds).label("rounds"),
               func.sum(per_member.c.points).label("points"), func.count().label("members"))
        .select_from(per_member)
        .join(Resident, Resident.id == per_member.c.rid)
        .where(*present)
        .group_by(*columns)
    )).all()
    groups: dict[tuple[str, str], dict] = {}
    for row in rows:
        key = (row.ward, "") if kind == WARD else chi_doan_key(row.ward, row.chi_doan)
        if not key[0] and not key[1]:
            continue
        group = groups.setdefault(key, {"rounds": 0, "points": 0.0, "members": 0, "names": defaultdict(int)})
        group["rounds"] += int(row.rounds)
        group["points"] += float(row.points or 0)
        group["members"] += row.members
        name = row.ward if kind == WARD else row.chi_doan
        group["names"][name] += row.rounds
    named = {}
    for key, group in groups.items():
        name = preferred_spelling(group["names"])
        if kind == CHI_DOAN and key[0]:
            name = f"{name} ({key[0]})"
        named[key] = (name, group)

    qualified = sorted(
        ((key, name, g["rounds"], g["points"] / g["rounds"], g["members"])
         for key, (name, g) in named.items() if g["rounds"] >= min_rounds),
        key=lambda item: (-round(item[3], 9), -item[2], item[1]),
    )
    standings: dict[tuple[str, str], Standing] = {}
    rank, previous = 0, None
    for index, (key, name, rounds, average, members) in enumerate(qualified, 1):
        score = (round(average, 9), rounds)
        if score != previous:
            rank, previous = index, score
        standings[key] = Standing(rank, name, rounds, average, members)

    my_key, my_group, my_rounds = None, None, 0
    if me is not None:
        resident = await session.get(Resident, me)
        if resident is not None:
            if kind == WARD and resident.ward:
                my_key, my_group = (resident.ward, ""), resident.ward
            elif kind == CHI_DOAN and resident.chi_doan:
                my_key, my_group = chi_doan_key(resident.ward, resident.chi_doan), resident.chi_doan
    if my_key is not None and my_key in named:
        my_group, my_rounds = named[my_key][0], named[my_key][1]["rounds"]
    top = [s for s in standings.values() if s.rank <= limit][:limit]
    return Board(kind, since, min_rounds, top, len(standings), standings.get(my_key) if my_key else None,
                 my_rounds, my_group)


async def board(session: AsyncSession, kind: str, **options) -> Board:
    if kind == MEMBERS:
        return await member_board(session, **options)
    return await group_board(session, kind, **options)


__all__ = [
    "ANONYMOUS", "BOARDS", "Board", "CHI_DOAN", "MEMBERS", "Standing", "WARD",
    "answer_key", "board", "card_states", "chi_doan_key", "close_open_rounds", "create_round",
    "delete_member_quiz", "group_board", "link_poll", "member_board", "member_totals", "next_round_number",
    "open_round", "parse_answer_key", "poll_link", "round_answers", "round_by_menu_token", "round_by_token",
    "settle", "stop_round", "week_start",
]
