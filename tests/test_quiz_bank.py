"""The quiz question bank: every question proven by its passage, within Telegram's limits.

The support checks here are written independently of knowledge.quiz (own
folding, own reading of the section tree), and they run over the bank as the
CLI exports it, so a bug in the bank's own validator cannot hide a bad question.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from knowledge.base import KnowledgeBase
from knowledge.quiz import (
    JSON_KEYS, TOPICS, QuizBankError, QuizQuestion, bank_as_json, build_bank, load_curated,
    validate_bank,
)

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "knowledge" / "sources"
CURATED = ROOT / "knowledge" / "data" / "quiz_curated.yaml"
KEYS = {"id", "topic", "question", "options", "answer", "explanation",
        "source_id", "source_section", "source_text"}


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def bank(knowledge) -> list[QuizQuestion]:
    return build_bank(knowledge)


def _civicbot() -> list[str]:
    script = Path(sys.executable).with_name("civicbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


@pytest.fixture(scope="module")
def exported() -> list[dict]:
    """`civicbot quiz export --json`, run as a user would."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [*_civicbot(), "quiz", "export", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=240,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ------------------------------------------- independent folding and checks

def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.replace("đ", "d").replace("Đ", "D").lower()
    return " " + " ".join(re.findall(r"\w+|%", plain)) + " "


def contains(text: str, phrase: str) -> bool:
    needle = fold(phrase)
    return needle.strip() != "" and needle in fold(text)


def quotations(text: str) -> list[str]:
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "“":
            depth += 1
            start = i + 1 if depth == 1 else start
        elif ch == "”" and depth:
            depth -= 1
            if depth == 0:
                out.append(text[start:i])
    return out


def criteria(knowledge):
    return knowledge.corpus.document(knowledge.catalog.criteria_document)


def group_heading(knowledge, passage_id: str) -> str:
    doc = criteria(knowledge)
    keys = passage_id[len(doc.id) + 1:].split(".")
    return doc.section(f"{doc.id}.{keys[0]}.{keys[1]}").heading


def support_problems(q: dict, knowledge) -> list[str]:
    """Why the correct option is not proven by the passage, or a wrong one is."""
    template = q["id"].split(":")[0]
    text, options, answer = q["source_text"], q["options"], q["answer"]
    correct, wrong = options[answer], [o for i, o in enumerate(options) if i != answer]
    problems = []
    if "___" in q["question"]:
        phrase = next(t for t in quotations(q["question"]) if "___" in t)
        if not contains(text, phrase.replace("___", correct)):
            problems.append("filled-in phrase not in passage")
        problems += [f"wrong option fits: {o}" for o in wrong if contains(text, phrase.replace("___", o))]
    elif template in ("text", "component", "statement", "curated"):
        if not contains(text, correct):
            problems.append("correct option not in passage")
        problems += [f"wrong option in passage: {o}" for o in wrong if contains(text, o)]
    elif template == "group":
        heading = group_heading(knowledge, q["source_id"])
        if not fold(heading).startswith(fold(correct.rstrip("…"))):
            problems.append("passage is not in the correct group")
        problems += [f"passage in wrong group {o}" for o in wrong if fold(heading).startswith(fold(o.rstrip("…")))]
        if not contains(text, correct.rstrip("…")):
            problems.append("group heading not shown with the passage")
    elif template == "part":
        doc = criteria(knowledge)
        keys = q["source_id"][len(doc.id) + 1:].split(".")
        for i, option in enumerate(options):
            m = re.match(r"Phần ([IVX]+)(?:, mục (\d+))?:", option)
            assert m, option
            inside = keys[0] == m[1] and (m[2] is None or keys[1] == m[2])
            if inside != (i == answer):
                problems.append(f"part option {option!r} wrongly {'in' if inside else 'out'}")
    elif template == "model":
        fragment = quotations(q["question"])[0]
        labels = {}
        for m in knowledge.catalog.models:
            labels[fold(m.titles[0] if len(m.titles[0]) <= 60 else m.titles[0].split(", ")[0])] = m
        for i, option in enumerate(options):
            model = labels[fold(option.rstrip("…"))]
            has = [t for t in model.titles if contains(t, fragment)]
            if i == answer and not any(contains(text, t) for t in has):
                problems.append("passage does not name the correct model with the fragment")
            if i != answer and has:
                problems.append(f"wrong model also has the fragment: {option}")
    elif template == "count":
        doc = criteria(knowledge)
        section = doc.section(q["source_id"].rsplit(".", 1)[0])
        items = [c for c in section.children if not c.editorial] or section.blocks
        for i, option in enumerate(options):
            if (int(option.split()[0]) == len(items)) != (i == answer):
                problems.append(f"count option {option!r} wrong")
    else:
        problems.append(f"unknown template {template}")
    return problems


# --------------------------------------------------------------- the export

def test_cli_export_prints_a_json_array_with_exactly_the_keys(exported):
    assert isinstance(exported, list) and exported
    assert set(JSON_KEYS) == KEYS
    for q in exported:
        assert set(q) == KEYS, q["id"]
        assert isinstance(q["options"], list) and isinstance(q["answer"], int)
        assert all(isinstance(q[k], str) for k in KEYS - {"options", "answer"})


def test_cli_export_is_the_bank(bank, exported):
    assert exported == bank_as_json(bank)


def test_cli_export_keeps_vietnamese_unescaped():
    result = subprocess.run([*_civicbot(), "quiz", "export", "--json"], cwd=ROOT,
                            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
                            capture_output=True, text=True, encoding="utf-8", timeout=240)
    assert "Phụ lục 1" in result.stdout and "\\u" not in result.stdout


def test_bank_is_large_enough_and_covers_every_topic(exported):
    assert len(exported) >= 120
    per_topic = {t: sum(q["topic"] == t for q in exported) for t in TOPICS}
    assert set(per_topic) == {"tieu_chi_cnxh", "tieu_chi_con_nguoi", "mo_hinh"}
    assert {q["topic"] for q in exported} == set(TOPICS)
    assert all(n >= 25 for n in per_topic.values()), per_topic


def test_every_question_has_four_distinct_options_and_one_answer(exported):
    for q in exported:
        assert len(q["options"]) == 4, q["id"]
        assert len({fold(o) for o in q["options"]}) == 4, q["id"]
        assert 0 <= q["answer"] <= 3, q["id"]
        assert all(o.strip() for o in q["options"]), q["id"]


def test_telegram_limits(exported):
    for q in exported:
        assert 0 < len(q["question"]) <= 300, q["id"]
        assert all(len(o) <= 100 for o in q["options"]), q["id"]
        assert 0 < len(q["explanation"]) <= 200, q["id"]


def test_shortened_text_is_cut_at_word_boundaries(exported, knowledge):
    words = {w for p in knowledge.corpus.passages for w in re.findall(r"\w+", fold(p.text))}
    for q in exported:
        for piece in [q["question"], q["explanation"], *q["options"]]:
            for cut in re.findall(r"(\w+)…", piece):
                assert fold(cut).strip() in words, (q["id"], cut)


def test_no_duplicates(exported):
    ids = [q["id"] for q in exported]
    assert len(ids) == len(set(ids))
    texts = [fold(q["question"]) for q in exported]
    assert len(texts) == len(set(texts))
    pairs = [(q["id"].split(":")[0], q["source_id"], fold(q["options"][q["answer"]])) for q in exported]
    assert len(pairs) == len(set(pairs))


def test_sources_are_real_passages(exported, knowledge):
    passages = knowledge.corpus.by_id()
    for q in exported:
        passage = passages[q["source_id"]]
        assert q["source_text"] == passage.text, q["id"]
        assert q["source_section"] == passage.section, q["id"]


def test_correct_option_is_proven_and_wrong_options_are_not(exported, knowledge):
    failures = {q["id"]: support_problems(q, knowledge) for q in exported}
    assert not {k: v for k, v in failures.items() if v}


def test_quoted_source_text_in_generated_questions_is_verbatim(exported):
    for q in exported:
        if q["id"].startswith("curated:"):
            continue
        for quote in quotations(q["question"]):
            if "___" not in quote:
                assert contains(q["source_text"], quote.strip("… ")), (q["id"], quote)


def test_several_templates_and_the_curated_questions_are_present(exported):
    templates = {q["id"].split(":")[0] for q in exported}
    assert {"group", "part", "component", "statement", "heading", "figure", "model", "curated"} <= templates
    curated = [q for q in exported if q["id"].startswith("curated:")]
    assert 20 <= len(curated) <= 40


def test_housing_model_is_one_model(knowledge, exported):
    housing = next(m for m in knowledge.catalog.models if len(m.titles) == 2)
    for q in exported:
        if q["id"].startswith("model:"):
            titles = [o for o in q["options"] if fold(o).startswith(fold(housing.titles[0]))]
            assert len(titles) <= 1, q["id"]


def test_figure_questions_offer_figures_absent_from_the_passage(exported):
    figures = [q for q in exported if q["id"].startswith("figure:")]
    answers = {q["options"][q["answer"]] for q in figures}
    assert {"Top 5", "1,5 lần", "100%", "3 tuyến"} <= answers


# --------------------------------------------------------------- stability

def test_bank_is_deterministic_with_stable_ids(bank):
    again = build_bank(KnowledgeBase.load(SOURCES))
    assert again == bank
    assert [q.id for q in again] == [q.id for q in bank]


def test_generated_ids_name_template_and_passage(bank):
    for q in bank:
        template, _, rest = q.id.partition(":")
        assert template and rest
        if template != "curated":
            assert rest.startswith(q.source_id + ":")
            assert re.fullmatch(r"[0-9a-f]{8}", rest.rsplit(":", 1)[1])


def test_question_dataclass_is_frozen_with_the_public_fields(bank):
    assert [f.name for f in dataclasses.fields(QuizQuestion)] == list(JSON_KEYS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        bank[0].answer = 1  # type: ignore[misc]
    assert isinstance(bank[0].options, tuple)


# --------------------------------------------------------------- validation

def test_bank_validates(bank, knowledge):
    assert validate_bank(bank, knowledge) == []


def _one_per_template(bank):
    seen = {}
    for q in bank:
        seen.setdefault(q.template, q)
    return list(seen.values())


def test_validator_rejects_a_wrong_answer_index(bank, knowledge):
    for q in _one_per_template(bank):
        broken = dataclasses.replace(q, answer=(q.answer + 1) % 4)
        assert validate_bank([broken], knowledge), q.id


def test_validator_rejects_a_wrong_option_the_passage_supports(bank, knowledge):
    for q in bank:
        if q.template in ("statement", "component", "curated") and "___" not in q.question:
            supported = next(c.strip() for c in re.split(r"[;.,:\n]", q.source_text)
                             if 10 < len(c.strip()) <= 100 and c.strip() not in q.options)
            options = list(q.options)
            options[(q.answer + 1) % 4] = supported
            assert validate_bank([dataclasses.replace(q, options=tuple(options))], knowledge), q.id


def test_validator_rejects_limits_duplicates_and_bad_sources(bank, knowledge):
    q = bank[0]
    assert validate_bank([dataclasses.replace(q, question="x" * 301)], knowledge)
    assert validate_bank([dataclasses.replace(q, explanation="x" * 201)], knowledge)
    long_options = tuple("x" * 101 if i != q.answer else o for i, o in enumerate(q.options))
    assert validate_bank([dataclasses.replace(q, options=long_options)], knowledge)
    assert validate_bank([dataclasses.replace(q, options=q.options[:3])], knowledge)
    same = tuple(q.options[q.answer] for _ in q.options)
    assert validate_bank([dataclasses.replace(q, options=same)], knowledge)
    assert validate_bank([q, dataclasses.replace(q, id=q.id + "x")], knowledge)
    assert validate_bank([dataclasses.replace(q, source_text=q.source_text + " thêm")], knowledge)
    assert validate_bank([dataclasses.replace(q, source_id="khong-co.p1")], knowledge)
    assert validate_bank([dataclasses.replace(q, topic="khac")], knowledge)


# ------------------------------------------------------------- curated file

def test_curated_file_documents_its_format():
    head = CURATED.read_text(encoding="utf-8").splitlines()[:30]
    assert all(line.startswith("#") or not line.strip() for line in head[:20])
    text = "\n".join(head)
    for field in ("id", "question", "options", "answer", "explanation", "anchor"):
        assert f"{field}:" in text


def test_curated_questions_resolve_their_anchor(knowledge):
    curated = load_curated(knowledge)
    assert curated and all(q.id.startswith("curated:") for q in curated)
    assert validate_bank(curated, knowledge) == []


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "quiz_curated.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_curated_bad_anchor_is_a_clear_error(tmp_path, knowledge):
    path = _write(tmp_path, """
- id: cau-sai-neo
  question: "Theo Phụ lục 1, văn hóa Hải Phòng đặt ngang hàng với gì?"
  options: ["Kinh tế, chính trị, xã hội", "Giáo dục, y tế", "Quốc phòng, an ninh", "Khoa học, công nghệ"]
  answer: 0
  explanation: "Văn hóa đặt ngang hàng với kinh tế, chính trị, xã hội."
  anchor: "Câu này không có trong văn bản nguồn"
""")
    with pytest.raises(QuizBankError) as error:
        build_bank(knowledge, curated_path=path)
    message = str(error.value)
    assert "cau-sai-neo" in message and "anchor" in message
    assert "Câu này không có trong văn bản nguồn" in message


def test_cli_reports_a_bad_curated_file(tmp_path):
    path = _write(tmp_path, """
- id: neo-khong-ton-tai
  question: "Câu hỏi?"
  options: ["A", "B", "C", "D"]
  answer: 0
  explanation: "Giải thích."
  anchor: "Đoạn này không hề có trong nguồn"
""")
    result = subprocess.run([*_civicbot(), "quiz", "export", "--json", "--curated", str(path)], cwd=ROOT,
                            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
                            capture_output=True, text=True, encoding="utf-8", timeout=240)
    assert result.returncode == 1
    assert "neo-khong-ton-tai" in result.stderr and "anchor" in result.stderr
    assert result.stdout == ""


def test_curated_wrong_option_found_in_the_passage_is_an_error(tmp_path, knowledge):
    path = _write(tmp_path, """
- id: cau-hai-dap-an
  question: "Theo Phụ lục 1, văn hóa Hải Phòng đặt ngang hàng với gì?"
  options: ["Kinh tế, chính trị, xã hội", "Chính trị", "Quốc phòng, an ninh", "Khoa học, công nghệ"]
  answer: 0
  explanation: "Văn hóa đặt ngang hàng với kinh tế, chính trị, xã hội."
  anchor: "Văn hóa Hải Phòng phải được đặt ngang hàng"
""")
    with pytest.raises(QuizBankError) as error:
        build_bank(knowledge, curated_path=path)
    assert "curated:cau-hai-dap-an" in str(error.value)


def test_curated_malformed_entry_is_an_error(tmp_path, knowledge):
    path = _write(tmp_path, """
- id: thieu-lua-chon
  question: "Câu hỏi?"
  options: ["A", "B", "C"]
  answer: 0
  explanation: "Giải thích."
  anchor: "Văn hóa Hải Phòng phải được đặt ngang hàng"
""")
    with pytest.raises(QuizBankError, match="thieu-lua-chon.*4 options"):
        load_curated(knowledge, path)


def test_curated_question_is_added_with_its_passage(tmp_path, knowledge):
    path = _write(tmp_path, """
- id: van-hoa-ngang-hang
  question: "Theo Phụ lục 1, văn hóa Hải Phòng phải được đặt ngang hàng với những lĩnh vực nào?"
  options: ["Kinh tế, chính trị, xã hội", "Giáo dục, y tế, khoa học", "Quốc phòng, an ninh, đối ngoại", "Khoa học, công nghệ"]
  answer: 0
  explanation: "Văn hóa đặt ngang hàng với kinh tế, chính trị, xã hội."
  anchor: "Văn hóa Hải Phòng phải được đặt ngang hàng"
""")
    bank = build_bank(knowledge, curated_path=path)
    added = next(q for q in bank if q.id == "curated:van-hoa-ngang-hang")
    assert added.topic == "tieu_chi_cnxh"
    assert added.source_id == "phu-luc-1-bo-tieu-chi.II.4.p1"
    assert "Văn hóa Hải Phòng phải được đặt ngang hàng" in added.source_text
    assert added.options[added.answer] == "Kinh tế, chính trị, xã hội"
