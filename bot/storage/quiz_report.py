"""`civicbot quiz report`: quiz participation and mastery for officials, by chi đoàn or ward.

One table, one row per line of the report, the kind in ``loai``:

``tong``     a unit (chi đoàn or ward) overall: members who played, rounds
             finished, answers, share correct;
``nhom``     a unit × criteria group (``II.5``, ``III.3``, ``I.1``,
             ``mo_hinh`` …; see `knowledge.quiz_schedule.QuestionBank.group`):
             members, rounds and answers touching the group, share correct;
``cau_sai``  a unit's questions most often missed (rank, times missed, of
             times asked, the question and its right answer).

Every kind also comes for the unit "(tất cả)", everyone together. Members
who gave no chi đoàn / ward in /dangky are the unit "(chưa đăng ký)". The
report is aggregated: it names no person and holds no platform id or
display name (units of one member are still a member's own figures; the
report is for officials). Chi đoàn typed differently are merged as on the
leaderboard (`bot.storage.quiz_repo.chi_doan_key`).
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from typing import Any, TextIO

from sqlalchemy import Integer, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Resident
from bot.storage.quiz_models import DONE, QuizAnswer, QuizRound
from bot.storage.quiz_repo import CHI_DOAN, WARD, chi_doan_key, preferred_spelling
from knowledge.quiz_schedule import QuestionBank

GROUPINGS = (CHI_DOAN, WARD)
FORMATS = ("csv", "jsonl")
ALL = "(tất cả)"
UNREGISTERED = "(chưa đăng ký)"
TOP_MISSED = 5
COLUMNS = (
    "loai", "phuong_xa", "chi_doan", "nhom_tieu_chi", "ten_nhom", "thanh_vien", "bai", "cau_tra_loi",
    "so_cau_dung", "ty_le_dung", "hang", "cau_hoi_id", "cau_hoi", "dap_an", "so_lan_sai",
)

_Key = tuple[str, str]          # (ward, chi đoàn) as shown; ward only: ("Phường …", "")


class _Units:
    """Maps a member's (ward, chi đoàn) to the unit they count in, with a readable name."""

    def __init__(self, grouping: str):
        self.grouping = grouping
        self._names: dict[_Key, dict[_Key, int]] = defaultdict(lambda: defaultdict(int))

    def key(self, ward: str | None, chi_doan: str | None) -> _Key:
        if self.grouping == WARD:
            return (ward or UNREGISTERED, "")
        if not chi_doan:
            return (ward or "", UNREGISTERED)
        return chi_doan_key(ward, chi_doan)

    def see(self, ward: str | None, chi_doan: str | None, weight: int) -> _Key:
        key = self.key(ward, chi_doan)
        shown = (ward or UNREGISTERED, "") if self.grouping == WARD else (ward or "", chi_doan or UNREGISTERED)
        self._names[key][shown] += weight
        return key

    def name(self, key: _Key) -> _Key:
        names = self._names.get(key)
        if not names:
            return key
        # All spellings of a unit share its ward; the chi đoàn's is the one to choose.
        ward = max(names.items(), key=lambda item: item[1])[0][0]
        chi_doan = preferred_spelling({c: n for (_, c), n in names.items()})
        return (ward, chi_doan)


def _blank() -> dict[str, Any]:
    return {"members": 0, "rounds": 0, "answers": 0, "correct": 0}


def _share(correct: int, answers: int) -> float | None:
    return round(correct / answers, 4) if answers else None


async def report_rows(session: AsyncSession, grouping: str, bank: QuestionBank,
                      top_missed: int = TOP_MISSED) -> list[dict[str, Any]]:
    """The report's rows: per unit its total, its criteria groups, its most missed questions."""
    if grouping not in GROUPINGS:
        raise ValueError(f"unknown grouping {grouping!r}; choose chi_doan or ward")
    units = _Units(grouping)
    correct = func.sum(case((QuizAnswer.correct, 1), else_=0).cast(Integer))

    # Per (ward, chi đoàn) × criteria group. A member has one (ward, chi đoàn), so
    # counts of distinct members and rounds add up across spellings of one unit.
    by_group = (await session.execute(
        select(Resident.ward, Resident.chi_doan, QuizAnswer.criteria_group,
               func.count(func.distinct(QuizAnswer.resident_id)), func.count(func.distinct(QuizAnswer.round_id)),
               func.count(), correct)
        .select_from(QuizAnswer).join(Resident, Resident.id == QuizAnswer.resident_id)
        .group_by(Resident.ward, Resident.chi_doan, QuizAnswer.criteria_group)
    )).all()
    totals = (await session.execute(
        select(Resident.ward, Resident.chi_doan, func.count(func.distinct(QuizAnswer.resident_id)),
               func.count(), correct)
        .select_from(QuizAnswer).join(Resident, Resident.id == QuizAnswer.resident_id)
        .group_by(Resident.ward, Resident.chi_doan)
    )).all()
    rounds = (await session.execute(
        select(Resident.ward, Resident.chi_doan, func.count())
        .select_from(QuizRound).join(Resident, Resident.id == QuizRound.resident_id)
        .where(QuizRound.status == DONE)
        .group_by(Resident.ward, Resident.chi_doan)
    )).all()
    missed = (await session.execute(
        select(Resident.ward, Resident.chi_doan, QuizAnswer.question_id, func.count(), correct)
        .select_from(QuizAnswer).join(Resident, Resident.id == QuizAnswer.resident_id)
        .group_by(Resident.ward, Resident.chi_doan, QuizAnswer.question_id)
    )).all()

    unit_total: dict[_Key, dict] = defaultdict(_blank)
    unit_group: dict[_Key, dict[str, dict]] = defaultdict(lambda: defaultdict(_blank))
    unit_question: dict[_Key, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # asked, missed
    everyone = ("", ALL)

    for ward, chi_doan, members, answers, right in totals:
        for key in (units.see(ward, chi_doan, answers), everyone):
            t = unit_total[key]
            t["members"] += members
            t["answers"] += answers
            t["correct"] += int(right or 0)
    for ward, chi_doan, count in rounds:
        for key in (units.key(ward, chi_doan), everyone):
            unit_total[key]["rounds"] += count
    for ward, chi_doan, group, members, round_count, answers, right in by_group:
        for key in (units.key(ward, chi_doan), everyone):
            g = unit_group[key][group]
            g["members"] += members
            g["rounds"] += round_count
            g["answers"] += answers
            g["correct"] += int(right or 0)
    for ward, chi_doan, question_id, answers, right in missed:
        for key in (units.key(ward, chi_doan), everyone):
            q = unit_question[key][question_id]
            q[0] += answers
            q[1] += answers - int(right or 0)

    def place(key: _Key) -> dict[str, str]:
        if key == everyone:
            return {"phuong_xa": ALL, "chi_doan": ALL if grouping == CHI_DOAN else ""}
        ward, chi_doan = units.name(key)
        return {"phuong_xa": ward, "chi_doan": chi_doan}

    def order(key: _Key) -> tuple:
        name = place(key)
        return (key != everyone, name["phuong_xa"] == UNREGISTERED or name["chi_doan"] == UNREGISTERED,
                name["phuong_xa"], name["chi_doan"])

    rows: list[dict[str, Any]] = []
    for key in sorted(unit_total, key=order):
        t = unit_total[key]
        rows.append(_row("tong", place(key), nhom_tieu_chi=ALL, ten_nhom="Tất cả các nhóm", thanh_vien=t["members"],
                         bai=t["rounds"], cau_tra_loi=t["answers"], so_cau_dung=t["correct"],
                         ty_le_dung=_share(t["correct"], t["answers"])))
        for group in sorted(unit_group[key], key=_group_order):
            g = unit_group[key][group]
            rows.append(_row("nhom", place(key), nhom_tieu_chi=group, ten_nhom=bank.group_title(group),
                             thanh_vien=g["members"], bai=g["rounds"], cau_tra_loi=g["answers"],
                             so_cau_dung=g["correct"], ty_le_dung=_share(g["correct"], g["answers"])))
        questions = [(qid, asked, wrong) for qid, (asked, wrong) in unit_question[key].items() if wrong]
        questions.sort(key=lambda item: (-item[2], -item[2] / item[1], item[0]))
        for rank, (qid, asked, wrong) in enumerate(questions[:top_missed], 1):
            question = bank.get(qid)
            group = bank.group(question) if question else ""
            rows.append(_row(
                "cau_sai", place(key), nhom_tieu_chi=group, ten_nhom=bank.group_title(group) if group else "",
                cau_tra_loi=asked, so_cau_dung=asked - wrong, ty_le_dung=_share(asked - wrong, asked), hang=rank,
                cau_hoi_id=qid, cau_hoi=question.question if question else "(câu hỏi không còn trong ngân hàng)",
                dap_an=question.options[question.answer] if question else "", so_lan_sai=wrong,
            ))
    return rows


def _group_order(code: str) -> tuple:
    roman = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
    head, _, tail = code.partition(".")
    if head in roman:
        return (0, roman[head], int(tail) if tail.isdigit() else 0)
    return (1, 0, 0) if code != "mo_hinh" else (2, 0, 0)


def _row(kind: str, place: dict[str, str], **values: Any) -> dict[str, Any]:
    row = {column: "" for column in COLUMNS}
    row.update(loai=kind, **place)
    row.update({k: ("" if v is None else v) for k, v in values.items()})
    return row


def write_report(rows: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        raise ValueError(f"unknown format {fmt!r}; choose csv or jsonl")
