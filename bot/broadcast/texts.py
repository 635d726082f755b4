"""What residents and officials read about broadcasts (polite Vietnamese)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.broadcast.outbox import GROUPS, Counts, Segment
from bot.channels import registry
from bot.storage.sql import LOCAL_UTC_OFFSET

GROUP_LABELS = {"cu_dan": "Cư dân", "doan_vien": "Đoàn viên", "can_bo": "Cán bộ"}
STATUS_LABELS = {"scheduled": "đã lên lịch", "running": "đang gửi", "done": "đã gửi xong",
                 "cancelled": "đã hủy"}

HEADER = "📢 THÔNG BÁO"
FOOTER = "—\nBạn nhận tin này vì đã đăng ký nhận tin. Gõ /huy nếu muốn ngừng nhận."


def announcement_text(text: str) -> str:
    """The message every recipient gets."""
    return f"{HEADER}\n\n{text.strip()}\n\n{FOOTER}"


def number(n: int) -> str:
    """1200 → "1.200" (Vietnamese thousands separator)."""
    return f"{n:,}".replace(",", ".")


def local_time(moment: datetime) -> str:
    return (moment + LOCAL_UTC_OFFSET).strftime("%H:%M %d/%m/%Y")


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} giờ")
    if minutes:
        parts.append(f"{minutes} phút")
    if secs or not parts:
        parts.append(f"{secs} giây")
    return " ".join(parts)


def joined(items: list[str]) -> str:
    """["Telegram", "Zalo"] → "Telegram và Zalo"."""
    return " và ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def describe_segment(segment: Segment) -> str:
    wards = ", ".join(segment.wards) if segment.wards else "tất cả phường/xã/đặc khu"
    groups = ", ".join(GROUP_LABELS[g] for g in GROUPS if g in segment.groups) if segment.groups \
        else "tất cả các nhóm"
    platforms = joined([registry.label(p) for p in registry.names() if p in segment.platforms])
    return f"• Phường/xã: {wards}\n• Nhóm: {groups}\n• Nền tảng: {platforms}"


def progress_text(broadcast_id: int, c: Counts, total: int) -> str:
    lines = [f"📤 Thông báo #{broadcast_id}: đã gửi {number(c.sent)}/{number(total)}"]
    problems = []
    if c.blocked:
        problems.append(f"đã chặn bot: {number(c.blocked)}")
    if c.out_of_window:
        problems.append(f"ngoài 7 ngày tương tác Zalo: {number(c.out_of_window)}")
    if c.no_quota:
        problems.append(f"Zalo hết hạn mức tin truyền thông: {number(c.no_quota)}")
    if c.not_follower:
        problems.append(f"chưa quan tâm OA Zalo: {number(c.not_follower)}")
    if c.failed:
        problems.append(f"lỗi: {number(c.failed)}")
    if problems:
        lines.append("(" + "; ".join(problems) + ")")
    return "\n".join(lines)


def start_text(broadcast_id: int, total: int) -> str:
    if total == 0:
        return f"📤 Thông báo #{broadcast_id}: không có người nhận nào trong nhóm đã chọn."
    return f"📤 Bắt đầu gửi thông báo #{broadcast_id} tới {number(total)} người nhận…"


def report_text(broadcast_id: int, status: str, c: Counts, total: int, seconds: float | None) -> str:
    if status == "cancelled":
        head = (f"⛔ Thông báo #{broadcast_id} đã được hủy. Trước khi hủy đã gửi "
                f"{number(c.sent)}/{number(total)}.")
    else:
        head = f"✅ Đã gửi xong thông báo #{broadcast_id}."
    lines = [head, f"• Gửi thành công: {number(c.sent)}"]
    if c.failed:
        lines.append(f"• Không gửi được do lỗi: {number(c.failed)}")
    if c.possible_duplicates:
        lines.append(f"• Có thể đã nhận 2 lần (máy chủ nền tảng báo lỗi sau khi có thể đã chuyển tin): "
                     f"{number(c.possible_duplicates)}")
    lines.append(f"• Người nhận đã chặn bot (đã ngừng gửi tin cho họ): {number(c.blocked)}")
    lines.append(f"• Zalo không cho gửi (quá 7 ngày chưa tương tác): {number(c.out_of_window)}")
    if c.promoted:
        lines.append(f"• Trong số đã gửi, qua tin truyền thông Zalo (quá 7 ngày chưa tương tác): "
                     f"{number(c.promoted)}")
    if c.no_quota:
        lines.append(f"• Zalo: quá 7 ngày chưa tương tác và OA đã hết hạn mức tin truyền thông: "
                     f"{number(c.no_quota)}")
    if c.not_follower:
        lines.append(f"• Zalo: quá 7 ngày chưa tương tác và không còn quan tâm OA: {number(c.not_follower)}")
    if c.cancelled:
        lines.append(f"• Chưa gửi vì đã hủy: {number(c.cancelled)}")
    if seconds is not None:
        lines.append(f"• Thời gian gửi: {duration(seconds)}")
    return "\n".join(lines)


def when_text(moment: datetime, now: datetime) -> str:
    if moment - now <= timedelta(seconds=60):
        return "ngay bây giờ"
    return f"lúc {local_time(moment)} (giờ Việt Nam)"
