"""/bangxephang: quiz leaderboards for members, chi đoàn and wards, this week or all time.

Ranked by average points per round (out of 10), among those with at least
`QuizSettings.min_rounds` rounds in the period, so one lucky round does not
top the board. "This week" starts on Monday 00:00, Việt Nam time. A member's
chi đoàn and ward are the ones given in /dangky. Shows the top
`QuizSettings.leaderboard_size` and the asker's own rank; members appear by
display name, never by an id.

Buttons "lb:<w|a>:<m|c|p>" switch the period (week, all time) and the board
(members, chi đoàn, phường/xã); they only read, so replays are harmless.
"""

from __future__ import annotations

from bot.deps import Turn
from bot.messages import Button, Incoming, Reply
from bot.router import Router
from bot.storage import quiz_repo, repo, transaction
from bot.storage.quiz_repo import CHI_DOAN, MEMBERS, WARD, Board, Standing
from bot.storage.sql import LOCAL_UTC_OFFSET
from handlers.forms import in_place

router = Router()

PREFIX = "lb"
PERIODS = {"w": "Tuần này", "a": "Mọi lúc"}
KINDS = {"m": MEMBERS, "c": CHI_DOAN, "p": WARD}
KIND_LABELS = {MEMBERS: "Đoàn viên", CHI_DOAN: "Chi đoàn", WARD: "Phường/xã"}
MEDALS = {1: "🥇", 2: "🥈", 3: "🥉"}
INVALID = "Lựa chọn này không hợp lệ. Gõ /bangxephang để xem bảng xếp hạng nhé."


def _number(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _line(standing: Standing, kind: str) -> str:
    mark = MEDALS.get(standing.rank, f"{standing.rank}.")
    members = f" · {standing.members} đoàn viên" if kind != MEMBERS else ""
    return f"{mark} {standing.name} — {_number(standing.average)} điểm · {standing.rounds} bài{members}"


def render(board: Board, period: str) -> str:
    kind = board.kind
    since = ""
    if board.since is not None:
        since = f" (từ thứ Hai {(board.since + LOCAL_UTC_OFFSET):%d/%m/%Y})"
    lines = [
        f"🏆 Bảng xếp hạng đố vui – {KIND_LABELS[kind]} – {PERIODS[period]}{since}",
        f"Xếp theo điểm trung bình mỗi bài (thang 10), cần ít nhất {board.min_rounds} bài.",
        "",
    ]
    if board.top:
        lines += [_line(s, kind) for s in board.top]
    else:
        lines.append("Chưa có ai đủ số bài để lên bảng. Bạn gõ /quiz để là người đầu tiên nhé!")
    lines.append("")
    if kind == MEMBERS:
        if board.me is not None:
            lines.append(f"Bạn: hạng {board.me.rank}/{board.ranked} — {_number(board.me.average)} điểm · "
                         f"{board.me.rounds} bài.")
        else:
            need = board.min_rounds - board.my_rounds
            lines.append(f"Bạn đã làm {board.my_rounds} bài trong thời gian này; "
                         f"cần thêm {need} bài nữa để có tên trên bảng. Gõ /quiz để làm bài nhé.")
    else:
        what = "chi đoàn" if kind == CHI_DOAN else "phường/xã"
        if board.my_group is None:
            lines.append(f"Bạn chưa cho mình biết {what} của bạn. Gõ /dangky để đăng ký "
                         f"và góp điểm cho {what} của mình nhé.")
        elif board.me is not None:
            lines.append(f"{what.capitalize()} của bạn – {board.me.name}: hạng {board.me.rank}/{board.ranked} — "
                         f"{_number(board.me.average)} điểm · {board.me.rounds} bài.")
        else:
            lines.append(f"{what.capitalize()} của bạn – {board.my_group} – mới có {board.my_rounds} bài; "
                         f"cần ít nhất {board.min_rounds} bài để lên bảng.")
    return "\n".join(lines)


def _buttons(period: str, kind_code: str) -> list[list[Button]]:
    def mark(selected: bool, label: str) -> str:
        return f"• {label} •" if selected else label

    periods = [Button(mark(p == period, label), f"{PREFIX}:{p}:{kind_code}") for p, label in PERIODS.items()]
    kinds = [Button(mark(k == kind_code, KIND_LABELS[kind]), f"{PREFIX}:{period}:{k}") for k, kind in KINDS.items()]
    return [periods, kinds]


async def _show(msg: Incoming, turn: Turn, period: str, kind_code: str) -> list[Reply]:
    settings = turn.deps.settings.quiz
    now = turn.deps.clock()
    since = quiz_repo.week_start(now) if period == "w" else None
    async with transaction(turn) as session:
        resident = await repo.find_resident(session, msg.platform, msg.user_id)
        board = await quiz_repo.board(
            session, KINDS[kind_code], since=since, min_rounds=settings.min_rounds,
            limit=settings.leaderboard_size, me=resident.id if resident else None,
        )
    return [Reply.with_buttons(render(board, period), *_buttons(period, kind_code))]


@router.command("bangxephang", "Bảng xếp hạng đố vui")
async def show_leaderboard(msg: Incoming, turn: Turn) -> list[Reply]:
    """Bảng xếp hạng đố vui theo tuần và mọi lúc."""
    return await _show(msg, turn, "w", "m")


@router.button(PREFIX)
async def on_button(msg: Incoming, turn: Turn) -> list[Reply]:
    """Buttons "lb:<w|a>:<m|c|p>"."""
    parts = (msg.callback_data or "").split(":")
    if len(parts) != 3 or parts[0] != PREFIX or parts[1] not in PERIODS or parts[2] not in KINDS:
        return [Reply(INVALID)]
    return in_place(await _show(msg, turn, parts[1], parts[2]))
