"""The quiz question bank: multiple-choice questions proven by the source text.

Youth union members (đoàn viên) learn the criteria of Phụ lục 1 and the 11
focus models of Resolution 05 through short quizzes. Every question in the
bank carries the passage that proves its answer, and :func:`validate_bank`
checks that proof mechanically, so a question can never teach something the
sources do not say.

Two kinds of questions make up the bank:

* generated from the knowledge base by the templates in
  :mod:`knowledge.quiz_generate` (deterministic: the same bank on every run);
* curated by people in ``data/quiz_curated.yaml`` (format documented at the
  top of that file), each tied to its proving passage by a verbatim anchor.

A question's id is ``template:key`` (``group:phu-luc-1-bo-tieu-chi.II.5.p4:1a2b3c4d``,
``curated:mo-hinh-chinh-quyen``). Generated keys are the proving passage id
and a hash of the answer, so an answer stored by the quiz player still points
to the same question after a rebuild; editing a curated question keeps its id.

How an answer is proven depends on the template (the part of the id before
the first ``:``):

``text``    the correct option appears in the passage (after diacritic,
            case and punctuation folding, on word boundaries); no wrong
            option does.
``cloze``   the question quotes a phrase with a blank ``___``; the phrase
            with the correct option filled in appears in the passage, with a
            wrong option it does not.
``section`` options name sections of Phụ lục 1 (criteria groups, parts);
            the passage lies in the correct option's section and in no wrong
            option's section.
``model``   options name focus models; the correct model's title contains
            the quoted fragment and the passage names that title; no wrong
            model's title contains the fragment.
``count``   options are numbers; the correct one is the number of items
            (sub-sections, or numbered points) of the passage's section, and
            the passage shows the last of them.

Curated questions use ``cloze`` when the question contains ``___`` and
``text`` otherwise. For generated questions every quoted phrase “…” of the
question must also appear in the passage.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from knowledge.documents import Document, Passage, Section
from vntext.normalize import clean_input, fold, nfc

DATA_DIR = Path(__file__).parent / "data"
CURATED_FILE = DATA_DIR / "quiz_curated.yaml"

TOPICS = ("tieu_chi_cnxh", "tieu_chi_con_nguoi", "mo_hinh")
TOPIC_TITLES = {
    "tieu_chi_cnxh": "Tiêu chí Chủ nghĩa xã hội (Phụ lục 1, phần I và II)",
    "tieu_chi_con_nguoi": "Tiêu chí con người xã hội chủ nghĩa (Phụ lục 1, phần III)",
    "mo_hinh": "Nghị quyết 05 và 11 mô hình trọng tâm",
}

# Telegram quiz polls: question 300, each option 100, explanation 200 characters.
MAX_QUESTION_CHARS = 300
MAX_OPTION_CHARS = 100
MAX_EXPLANATION_CHARS = 200
OPTION_COUNT = 4
BLANK = "___"
SEED = "civicbot-quiz-v1"

JSON_KEYS = (
    "id", "topic", "question", "options", "answer", "explanation",
    "source_id", "source_section", "source_text",
)

CURATED_TEMPLATE = "curated"
# template -> how its answer is proven (see the module docstring).
TEMPLATE_CHECKS = {
    "group": "section",        # which criteria group a bullet belongs to
    "part": "section",         # which part of Phụ lục 1 a group belongs to
    "component": "text",       # which component (i)–(vi) a description belongs to
    "statement": "text",       # which of four statements a group / component says
    "continue": "cloze",       # how a criterion goes on
    "heading": "cloze",        # the missing word(s) of a group heading
    "figure": "cloze",         # the figure a criterion sets
    "count": "count",          # how many groups / points a section has
    "model": "model",          # which focus model a title fragment belongs to
    CURATED_TEMPLATE: None,    # cloze if the question has a blank, else text
}

# The two goals of part I, as their headings begin.
GOAL_NAMES = ("Thành phố Văn minh", "Thành phố Hạnh phúc")

_NUMBER_PREFIX = re.compile(r"^(?:[IVX]+|\d+|\([ivx]+\))[.)]?\s+")
_ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")


class QuizBankError(ValueError):
    """The bank (usually the curated file) has problems; the message lists them."""


@dataclass(frozen=True)
class QuizQuestion:
    id: str
    topic: str
    question: str
    options: tuple[str, ...]      # exactly four
    answer: int                   # index of the correct option, 0-3
    explanation: str              # short, Vietnamese, shown after answering
    source_id: str                # passage that proves the answer
    source_section: str           # its section path ("Phụ lục 1 › II. … › 5. …")
    source_text: str              # its verbatim text

    @property
    def template(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def correct_option(self) -> str:
        return self.options[self.answer]


# ---------------------------------------------------------------- text helpers

def norm(text: str) -> str:
    """Diacritics, case, punctuation and spacing folded away: the form answers are compared in."""
    return " ".join(re.findall(r"\w+|%", fold(text)))


def supports(text: str, phrase: str) -> bool:
    """True when ``phrase`` occurs in ``text`` after :func:`norm`, on word boundaries."""
    needle = norm(phrase)
    return bool(needle) and f" {needle} " in f" {norm(text)} "


def quoted(text: str) -> list[str]:
    """The outermost “…” quotations of ``text`` (nested quotes stay inside)."""
    spans, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "“":
            if depth == 0:
                start = i + 1
            depth += 1
        elif ch == "”" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start:i])
    return spans


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut after a comma or at a space, never mid-word."""
    text = text.strip()
    if len(text) <= limit:
        return text
    room = text[:limit]    # a cut inside it leaves a character for the ellipsis
    cut = max(room.rfind(", "), room.rfind("; "))
    if cut < limit // 2:
        cut = room.rfind(" ")
    if cut <= 0:
        cut = limit - 1
    return text[:cut].rstrip(" ,;:.–-") + "…"


def strip_number(heading: str) -> str:
    """"5. Đoàn kết, …" -> "Đoàn kết, …"."""
    return _NUMBER_PREFIX.sub("", heading, count=1)


def stable_hash(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:8]


def question_id(template: str, passage_id: str, answer: str) -> str:
    return f"{template}:{passage_id}:{stable_hash(template, passage_id, norm(answer))}"


def rng_for(*parts: str) -> random.Random:
    """A generator seeded by what a choice is about, so choices never shift when others change."""
    return random.Random(stable_hash(SEED, *parts))


# ------------------------------------------------------- structure of the text

def criteria_document(knowledge) -> Document:
    doc = knowledge.corpus.document(knowledge.catalog.criteria_document)
    if doc is None:
        raise QuizBankError(f"criteria document {knowledge.catalog.criteria_document!r} not loaded")
    return doc


def section_of(doc: Document, passage_id: str) -> Section | None:
    """The section a passage belongs to (its id minus the last part)."""
    return doc.section(passage_id.rsplit(".", 1)[0])


def lies_in(doc: Document, passage_id: str, section: Section) -> bool:
    return passage_id.startswith(doc.section_id(section) + ".")


def topic_of(knowledge, passage: Passage) -> str:
    """Phụ lục 1 part III -> con người; the rest of Phụ lục 1 -> CNXH; the resolution -> models."""
    if passage.doc_id != knowledge.catalog.criteria_document:
        return "mo_hinh"
    keys = passage.id[len(passage.doc_id) + 1:].split(".")
    return "tieu_chi_con_nguoi" if keys and keys[0] == "III" else "tieu_chi_cnxh"


def items_of(section: Section) -> list:
    """What a section enumerates: its quoted sub-sections, else its blocks."""
    children = [c for c in section.children if not c.editorial]
    return children if children else list(section.blocks)


def goal_name(section: Section) -> str | None:
    rest = strip_number(section.heading)
    return next((g for g in GOAL_NAMES if rest.startswith(g)), None)


def part_name(part: Section) -> str:
    """"II. Bộ tiêu chí Chủ nghĩa xã hội tại thành phố Hải Phòng" -> "Bộ tiêu chí Chủ nghĩa xã hội"."""
    return strip_number(part.heading).split(" tại thành phố")[0].rstrip(" .")


def group_label(section: Section) -> str:
    """A criteria group as a poll option: "5. Đoàn kết, trách nhiệm, kỷ cương"."""
    return shorten(section.heading.rstrip(" ."), MAX_OPTION_CHARS - 2)


def place_label(doc: Document, section: Section) -> str:
    """A part of Phụ lục 1 (or a goal of part I) as a poll option."""
    lineage = [s for s in section.lineage() if s is not doc.root]
    if len(lineage) == 1:
        return f"Phần {section.number}: {strip_number(section.heading).rstrip(' .')}"
    return f"Phần {lineage[0].number}, mục {section.number}: {goal_name(section)}"


def place_sections(doc: Document) -> list[Section]:
    """The four places a quiz asks about: the goals of part I and the parts with criteria groups."""
    out = []
    for part in doc.root.children:
        goals = [c for c in part.children if goal_name(c)]
        out.extend(goals if goals else [part])
    return out


def group_sections(doc: Document) -> list[Section]:
    """The numbered criteria groups (level 3 under parts II and III)."""
    return [g for part in doc.root.children if not any(goal_name(c) for c in part.children)
            for g in part.children if not g.editorial]


def section_options(doc: Document) -> dict[str, Section]:
    """norm(option label) -> section, for every label a "section" question may use."""
    labels = {norm(place_label(doc, s)): s for s in place_sections(doc)}
    labels.update({norm(group_label(g)): g for g in group_sections(doc)})
    return labels


def model_label(model) -> str:
    """A focus model as a poll option: its first title, shortened at a comma when long."""
    title = model.titles[0]
    if len(title) <= 60:
        return title
    return title.split(", ")[0] + "…"


def model_options(knowledge) -> dict[str, object]:
    return {norm(model_label(m)): m for m in knowledge.catalog.models}


# ------------------------------------------------------------------ curated file

def load_curated(knowledge, path: Path = CURATED_FILE) -> list[QuizQuestion]:
    """Curated questions, anchors resolved to passages. Any malformed entry is an error."""
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if isinstance(entries, dict):
        entries = entries.get("questions") or []
    corpus = knowledge.corpus
    problems: list[str] = []
    out: list[QuizQuestion] = []
    for n, entry in enumerate(entries, 1):
        where = f"{path.name}: question {n}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not a mapping")
            continue
        slug = str(entry.get("id") or "").strip()
        where = f"{path.name}: question {slug or n}"
        missing = [k for k in ("id", "question", "options", "answer", "explanation", "anchor")
                   if entry.get(k) in (None, "", [])]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
            problems.append(f"{where}: id must be lower-case letters, digits and '-'")
            continue
        options = entry["options"]
        if not isinstance(options, list) or len(options) != OPTION_COUNT:
            problems.append(f"{where}: needs exactly {OPTION_COUNT} options")
            continue
        answer = entry["answer"]
        if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < OPTION_COUNT:
            problems.append(f"{where}: answer must be an option index 0-{OPTION_COUNT - 1}")
            continue
        anchor = nfc(str(entry["anchor"]))
        found = corpus.containing(anchor) or corpus.containing(anchor, "overview")
        if not found:
            problems.append(f"{where}: anchor not found in any passage of the sources: {anchor!r}")
            continue
        passage = found[0]
        options = [clean_input(str(o)) for o in options]
        correct = options[answer]
        if entry.get("shuffle", True):
            wrong = [o for i, o in enumerate(options) if i != answer]
            answer = rng_for(CURATED_TEMPLATE, slug).randrange(OPTION_COUNT)
            options = wrong[:answer] + [correct] + wrong[answer:]
        topic = entry.get("topic") or topic_of(knowledge, passage)
        out.append(QuizQuestion(
            id=f"{CURATED_TEMPLATE}:{slug}",
            topic=topic,
            question="\n".join(clean_input(line) for line in str(entry["question"]).splitlines()
                                if line.strip()),
            options=tuple(options),
            answer=answer,
            explanation=clean_input(str(entry["explanation"])),
            source_id=passage.id,
            source_section=passage.section,
            source_text=passage.text,
        ))
    if problems:
        raise QuizBankError("curated quiz questions are invalid:\n  " + "\n  ".join(problems))
    return out


# -------------------------------------------------------------------- the bank

def build_bank(knowledge, curated_path: Path | None = CURATED_FILE) -> list[QuizQuestion]:
    """Generated and curated questions, validated; raises :class:`QuizBankError` on any problem."""
    from knowledge.quiz_generate import generate

    bank = generate(knowledge)
    if curated_path is not None:
        bank.extend(load_curated(knowledge, curated_path))
    problems = validate_bank(bank, knowledge)
    if problems:
        raise QuizBankError("quiz bank is invalid:\n  " + "\n  ".join(problems))
    return bank


def bank_as_json(bank: list[QuizQuestion]) -> list[dict]:
    return [
        {
            "id": q.id,
            "topic": q.topic,
            "question": q.question,
            "options": list(q.options),
            "answer": q.answer,
            "explanation": q.explanation,
            "source_id": q.source_id,
            "source_section": q.source_section,
            "source_text": q.source_text,
        }
        for q in bank
    ]


def by_topic(bank: list[QuizQuestion]) -> dict[str, list[QuizQuestion]]:
    grouped: dict[str, list[QuizQuestion]] = {t: [] for t in TOPICS}
    for q in bank:
        grouped.setdefault(q.topic, []).append(q)
    return grouped


# ------------------------------------------------------------------ validation

def validate_bank(bank: list[QuizQuestion], knowledge) -> list[str]:
    """Every problem of the bank, one line each; empty when the bank is valid."""
    passages = knowledge.corpus.by_id()
    doc = criteria_document(knowledge)
    context = _Context(doc, section_options(doc), model_options(knowledge))
    problems: list[str] = []
    seen_ids: set[str] = set()
    seen_questions: dict[str, str] = {}
    seen_answers: dict[tuple[str, str, str], str] = {}
    for q in bank:
        def problem(message: str) -> None:
            problems.append(f"{q.id}: {message}")

        if q.id in seen_ids:
            problem("duplicate id")
        seen_ids.add(q.id)
        template = q.template
        if template not in TEMPLATE_CHECKS or ":" not in q.id:
            problem(f"unknown template {template!r}")
            continue
        if q.topic not in TOPICS:
            problem(f"unknown topic {q.topic!r}")
        if not isinstance(q.options, tuple) or len(q.options) != OPTION_COUNT:
            problem(f"needs exactly {OPTION_COUNT} options")
            continue
        if not isinstance(q.answer, int) or not 0 <= q.answer < OPTION_COUNT:
            problem("answer is not an option index")
            continue
        if any(not isinstance(o, str) or not o.strip() for o in q.options):
            problem("empty option")
            continue
        if len({norm(o) for o in q.options}) != OPTION_COUNT:
            problem("options are not distinct")
        if not q.question.strip() or not q.explanation.strip():
            problem("empty question or explanation")
        if len(q.question) > MAX_QUESTION_CHARS:
            problem(f"question longer than {MAX_QUESTION_CHARS} characters ({len(q.question)})")
        for option in q.options:
            if len(option) > MAX_OPTION_CHARS:
                problem(f"option longer than {MAX_OPTION_CHARS} characters: {option!r}")
        if len(q.explanation) > MAX_EXPLANATION_CHARS:
            problem(f"explanation longer than {MAX_EXPLANATION_CHARS} characters ({len(q.explanation)})")

        key = norm(q.question)
        if key in seen_questions:
            problem(f"same question text as {seen_questions[key]}")
        seen_questions.setdefault(key, q.id)
        answer_key = (template, q.source_id, norm(q.correct_option))
        if answer_key in seen_answers:
            problem(f"same passage and answer as {seen_answers[answer_key]}")
        seen_answers.setdefault(answer_key, q.id)

        passage = passages.get(q.source_id)
        if passage is None:
            problem(f"source passage {q.source_id!r} does not exist")
            continue
        if q.source_text != passage.text or q.source_section != passage.section:
            problem("source text or section differs from the passage")
        if q.topic in TOPICS and template != CURATED_TEMPLATE and q.topic != topic_of(knowledge, passage):
            problem(f"topic {q.topic!r} does not match the passage (expected {topic_of(knowledge, passage)!r})")

        check = TEMPLATE_CHECKS[template] or ("cloze" if BLANK in q.question else "text")
        for message in _CHECKS[check](q, passage, context):
            problem(message)
        if template != CURATED_TEMPLATE:
            for fragment in quoted(q.question):
                if BLANK not in fragment and not supports(passage.text, fragment.strip("… ")):
                    problem(f"quoted phrase not in the passage: {fragment!r}")
    return problems


@dataclass(frozen=True)
class _Context:
    doc: Document
    sections: dict[str, Section]
    models: dict[str, object]


def _check_text(q: QuizQuestion, passage: Passage, _ctx: _Context) -> list[str]:
    out = []
    if not supports(passage.text, q.correct_option):
        out.append(f"correct option not in the passage: {q.correct_option!r}")
    for i, option in enumerate(q.options):
        if i != q.answer and supports(passage.text, option):
            out.append(f"wrong option is supported by the passage: {option!r}")
    return out


def _check_cloze(q: QuizQuestion, passage: Passage, _ctx: _Context) -> list[str]:
    templates = [t for t in quoted(q.question) if BLANK in t]
    if len(templates) != 1 or templates[0].count(BLANK) != 1 or q.question.count(BLANK) != 1:
        return [f"a fill-in question needs exactly one {BLANK}, inside a quotation “…”"]
    template = templates[0]
    out = []
    if not supports(passage.text, template.replace(BLANK, q.correct_option)):
        out.append(f"phrase with the correct option is not in the passage: {q.correct_option!r}")
    for i, option in enumerate(q.options):
        if i != q.answer and supports(passage.text, template.replace(BLANK, option)):
            out.append(f"phrase with a wrong option is in the passage: {option!r}")
    return out


def _check_section(q: QuizQuestion, passage: Passage, ctx: _Context) -> list[str]:
    out = []
    for i, option in enumerate(q.options):
        section = ctx.sections.get(norm(option))
        if section is None:
            out.append(f"option names no section of the criteria: {option!r}")
        elif i == q.answer and not lies_in(ctx.doc, passage.id, section):
            out.append(f"passage does not lie in the correct section {option!r}")
        elif i != q.answer and lies_in(ctx.doc, passage.id, section):
            out.append(f"passage lies in the wrong option's section {option!r}")
    return out


def _check_model(q: QuizQuestion, passage: Passage, ctx: _Context) -> list[str]:
    fragments = quoted(q.question)
    if len(fragments) != 1:
        return ["a model question quotes exactly one fragment of a title"]
    fragment = fragments[0]
    out = []
    for i, option in enumerate(q.options):
        model = ctx.models.get(norm(option))
        if model is None:
            out.append(f"option names no focus model: {option!r}")
            continue
        titles = [t for t in model.titles if supports(t, fragment)]
        if i == q.answer:
            if not titles:
                out.append(f"correct model's title does not contain {fragment!r}")
            elif not any(supports(passage.text, t) for t in titles):
                out.append("passage does not name the correct model")
        elif titles:
            out.append(f"wrong option's title also contains the fragment: {option!r}")
    return out


def _check_count(q: QuizQuestion, passage: Passage, ctx: _Context) -> list[str]:
    section = section_of(ctx.doc, passage.id)
    if section is None:
        return ["count questions need a passage of the criteria document"]
    items = items_of(section)
    if not items:
        return ["the passage's section enumerates nothing"]
    numbers = [re.match(r"\d+", o) for o in q.options]
    if not all(numbers):
        return ["count options must start with a number"]
    out = []
    for i, match in enumerate(numbers):
        if (int(match.group()) == len(items)) != (i == q.answer):
            out.append(f"option {q.options[i]!r} is {'not ' if i == q.answer else ''}"
                       f"the number of items ({len(items)})")
    last = items[-1]
    marker = last.number if isinstance(last, Section) else _ROMAN[len(items) - 1]
    if not supports(passage.text, marker):
        out.append("passage does not show the last item")
    return out


_CHECKS = {
    "text": _check_text,
    "cloze": _check_cloze,
    "section": _check_section,
    "model": _check_model,
    "count": _check_count,
}
