"""Which questions a quiz round asks: the bank by topic, and spaced repetition.

Spaced repetition is a Leitner system per member and question, counted in
the member's rounds rather than in days (members play irregularly):

* never seen: no box; a right answer puts it in box 2, a wrong one in box 1;
* right: one box up (at most `MAX_BOX`); wrong, skipped or timed out: box 1;
* a question in box ``b`` is due again ``INTERVALS[b]`` rounds later
  (box 1: the very next round … box 5, "mastered": 16 rounds later).

`pick_questions` fills a round (a mixed round: a share per topic, see
`pick_round`) with, in order: due questions (at most
`MAX_REVIEW_SHARE` of the round while unseen questions remain, so a member
who missed much still meets new material), weighted to low boxes; unseen
questions; then questions not yet due, again weighted to low boxes, so
mastered questions come back least often. Given the same seed, pool and
states it always picks the same questions in the same order (tests rely on
it; production seeds with the member and round number).

Also here: the criteria group a question belongs to (``II.5``, ``III.3``,
``I.1``, ``mo_hinh``, ...), which officials' reports aggregate by, and the
per-round shuffle of a question's options.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from knowledge.quiz import TOPIC_TITLES, TOPICS, QuizQuestion, build_bank, goal_name, shorten, strip_number

MIXED = "mixed"
ROUND_TOPICS = (*TOPICS, MIXED)
TOPIC_LABELS = {
    "tieu_chi_cnxh": "Tiêu chí CNXH",
    "tieu_chi_con_nguoi": "Tiêu chí con người XHCN",
    "mo_hinh": "11 mô hình",
    MIXED: "Tổng hợp",
}

MAX_BOX = 5
INTERVALS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}      # rounds until a question in box b is due
MAX_REVIEW_SHARE = 0.7

MODELS_GROUP = "mo_hinh"
GENERAL_GROUP = "PL1"             # Phụ lục 1 as a whole (its preamble, table of contents)
_ROMAN = {"I", "II", "III", "IV", "V"}


@dataclass(frozen=True)
class CardState:
    """A member's Leitner state for one question."""

    box: int
    due_round: int


def next_state(state: CardState | None, correct: bool, round_number: int) -> CardState:
    """The state after answering in round ``round_number``."""
    if not correct:
        box = 1
    elif state is None:
        box = 2
    else:
        box = min(state.box + 1, MAX_BOX)
    return CardState(box, round_number + INTERVALS[box])


def _weighted_order(rng: random.Random, items: Sequence[QuizQuestion], weights: Sequence[float]) -> list[QuizQuestion]:
    """All ``items`` in a random order where item i comes early with weight w_i
    (Efraimidis–Spirakis keys: the first k are a weighted sample without replacement)."""
    keyed = sorted(((rng.random() ** (1.0 / w), i) for i, w in enumerate(weights)), reverse=True)
    return [items[i] for _, i in keyed]


def _box_weight(state: CardState) -> float:
    return float(2 ** (MAX_BOX - state.box))      # box 1: 16 … box 5: 1


def pick_questions(pool: Sequence[QuizQuestion], states: Mapping[str, CardState], round_number: int,
                   size: int, rng: random.Random) -> list[QuizQuestion]:
    """The questions of round ``round_number`` (see the module docstring).

    Within a round, questions come from different passages while there are
    enough: the passage shown after one answer must not give away the next.
    """
    due = [q for q in pool if q.id in states and states[q.id].due_round <= round_number]
    unseen = [q for q in pool if q.id not in states]
    later = [q for q in pool if q.id in states and states[q.id].due_round > round_number]

    due_order = _weighted_order(rng, due, [_box_weight(states[q.id]) for q in due])
    unseen_order = rng.sample(unseen, len(unseen))
    later_order = _weighted_order(
        rng, later, [_box_weight(states[q.id]) / (1 + states[q.id].due_round - round_number) for q in later]
    )
    chosen: list[QuizQuestion] = []
    ids: set[str] = set()
    passages: set[str] = set()

    def take(candidates: list[QuizQuestion], upto: int, distinct: bool = True) -> None:
        for q in candidates:
            if len(chosen) >= upto:
                return
            if q.id in ids or (distinct and q.source_id in passages):
                continue
            chosen.append(q)
            ids.add(q.id)
            passages.add(q.source_id)

    review_slots = size if not unseen else max(1, int(size * MAX_REVIEW_SHARE))
    take(due_order, review_slots)
    take(unseen_order, size)
    take(due_order, size)               # more reviews when new questions ran out
    take(later_order, size)             # everything seen: the soonest due, low boxes first
    for tier in (due_order, unseen_order, later_order):
        take(tier, size, distinct=False)    # a small pool: passages may repeat after all
    rng.shuffle(chosen)
    return chosen


def pick_round(bank: "QuestionBank", topic: str, states: Mapping[str, CardState], round_number: int,
               size: int, rng: random.Random) -> list[QuizQuestion]:
    """A round's questions; a mixed round takes its share from each topic (10: 4 + 3 + 3)."""
    if topic != MIXED:
        return pick_questions(bank.pool(topic), states, round_number, size, rng)
    topics = [t for t in TOPICS if bank.pool(t)]
    chosen: list[QuizQuestion] = []
    for index, t in enumerate(topics):
        share = size // len(topics) + (1 if index < size % len(topics) else 0)
        chosen += pick_questions(bank.pool(t), states, round_number, share, rng)
    if len(chosen) < size:      # a topic ran short: top up from the whole bank
        taken = {q.id for q in chosen}
        rest = [q for q in bank.pool(MIXED) if q.id not in taken]
        chosen += pick_questions(rest, states, round_number, size - len(chosen), rng)
    rng.shuffle(chosen)
    return chosen


def option_order(round_token: str, position: int, count: int) -> list[int]:
    """Display order of a question's options in one round (bank indices), fixed by the round.

    A question that comes back is not answered by remembering "it was the
    third one"; the same round always shows the same order, so an answer
    can be checked without storing it.
    """
    order = list(range(count))
    random.Random(f"{round_token}:{position}").shuffle(order)
    return order


def round_rng(seed: str, member: int, round_number: int) -> random.Random:
    return random.Random(f"{seed}:{member}:{round_number}")


# ------------------------------------------------------------------ the bank

class QuestionBank:
    """The validated bank, indexed by id and topic, with each question's criteria group."""

    def __init__(self, questions: Iterable[QuizQuestion], knowledge=None):
        self.questions = list(questions)
        self.by_id = {q.id: q for q in self.questions}
        self._topics: dict[str, list[QuizQuestion]] = {t: [] for t in TOPICS}
        for q in self.questions:
            self._topics.setdefault(q.topic, []).append(q)
        self._criteria_doc = knowledge.catalog.criteria_document if knowledge is not None else None
        self._doc = None
        if knowledge is not None:
            self._doc = knowledge.corpus.document(self._criteria_doc)
        self.groups = {q.id: self._group_of(q) for q in self.questions}

    @classmethod
    def build(cls, knowledge) -> "QuestionBank":
        return cls(build_bank(knowledge), knowledge)

    def get(self, question_id: str) -> QuizQuestion | None:
        return self.by_id.get(question_id)

    def pool(self, topic: str) -> list[QuizQuestion]:
        return list(self.questions) if topic == MIXED else list(self._topics.get(topic, []))

    def group(self, question: QuizQuestion) -> str:
        return self.groups.get(question.id) or self._group_of(question)

    def _group_of(self, q: QuizQuestion) -> str:
        """"II.5" for a passage of Phụ lục 1 part II group 5; "mo_hinh" for the models topic."""
        if q.topic == MODELS_GROUP or not self._criteria_doc:
            return MODELS_GROUP if q.topic == MODELS_GROUP else q.topic[:16]
        prefix = self._criteria_doc + "."
        if not q.source_id.startswith(prefix):
            return q.topic[:16]
        keys = q.source_id[len(prefix):].split(".")
        if keys[0] not in _ROMAN:
            return GENERAL_GROUP
        if len(keys) > 1 and keys[1].isdigit():
            return f"{keys[0]}.{keys[1]}"
        return keys[0]

    def group_title(self, code: str) -> str:
        """A readable name for a criteria group code."""
        if code == MODELS_GROUP:
            return TOPIC_TITLES[MODELS_GROUP]
        if code == GENERAL_GROUP:
            return "Phụ lục 1 (phần chung)"
        if code in TOPIC_TITLES:
            return TOPIC_TITLES[code]
        section = self._doc.section(f"{self._criteria_doc}.{code}") if self._doc is not None else None
        if section is None:
            return code
        if "." not in code:
            return f"Phần {code}: {shorten(strip_number(section.heading), 70)} (chung)"
        name = goal_name(section) or strip_number(section.heading)
        return f"{code}. {shorten(name, 80)}"


class BankLoader:
    """The bank, built from the knowledge base on first use (about half a second), then shared.

    Lives in `Deps`; every per-update copy of the deps shares the one loader.
    """

    def __init__(self, bank: QuestionBank | None = None):
        self._bank = bank
        self._lock = threading.Lock()

    def _build(self, knowledge) -> QuestionBank:
        with self._lock:
            if self._bank is None:
                self._bank = QuestionBank.build(knowledge)
            return self._bank

    async def get(self, knowledge) -> QuestionBank:
        if self._bank is not None:
            return self._bank
        return await asyncio.to_thread(self._build, knowledge)

    def get_sync(self, knowledge) -> QuestionBank:
        return self._bank if self._bank is not None else self._build(knowledge)
