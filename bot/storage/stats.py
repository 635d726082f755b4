"""Counts for officials (/thongke) and the `civicbot stats` command."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.delivery_models import FAILED, OutboxReply
from bot.storage.models import AnswerLog, Feedback, InboxQuestion, Resident, Subscription
from bot.channels.registry import label
from bot.storage.sql import LOCAL_UTC_OFFSET, local_day

NO_WARD = "(chưa rõ phường/xã)"


@dataclass(frozen=True)
class WardCounts:
    subscribers: int = 0
    feedback: int = 0
    unanswered: int = 0


@dataclass(frozen=True)
class DayCounts:
    questions: int = 0
    declined: int = 0
    feedback: int = 0


@dataclass(frozen=True)
class Stats:
    residents: int
    active_subscribers: int
    questions: int
    declined: int
    ratings_up: int
    ratings_down: int
    feedback: int
    unanswered_open: int
    # Chat replies that never reached the resident (deadline passed, blocked, refused): (platform, reason) → n
    failed_replies: dict[tuple[str, str], int] = field(default_factory=dict)
    by_topic: list[tuple[str, int]] = field(default_factory=list)           # feedback per topic
    by_ward: dict[str, WardCounts] = field(default_factory=dict)
    by_day: dict[str, DayCounts] = field(default_factory=dict)              # "YYYY-MM-DD", Việt Nam time


async def collect(session: AsyncSession, now: datetime, days: int = 14) -> Stats:
    async def scalar(stmt) -> int:
        return int(await session.scalar(stmt) or 0)

    count = func.count()
    questions = await scalar(select(count).select_from(AnswerLog))
    declined = await scalar(select(count).select_from(AnswerLog).where(AnswerLog.confident.is_(False)))
    up = await scalar(select(count).select_from(AnswerLog).where(AnswerLog.rating > 0))
    down = await scalar(select(count).select_from(AnswerLog).where(AnswerLog.rating < 0))

    topic_rows = (await session.execute(
        select(Feedback.topic, func.max(Feedback.topic_label), count)
        .group_by(Feedback.topic).order_by(count.desc(), Feedback.topic)
    )).all()

    wards: dict[str, dict[str, int]] = defaultdict(dict)
    for name, column, model, where in (
        ("subscribers", Subscription.ward, Subscription, Subscription.active.is_(True)),
        ("feedback", Feedback.ward, Feedback, true()),
        ("unanswered", InboxQuestion.ward, InboxQuestion, true()),
    ):
        for ward, n in (await session.execute(
            select(column, count).select_from(model).where(where).group_by(column)
        )).all():
            wards[ward or NO_WARD][name] = n

    since = now - timedelta(days=days - 1)
    since = (since + LOCAL_UTC_OFFSET).replace(hour=0, minute=0, second=0, microsecond=0) - LOCAL_UTC_OFFSET
    days_: dict[str, dict[str, int]] = defaultdict(dict)
    answer_day = local_day(session, AnswerLog.created_at)
    for day, total, no in (await session.execute(
        select(answer_day, count, func.sum(case((AnswerLog.confident.is_(False), 1), else_=0)))
        .where(AnswerLog.created_at >= since).group_by(answer_day)
    )).all():
        days_[str(day)].update(questions=total, declined=int(no or 0))
    feedback_day = local_day(session, Feedback.created_at)
    for day, total in (await session.execute(
        select(feedback_day, count).where(Feedback.created_at >= since).group_by(feedback_day)
    )).all():
        days_[str(day)]["feedback"] = total

    failed = (await session.execute(
        select(OutboxReply.platform, OutboxReply.detail, count)
        .where(OutboxReply.status == FAILED).group_by(OutboxReply.platform, OutboxReply.detail)
    )).all()
    failed_replies: dict[tuple[str, str], int] = defaultdict(int)
    for platform, detail, n in failed:          # the reason without the platform's wording
        failed_replies[(platform, _reason(detail))] += n

    return Stats(
        residents=await scalar(select(count).select_from(Resident)),
        active_subscribers=await scalar(
            select(count).select_from(Subscription).where(Subscription.active.is_(True))),
        questions=questions,
        declined=declined,
        ratings_up=up,
        ratings_down=down,
        feedback=await scalar(select(count).select_from(Feedback)),
        unanswered_open=await scalar(
            select(count).select_from(InboxQuestion).where(InboxQuestion.status == "new")),
        failed_replies=dict(sorted(failed_replies.items())),
        by_topic=[(label or topic, n) for topic, label, n in topic_rows],
        by_ward={w: WardCounts(**c) for w, c in sorted(wards.items())},
        by_day={d: DayCounts(**c) for d, c in sorted(days_.items())},
    )


def _reason(detail: str) -> str:
    """"deadline passed; last: transient: HTTP 502" → "hết hạn gửi lại"; "blocked: …" → "người dùng đã chặn"."""
    if detail.startswith("deadline"):
        return "hết hạn gửi lại"
    return _REASONS.get(detail.split(":", 1)[0], "bị từ chối")


_REASONS = {"blocked": "người dùng đã chặn", "outside_window": "quá 7 ngày tương tác"}


def format_stats(stats: Stats, top: int | None = None) -> str:
    """Plain Vietnamese text, the same for the CLI and for officials in chat."""
    answered = stats.questions - stats.declined
    lines = [
        "📊 Thống kê",
        f"• Người dùng: {stats.residents}; đang nhận tin: {stats.active_subscribers}",
        f"• Câu hỏi: {stats.questions} (trả lời được {answered}, chưa trả lời được {stats.declined})",
        f"• Đánh giá: 👍 {stats.ratings_up}, 👎 {stats.ratings_down}",
        f"• Góp ý: {stats.feedback}; câu hỏi chưa trả lời đang chờ xử lý: {stats.unanswered_open}",
    ]
    if stats.failed_replies:
        lines.append(f"• Tin trả lời không gửi được: {sum(stats.failed_replies.values())}")
        lines += [f"  – {label(platform)}, {reason}: {n}" for (platform, reason), n in stats.failed_replies.items()]
    topics = stats.by_topic[:top] if top else stats.by_topic
    if topics:
        lines.append("\nGóp ý theo chủ đề:")
        lines += [f"• {label}: {n}" for label, n in topics]
    if stats.by_ward:
        lines.append("\nTheo phường/xã (đăng ký nhận tin / góp ý / câu hỏi chưa trả lời):")
        wards = sorted(stats.by_ward.items(),
                       key=lambda kv: -(kv[1].subscribers + kv[1].feedback + kv[1].unanswered))
        for ward, c in wards[:top] if top else wards:
            lines.append(f"• {ward}: {c.subscribers} / {c.feedback} / {c.unanswered}")
    if stats.by_day:
        lines.append("\nTheo ngày (câu hỏi / chưa trả lời được / góp ý):")
        lines += [f"• {day}: {c.questions} / {c.declined} / {c.feedback}" for day, c in stats.by_day.items()]
    return "\n".join(lines)
