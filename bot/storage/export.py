"""Exports for analysis: feedback, the question inbox, ratings.

Nobody outside the bot needs to know who wrote what, only that two rows
come from the same person. Each row names its author by a pseudonym:
HMAC-SHA256 of "platform:user id" keyed with CIVICBOT_PSEUDONYM_SECRET,
truncated. The same secret gives the same pseudonym across exports; without
it the pseudonym cannot be turned back into an id. Raw platform ids and
display names are never written, and phone numbers, e-mail addresses and
ID numbers residents typed into the text are masked (vntext/pii.py), even
where the database keeps them (CIVICBOT_PRIVACY__KEEP_CONTACT_DETAILS).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import AnswerLog, Feedback, InboxQuestion, Resident
from vntext.pii import mask_personal_data

PSEUDONYM_HEX_CHARS = 16
KINDS = ("feedback", "questions", "unanswered", "ratings")
FORMATS = ("csv", "jsonl")

COLUMNS: dict[str, tuple[str, ...]] = {
    "feedback": ("id", "nguoi_gui", "platform", "topic", "topic_label", "ward", "text", "created_at"),
    # The question inbox ("unanswered": only the questions nobody has handled yet). The chat id
    # where an answer can go and who answered are platform ids: never exported.
    "questions": ("id", "nguoi_hoi", "platform", "ward", "question", "origin", "status", "created_at",
                  "asked_at", "nearest_passage_id", "confidence", "note", "answer_text", "answered_at"),
    "unanswered": ("id", "nguoi_hoi", "platform", "ward", "question", "origin", "status", "created_at",
                   "asked_at", "nearest_passage_id", "confidence", "note", "answer_text", "answered_at"),
    "ratings": ("answer_id", "nguoi_hoi", "platform", "question", "top_passage_id", "confidence",
                "rating", "answered_at", "rated_at"),
}


def pseudonym(secret: str, platform: str, user_id: str) -> str:
    digest = hmac.new(secret.encode(), f"{platform}:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:PSEUDONYM_HEX_CHARS]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def export_rows(session: AsyncSession, kind: str, secret: str) -> list[dict[str, Any]]:
    """Rows of ``kind`` in creation order, authors pseudonymised."""
    def who(resident: Resident) -> str:
        return pseudonym(secret, resident.platform, resident.platform_user_id)

    if kind == "feedback":
        result = await session.execute(
            select(Feedback, Resident).join(Resident, Feedback.resident_id == Resident.id)
            .order_by(Feedback.created_at, Feedback.id))
        return [
            {"id": f.id, "nguoi_gui": who(r), "platform": f.platform, "topic": f.topic,
             "topic_label": f.topic_label, "ward": f.ward, "text": mask_personal_data(f.text),
             "created_at": _iso(f.created_at)}
            for f, r in result.all()
        ]
    if kind in ("questions", "unanswered"):
        query = (select(InboxQuestion, Resident).join(Resident, InboxQuestion.resident_id == Resident.id)
                 .order_by(InboxQuestion.created_at, InboxQuestion.id))
        if kind == "unanswered":
            query = query.where(InboxQuestion.status == "new")
        return [
            {"id": q.id, "nguoi_hoi": who(r), "platform": q.platform, "ward": q.ward,
             "question": mask_personal_data(q.question), "origin": q.origin, "status": q.status,
             "created_at": _iso(q.created_at), "asked_at": _iso(q.asked_at),
             "nearest_passage_id": q.nearest_passage_id,
             "confidence": None if q.confidence is None else round(q.confidence, 4),
             "note": mask_personal_data(q.note) if q.note else None,
             "answer_text": q.answer_text, "answered_at": _iso(q.answered_at)}
            for q, r in (await session.execute(query)).all()
        ]
    if kind == "ratings":
        result = await session.execute(
            select(AnswerLog, Resident).join(Resident, AnswerLog.resident_id == Resident.id)
            .where(AnswerLog.rating.is_not(None)).order_by(AnswerLog.rated_at, AnswerLog.id))
        return [
            {"answer_id": a.id, "nguoi_hoi": who(r), "platform": a.platform, "question": a.question,
             "top_passage_id": a.top_passage_id, "confidence": round(a.confidence, 4),
             "rating": "up" if (a.rating or 0) > 0 else "down",
             "answered_at": _iso(a.created_at), "rated_at": _iso(a.rated_at)}
            for a, r in result.all()
        ]
    raise ValueError(f"unknown export {kind!r}; choose one of {', '.join(KINDS)}")


def write_rows(rows: list[dict[str, Any]], kind: str, fmt: str, out: TextIO) -> None:
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS[kind], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose csv or jsonl")


def render(rows: list[dict[str, Any]], kind: str, fmt: str) -> str:
    buffer = io.StringIO()
    write_rows(rows, kind, fmt, buffer)
    return buffer.getvalue()

