"""Spaced repetition and question choice (knowledge/quiz_schedule.py), and how a quiz
question degrades to numbered choices on platforms without polls."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from bot.messages import Button, QuizPoll, Reply
from bot.choices import flat_buttons
from bot.platforms.base import numbered_texts
from knowledge.quiz_schedule import (
    INTERVALS,
    MAX_BOX,
    MIXED,
    CardState,
    QuestionBank,
    next_state,
    option_order,
    pick_questions,
    pick_round,
)


@pytest.fixture(scope="module")
def bank(knowledge) -> QuestionBank:
    return QuestionBank.build(knowledge)


def test_leitner_boxes_move_up_when_right_and_back_to_one_when_wrong():
    state = next_state(None, True, 1)
    assert state == CardState(2, 1 + INTERVALS[2])
    for _ in range(10):
        state = next_state(state, True, 5)
    assert state.box == MAX_BOX and state.due_round == 5 + INTERVALS[MAX_BOX]
    assert next_state(state, False, 7) == CardState(1, 8)     # missed: back next round
    assert next_state(None, False, 3) == CardState(1, 4)


def test_pick_is_deterministic_given_the_seed_and_varies_with_it(bank):
    pool = bank.pool("tieu_chi_cnxh")
    first = pick_questions(pool, {}, 1, 10, random.Random("s1"))
    assert [q.id for q in first] == [q.id for q in pick_questions(pool, {}, 1, 10, random.Random("s1"))]
    assert [q.id for q in first] != [q.id for q in pick_questions(pool, {}, 1, 10, random.Random("s2"))]
    assert len({q.id for q in first}) == 10 and all(q.topic == "tieu_chi_cnxh" for q in first)
    assert len({q.source_id for q in first}) == 10      # one passage does not give the next answer away


def test_a_missed_question_comes_back_next_round_and_mastered_ones_rarely(bank):
    pool = bank.pool("mo_hinh")
    round1 = pick_questions(pool, {}, 1, 10, random.Random(1))
    missed, right = round1[0], round1[1:]
    states = {missed.id: next_state(None, False, 1)} | {q.id: next_state(None, True, 1) for q in right}
    for seed in range(20):
        assert missed in pick_questions(pool, states, 2, 10, random.Random(seed))

    # Everything seen, nothing due: low boxes come back far more often than mastered ones.
    states = {q.id: CardState(1 if i % 2 else MAX_BOX, 99) for i, q in enumerate(pool)}
    counts = Counter()
    for seed in range(200):
        for q in pick_questions(pool, states, 2, 10, random.Random(seed)):
            counts[states[q.id].box] += 1
    assert counts[1] > 4 * counts[MAX_BOX]


def test_due_reviews_leave_room_for_new_questions(bank):
    pool = bank.pool(MIXED)
    due = {q.id: CardState(1, 1) for q in pool[:40]}
    picked = pick_questions(pool, due, 2, 10, random.Random(0))
    reviews = [q for q in picked if q.id in due]
    assert 1 <= len(reviews) <= 7 and len(picked) == 10


def test_option_order_is_a_fixed_permutation_per_round_and_question():
    assert sorted(option_order("tok", 3, 4)) == [0, 1, 2, 3]
    assert option_order("tok", 3, 4) == option_order("tok", 3, 4)
    assert len({tuple(option_order(f"t{i}", 0, 4)) for i in range(50)}) > 5


def test_criteria_groups_come_from_the_source_section(bank):
    groups = {q.id: bank.group(q) for q in bank.questions}
    assert {"II.5", "III.3", "I.1", "mo_hinh"} <= set(groups.values())
    q = next(q for q in bank.questions if q.source_id.startswith("phu-luc-1-bo-tieu-chi.III.3."))
    assert bank.group(q) == "III.3"
    assert bank.group_title("III.3").startswith("III.3. Có khát vọng cống hiến")
    assert all(groups[q.id] == "mo_hinh" for q in bank.pool("mo_hinh"))


def test_a_quiz_reply_becomes_numbered_options_that_answer_it():
    poll = QuizPoll("Ab3_xZ.2", "Câu hỏi?", ("A", "B", "C", "D"), correct=1, explanation="Vì…", open_period=60)
    replies = [Reply("✅ Chính xác!"), Reply("Câu 3/10", ((Button("⏭ Bỏ qua", "qz:Ab3_xZ:skip:2"),),), quiz=poll)]
    texts = numbered_texts(replies)
    assert texts[0] == "✅ Chính xác!"
    assert texts[1].startswith("Câu 3/10\nCâu hỏi?\n⏱ Bạn có 60 giây")
    assert "1. A\n2. B\n3. C\n4. D\n5. ⏭ Bỏ qua" in texts[1]
    assert [b.data for r in replies for b in flat_buttons(r)] == [
        "qa:Ab3_xZ.2:0", "qa:Ab3_xZ.2:1", "qa:Ab3_xZ.2:2", "qa:Ab3_xZ.2:3", "qz:Ab3_xZ:skip:2"]


def test_a_mixed_round_takes_a_share_of_each_topic(bank):
    picked = pick_round(bank, MIXED, {}, 1, 10, random.Random(3))
    assert Counter(q.topic for q in picked) == {"tieu_chi_cnxh": 4, "tieu_chi_con_nguoi": 3, "mo_hinh": 3}
    assert [q.id for q in picked] == [q.id for q in pick_round(bank, MIXED, {}, 1, 10, random.Random(3))]
