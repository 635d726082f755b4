"""Question templates: quiz questions generated from the knowledge base.

Each template turns passages into drafts (question, correct option, wrong
options, explanation, proving passage); :func:`generate` shuffles the options
with a generator seeded by the question id, so the bank is the same on every
run, and keeps only drafts that pass :func:`knowledge.quiz.validate_bank`.
A template that cannot build a good question from a passage (no fragment
short enough, not enough wrong options the passage does not support) skips
it rather than padding the bank.

Wrong options are always real wording of the sources taken from *other*
passages (sibling groups, other components, other headings, other models) or
neighbouring figures and counts; they are never claims presented as true.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from knowledge.documents import Document, Passage, Section
from knowledge.quiz import (
    BLANK, MAX_EXPLANATION_CHARS, MAX_OPTION_CHARS, MAX_QUESTION_CHARS, OPTION_COUNT,
    QuizQuestion, criteria_document, goal_name, group_label, group_sections, items_of,
    lies_in, model_label, norm, part_name, place_label, place_sections, question_id, quoted,
    rng_for, shorten, strip_number, supports, topic_of, validate_bank,
)

log = logging.getLogger(__name__)

WRONG = OPTION_COUNT - 1
MIN_CLAUSE_CHARS = 15

# Level 1: sentence, ";" and ":" boundaries and line breaks. Level 2: commas.
_SEP1 = re.compile(r"[.;:](?=\s)|\n")
_SEP2 = re.compile(r",(?=\s)")
_TRIM = " \n.;:,/…"
_COMPONENT = re.compile(r"^\(([ivx]+)\)\s+([^:]{3,80}):\s+(.+)$", re.S)

# Figures a criterion sets, and the neighbouring values offered as wrong options.
_FIGURES: list[tuple[re.Pattern, object]] = [
    (re.compile(r"\bTop \d+\b"), lambda m: [f"Top {n}" for n in (3, 5, 10, 15, 20)]),
    (re.compile(r"\b\d+(?:,\d+)? lần\b"), lambda m: ["1,2 lần", "1,5 lần", "2 lần", "2,5 lần", "3 lần"]),
    (re.compile(r"\b\d+%"), lambda m: ["100%", "95%", "90%", "80%", "70%"]),
    (re.compile(r"\b\d+ tuyến\b"), lambda m: [f"{n} tuyến" for n in (2, 3, 4, 5)]),
    (re.compile(r"\b\d+ mô hình\b"), lambda m: [f"{n} mô hình" for n in (9, 10, 11, 12)]),
    (re.compile(r"\b(20\d\d)(\s*[–-]\s*)(20\d\d)\b"), lambda m: [
        f"{int(m[1]) + da}{m[2]}{int(m[3]) + db}"
        for da, db in ((0, 0), (-1, 0), (1, 0), (0, 5), (-5, -5))
    ]),
]


@dataclass(frozen=True)
class Draft:
    template: str
    passage: Passage
    question: str
    correct: str
    wrong: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class Bullet:
    passage: Passage
    section: Section
    body: str          # the passage text without the group heading in front


# ------------------------------------------------------------------- entry point

def generate(knowledge) -> list[QuizQuestion]:
    """All generated questions, valid and unique, in a fixed order."""
    doc = criteria_document(knowledge)
    drafts: list[Draft] = []
    for template in TEMPLATES:
        drafts.extend(template(knowledge, doc))
    out: list[QuizQuestion] = []
    seen: set[tuple] = set()
    for draft in drafts:
        question = _finish(knowledge, draft)
        if question is None:
            continue
        problems = validate_bank([question], knowledge)
        if problems:
            log.debug("quiz draft dropped: %s", "; ".join(problems))
            continue
        keys = {("id", question.id), ("text", norm(question.question)),
                ("answer", question.template, question.source_id, norm(question.correct_option))}
        if keys & seen:
            continue
        seen |= keys
        out.append(question)
    return out


def _finish(knowledge, draft: Draft) -> QuizQuestion | None:
    options = [_cap(draft.correct), *(_cap(w) for w in draft.wrong)]
    if len(options) != OPTION_COUNT or len({norm(o) for o in options}) != OPTION_COUNT:
        return None
    qid = question_id(draft.template, draft.passage.id, draft.correct)
    answer = rng_for("position", qid).randrange(OPTION_COUNT)
    wrong = options[1:]
    return QuizQuestion(
        id=qid,
        topic=topic_of(knowledge, draft.passage),
        question=draft.question,
        options=tuple(wrong[:answer] + [options[0]] + wrong[answer:]),
        answer=answer,
        explanation=draft.explanation,
        source_id=draft.passage.id,
        source_section=draft.passage.section,
        source_text=draft.passage.text,
    )


# ---------------------------------------------------------------- text helpers

def _cap(option: str) -> str:
    """Options start with a capital, so case never gives away which one ends a sentence."""
    return option[:1].upper() + option[1:]


def _pieces(text: str, sep: re.Pattern, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) spans of ``text[start:end]`` between separators, trimmed of spaces and punctuation."""
    end = len(text) if end is None else end
    spans, begin = [], start
    for m in sep.finditer(text, start, end):
        spans.append((begin, m.start()))
        begin = m.end()
    spans.append((begin, end))
    out = []
    for s, e in spans:
        while s < e and text[s] in " \n":
            s += 1
        while e > s and text[e - 1] in _TRIM:
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _balanced(text: str) -> bool:
    return text.count("“") == text.count("”") and text.count("(") == text.count(")")


def _comma_prefix(text: str, s: int, e: int, limit: int) -> tuple[int, int] | None:
    """The longest run of whole comma pieces from ``s`` that fits in ``limit``."""
    best = None
    for _, pe in _pieces(text, _SEP2, s, e):
        if pe - s > limit:
            break
        best = (s, pe)
    return best


def _clauses(text: str, limit: int = MAX_OPTION_CHARS) -> list[str]:
    """Verbatim clauses of ``text`` that fit in an option.

    A clause too long for an option gives its first comma pieces, marked "…"
    as unfinished (at least 40 characters, so it still says something).
    """
    out = []
    for s, e in _pieces(text, _SEP1):
        clause = text[s:e]
        if e - s > limit:
            fit = _comma_prefix(text, s, e, limit - 1)
            if fit is None or fit[1] - fit[0] < 40:
                continue
            clause = text[fit[0]:fit[1]] + "…"
        if len(clause) >= MIN_CLAUSE_CHARS and _balanced(clause) and clause not in out:
            out.append(clause)
    return out


def _excerpt(text: str, limit: int) -> str | None:
    """``text`` from its start, within ``limit``: whole, else cut after a clause, a comma or a word."""
    text = text.strip()
    if len(text) <= limit:
        return text
    for sep, shortest in ((_SEP1, 80), (_SEP2, 60), (re.compile(r"\s"), 60)):
        ends = [e for _, e in _pieces(text, sep) if e < limit]
        for end in reversed(ends):
            excerpt = text[:end].rstrip(_TRIM)
            if len(excerpt) >= shortest and _balanced(excerpt):
                return excerpt + "…"
    return None


def _pick(rng, pool: list[str], correct: str, ok) -> tuple[str, ...] | None:
    """Three wrong options from ``pool``: distinct, accepted by ``ok``, close in length to ``correct``."""
    seen, candidates = {norm(correct)}, []
    for option in pool:
        key = norm(option)
        if key and key not in seen and len(option) <= MAX_OPTION_CHARS and ok(option):
            seen.add(key)
            candidates.append(option)
    if len(candidates) < WRONG:
        return None
    rng.shuffle(candidates)
    candidates.sort(key=lambda o: abs(len(o) - len(correct)) // 20)
    return tuple(candidates[:WRONG])


def _fit(template: str, *parts: str, limit: int = MAX_EXPLANATION_CHARS) -> str:
    """``template`` formatted with ``parts``, the last part shortened so the whole fits."""
    head = template.format(*parts[:-1], "")
    return template.format(*parts[:-1], shorten(parts[-1], limit - len(head))).replace("….", "…")


def _around(text: str, s: int, e: int, limit: int) -> str:
    """``text[s:e]`` with as much of what precedes it as fits, cut at a word boundary."""
    start = s
    for m in re.finditer(r"\S+", text[:s]):
        if e - m.start() + 2 <= limit:
            start = m.start()
            break
    excerpt = text[start:e].rstrip(_TRIM)
    return ("…" if start > 0 else "") + excerpt + ("…" if text[e:].strip(_TRIM) else "")


# ------------------------------------------------------- structure of the text

def _bullets(knowledge, doc: Document | None, section: Section, section_id: str | None = None) -> list[Bullet]:
    """The content passages of ``section``, each without its heading in front."""
    sid = section_id or doc.section_id(section)
    heading = "" if section.editorial else section.heading
    out = []
    for p in knowledge.corpus.passages:
        if p.kind != "content" or p.id.rsplit(".", 1)[0] != sid:
            continue
        body = p.text[len(heading) + 1:] if heading and p.text.startswith(heading + "\n") else p.text
        if heading and body.strip() in heading:
            continue   # a long heading quoted as its own passage
        out.append(Bullet(p, section, body))
    return out


def _group_parts(doc: Document) -> list[Section]:
    groups = group_sections(doc)
    return [part for part in doc.root.children if any(g.parent is part for g in groups)]


def _goals(doc: Document) -> list[Section]:
    return [s for s in place_sections(doc) if goal_name(s)]


def _where(doc: Document, passage: Passage) -> str:
    """"Phụ lục 1, phần II, nhóm 5", "Phụ lục 1, phần I, mục 2" or "bài báo về Nghị quyết 05"."""
    if passage.doc_id == doc.id:
        keys = passage.id[len(doc.id) + 1:].split(".")[:-1]
        names = ("phần", "nhóm" if keys and keys[0] != "I" else "mục")
        return ", ".join([doc.short_title, *(f"{n} {k}" for n, k in zip(names, keys))])
    return "bài báo về Nghị quyết 05"


def _news_bullets(knowledge, doc: Document) -> list[Bullet]:
    """Paragraphs of the resolution's report outside the list of models."""
    out = []
    for other in knowledge.corpus.documents:
        if other.id == doc.id:
            continue
        for section in other.sections():
            if section.parent is not None and section.heading and "mô hình" not in section.heading:
                out.extend(_bullets(knowledge, other, section, other.section_id(section)))
    return out


# --------------------------------------------------------------------- templates

def group_questions(knowledge, doc: Document) -> list[Draft]:
    """Which criteria group a bullet belongs to; options are the part's group headings."""
    drafts = []
    for part in _group_parts(doc):
        groups = [g for g in part.children if not g.editorial]
        prefix = (f"Theo Phụ lục 1, nội dung sau thuộc nhóm tiêu chí nào của "
                  f"{part_name(part)} (phần {part.number})?\n")
        for group in groups:
            for b in _bullets(knowledge, doc, group):
                excerpt = _excerpt(b.body, MAX_QUESTION_CHARS - len(prefix) - 2)
                if excerpt is None:
                    continue
                rng = rng_for("group", b.passage.id)
                wrong = rng.sample([group_label(g) for g in groups if g is not group], WRONG)
                drafts.append(Draft(
                    "group", b.passage, f"{prefix}“{excerpt}”", group_label(group), tuple(wrong),
                    _fit("Nội dung này thuộc nhóm {} của phần {}: “{}”.", group.number, part.number,
                         strip_number(group.heading)),
                ))
    return drafts


def part_questions(knowledge, doc: Document) -> list[Draft]:
    """Which part of Phụ lục 1 a criteria group belongs to (the goals of part I are the other places)."""
    places = place_sections(doc)
    drafts = []
    for part in _group_parts(doc):
        for group in (g for g in part.children if not g.editorial):
            bullets = _bullets(knowledge, doc, group)
            if not bullets:
                continue
            wrong = [place_label(doc, s) for s in places if s is not part]
            drafts.append(Draft(
                "part", bullets[0].passage,
                f"Nhóm tiêu chí “{strip_number(group.heading)}” thuộc phần nào của Phụ lục 1?",
                place_label(doc, part), tuple(wrong[:WRONG]),
                _fit("Đây là nhóm {} của phần {}: {}.", group.number, part.number, part_name(part)),
            ))
    return drafts


def _components(knowledge, doc: Document, goal: Section) -> list[tuple[Bullet, re.Match]]:
    out = []
    for b in _bullets(knowledge, doc, goal):
        match = _COMPONENT.match(b.body)
        if match:
            out.append((b, match))
    return out


def component_questions(knowledge, doc: Document) -> list[Draft]:
    """Which component (i)–(vi) of a goal a description belongs to."""
    drafts = []
    for goal in _goals(doc):
        components = _components(knowledge, doc, goal)
        part = goal.parent
        prefix = (f"Theo Phụ lục 1 (phần {part.number}, mục {goal.number}), mô tả sau ứng với "
                  f"yếu tố nào của {goal_name(goal)}?\n")
        for b, match in components:
            excerpt = _excerpt(match[3], MAX_QUESTION_CHARS - len(prefix) - 2)
            if excerpt is None:
                continue
            names = [m[2] for _, m in components if m is not match]
            wrong = _pick(rng_for("component", b.passage.id), names, match[2],
                          lambda o, p=b.passage: not supports(p.text, o))
            if wrong:
                drafts.append(Draft(
                    "component", b.passage, f"{prefix}“{excerpt}”", match[2], wrong,
                    _fit("Đây là yếu tố ({}) của {}: “{}”.", match[1], goal_name(goal), match[2]),
                ))
    return drafts


def _statement(key: str, scope: list[Bullet], siblings: list[Bullet], name: str, question: str,
               explain: str, text_of=lambda b: b.body) -> Draft | None:
    """One of four statements belongs to ``scope`` (called ``name``); wrong ones are clauses of ``siblings``.

    A sibling clause that repeats a phrase of ``name`` ("quốc phòng" for the
    group "Quốc phòng, an ninh vững mạnh; …") would read as belonging to the
    scope too, so it is never a wrong option.
    """
    rng = rng_for("statement", key)
    phrases = [name[s:e] for s, e in _pieces(name, re.compile(r"[,;](?=\s)")) if len(name[s:e].split()) >= 2]
    candidates = [(b, c) for b in scope for c in _clauses(text_of(b))]
    whole = [(b, c) for b, c in candidates if not c.endswith("…")]
    if not candidates:
        return None
    bullet, correct = rng.choice(whole or candidates)
    pool = [c for b in siblings for c in _clauses(text_of(b))]
    wrong = _pick(rng, pool, correct, lambda o: not any(supports(b.passage.text, o) for b in scope)
                  and not any(supports(o, phrase) for phrase in phrases))
    if wrong is None:
        return None
    return Draft("statement", bullet.passage, question, correct, wrong,
                 _fit(explain + " “{}”.", correct.rstrip("…")))


def statement_questions(knowledge, doc: Document) -> list[Draft]:
    """Which of four statements a criteria group or a component of a goal says."""
    drafts = []
    for part in _group_parts(doc):
        groups = [g for g in part.children if not g.editorial]
        for group in groups:
            siblings = [b for g in groups if g is not group for b in _bullets(knowledge, doc, g)]
            name = strip_number(group.heading)
            drafts.append(_statement(
                doc.section_id(group), _bullets(knowledge, doc, group), siblings, name,
                f"Theo Phụ lục 1, nội dung nào sau đây thuộc nhóm tiêu chí “{name}”?",
                f"Nhóm {group.number} (phần {part.number}) nêu:",
            ))
    components = [(goal, b, m) for goal in _goals(doc) for b, m in _components(knowledge, doc, goal)]
    description = {b.passage.id: m[3] for _, b, m in components}
    for goal, bullet, match in components:
        drafts.append(_statement(
            bullet.passage.id, [bullet], [b for _, b, m in components if m is not match], match[2],
            f"Theo Phụ lục 1, nội dung nào sau đây thuộc yếu tố “{match[2]}” của {goal_name(goal)}?",
            f"Yếu tố ({match[1]}) của {goal_name(goal)} nêu:",
            text_of=lambda b: description[b.passage.id],
        ))
    return [d for d in drafts if d is not None]


def _continuations(body: str) -> list[tuple[int, int, bool]]:
    """Split points (start, end, text follows) where a criterion can be cut and continued.

    Preferably after a sentence or ";" (the next clause is the answer); in a
    one-clause criterion, after a comma, when the rest of the clause is long
    enough to be a statement of its own.
    """
    level1 = _pieces(body, _SEP1)
    found: list[tuple[int, int, bool]] = []
    for n, (s, e) in enumerate(level1[1:], 1):
        more = n < len(level1) - 1
        if e - s > MAX_OPTION_CHARS:
            fit = _comma_prefix(body, s, e, MAX_OPTION_CHARS)
            if fit is None or fit[1] - fit[0] < 40:
                continue
            e, more = fit[1], True
        if len(body[:s].strip()) >= 25 and _good_answer(body[s:e]):
            found.append((s, e, more))
    if found:
        return found
    s1, e1 = level1[0]
    for s, _ in _pieces(body, _SEP2, s1, e1)[1:]:
        if len(body[s1:s]) >= 40 and e1 - s <= MAX_OPTION_CHARS and len(body[s:e1].split()) >= 5 \
                and _good_answer(body[s:e1]):
            return [(s, e1, len(level1) > 1)]
    return []


def _good_answer(answer: str) -> bool:
    return len(answer) >= MIN_CLAUSE_CHARS and not re.search(r"\d", answer) and _balanced(answer)


def continue_questions(knowledge, doc: Document) -> list[Draft]:
    """How a criterion goes on: the rest of a bullet, with clauses of other bullets as wrong options."""
    families = [[b for g in part.children if not g.editorial for b in _bullets(knowledge, doc, g)]
                for part in _group_parts(doc)]
    families.append(_news_bullets(knowledge, doc))
    drafts = []
    for family in families:
        for bullet in family:
            body = bullet.body
            where = _where(doc, bullet.passage)

            def question_for(split: tuple[int, int, bool]) -> str:
                start, _, more = split
                phrase = f"{body[:start].rstrip()} {BLANK}{' …' if more else ''}"
                return f"Điền phần còn thiếu ({where}):\n“{phrase}”"

            splits = [sp for sp in _continuations(body) if len(question_for(sp)) <= MAX_QUESTION_CHARS
                      and _balanced(body[:sp[0]])]
            if not splits:
                continue
            rng = rng_for("continue", bullet.passage.id)
            s, e, more = rng.choice(splits)
            question = question_for((s, e, more))
            phrase = quoted(question)[0]
            correct = body[s:e]
            pool = [c for b in family if b is not bullet for c in _clauses(b.body)]
            wrong = _pick(rng, pool, correct, lambda o, p=bullet.passage, t=phrase: not (
                supports(p.text, o) or supports(p.text, t.replace(BLANK, o))))
            if wrong:
                prefix = f"{where}: “”."
                drafts.append(Draft("continue", bullet.passage, question, correct, wrong,
                                    f"{where}: “{_around(body, s, e, MAX_EXPLANATION_CHARS - len(prefix))}”."))
    return drafts


def heading_questions(knowledge, doc: Document) -> list[Draft]:
    """The missing word(s) of a group heading; sibling headings' phrases are the wrong options."""
    groups = group_sections(doc)
    separator = re.compile(r"[,;](?=\s)")

    def phrases(group: Section) -> list[tuple[int, int]]:
        name = strip_number(group.heading)
        return [(s, e) for s, e in _pieces(name, separator)
                if 1 <= len(name[s:e].split()) <= 4 and _balanced(name[s:e]) and "“" not in name[s:e]]

    drafts = []
    for part in _group_parts(doc):
        per_group = 2 if len([g for g in groups if g.parent is part]) <= 6 else 1
        for group in (g for g in groups if g.parent is part):
            bullets = _bullets(knowledge, doc, group)
            if not bullets:
                continue
            passage = bullets[0].passage
            name = strip_number(group.heading)
            spans = phrases(group)
            if len(_pieces(name, separator)) < 2 or not spans:
                continue
            rng = rng_for("heading", doc.section_id(group))
            pool = [strip_number(g.heading)[s:e] for g in groups if g is not group for s, e in phrases(g)]
            for s, e in rng.sample(spans, min(per_group, len(spans))):
                phrase = name[:s] + BLANK + name[e:]
                wrong = _pick(rng, pool, name[s:e], lambda o, p=passage: not supports(p.text, o))
                if wrong:
                    drafts.append(Draft(
                        "heading", passage,
                        f"Điền vào chỗ trống để hoàn thành tên nhóm tiêu chí {group.number} của "
                        f"{part_name(part)}:\n“{phrase}”",
                        name[s:e], wrong,
                        _fit("Tên đầy đủ của nhóm {} (phần {}): “{}”.", group.number, part.number, name),
                    ))
    return drafts


def _window(text: str, s: int, e: int, limit: int = 170) -> tuple[int, int]:
    """The level-1 clause around ``text[s:e]``, narrowed to comma pieces when longer than ``limit``."""
    lines = [(ls, le) for ls, le in _pieces(text, _SEP1) if ls <= s and e <= le]
    if not lines:
        return s, e
    cs, ce = lines[0]
    if ce - cs <= limit:
        return cs, ce
    pieces = _pieces(text, _SEP2, cs, ce)
    i = next(n for n, (ps, pe) in enumerate(pieces) if ps <= s <= pe)
    lo = hi = i
    while True:
        grown = False
        if hi + 1 < len(pieces) and pieces[hi + 1][1] - pieces[lo][0] <= limit:
            hi, grown = hi + 1, True
        if lo > 0 and pieces[hi][1] - pieces[lo - 1][0] <= limit:
            lo, grown = lo - 1, True
        if not grown:
            return pieces[lo][0], pieces[hi][1]


def figure_questions(knowledge, doc: Document) -> list[Draft]:
    """The figure a criterion sets (Top 5, 1,5 lần, 100%, 3 tuyến …); neighbouring figures are wrong."""
    best: dict[str, Draft] = {}
    for passage in knowledge.corpus.passages:
        if passage.kind != "content":
            continue
        text = passage.text
        for pattern, alternatives in _FIGURES:
            for m in pattern.finditer(text):
                cs, ce = _window(text, m.start(), m.end())
                phrase = ("… " if cs > 0 and text[cs - 1] not in "\n" else "") + \
                    text[cs:m.start()] + BLANK + text[m.end():ce] + (" …" if text[ce:].strip(_TRIM) else "")
                if not _balanced(phrase):
                    continue
                correct = m.group(0)
                rng = rng_for("figure", passage.id, correct)
                wrong = _pick(rng, alternatives(m), correct, lambda o, t=phrase, p=passage: not (
                    supports(p.text, t.replace(BLANK, o))))
                if wrong is None:
                    continue
                draft = Draft(
                    "figure", passage,
                    f"Điền số liệu đúng theo {_where(doc, passage)}:\n“{phrase}”",
                    correct, wrong,
                    _fit("{}: “{}”.", _where(doc, passage), text[cs:ce]),
                )
                key = norm(correct)
                if key not in best or len(draft.question) < len(best[key].question):
                    best[key] = draft
    return list(best.values())


def count_questions(knowledge, doc: Document) -> list[Draft]:
    """How many parts, criteria groups or numbered points a section has."""
    drafts = []

    def add(section: Section, passage: Passage, question: str, unit: str, subject: str) -> None:
        n = len(items_of(section))
        rng = rng_for("count", doc.section_id(section))
        others = [k for k in (n - 2, n - 1, n + 1, n + 2) if k > 0]
        wrong = tuple(f"{k} {unit}" for k in sorted(rng.sample(others, WRONG)))
        first, last = (_item_name(i) for i in (items_of(section)[0], items_of(section)[-1]))
        drafts.append(Draft("count", passage, question, f"{n} {unit}", wrong, _fit(
            "{} gồm {} {}, từ “{}” đến “{}”.", subject, str(n), unit, shorten(first, 60), last)))

    overviews = [p for p in knowledge.corpus.passages if p.kind == "overview"]
    root_overview = [p for p in overviews if p.id.rsplit(".", 1)[0] == doc.id]
    if root_overview:
        add(doc.root, root_overview[-1],
            "Phụ lục 1 (Bộ tiêu chí xây dựng Chủ nghĩa xã hội gắn với con người xã hội chủ nghĩa "
            "tại Hải Phòng) gồm bao nhiêu phần được đánh số La Mã?", "phần", "Phụ lục 1")
    for part in _group_parts(doc):
        last = [c for c in part.children if not c.editorial][-1]
        shown = [p for p in overviews if lies_in(doc, p.id, part) and last.heading in p.text]
        if shown:
            add(part, shown[0],
                f"{part_name(part)} tại thành phố Hải Phòng (Phụ lục 1, phần {part.number}) "
                f"gồm bao nhiêu nhóm tiêu chí?", "nhóm", f"Phần {part.number}")
    for goal in _goals(doc):
        components = _components(knowledge, doc, goal)
        if components:
            add(goal, components[-1][0].passage,
                f"Theo Phụ lục 1, {goal_name(goal)} được cụ thể hóa thành bao nhiêu yếu tố, "
                f"đánh số (i), (ii), …?", "yếu tố", goal_name(goal))
    return drafts


def _item_name(item) -> str:
    """A sub-section's heading without its number, or a point's "(i) name" before its colon."""
    return strip_number(item.heading).rstrip(" .") if isinstance(item, Section) else item.split(":")[0]


def model_questions(knowledge, doc: Document) -> list[Draft]:
    """Which focus model a fragment of a full title belongs to (fragments the option labels hide)."""
    models = knowledge.catalog.models
    drafts = []
    for model in models:
        label = model_label(model).rstrip("…")
        for title in model.titles:
            if not norm(title).startswith(norm(label)) or norm(title) == norm(label):
                continue
            fragment = title[len(label):].lstrip(" ,:;")
            if len(fragment.split()) < 3:
                continue
            passages = [p for p in model.mentions if supports(p.text, title)]
            if not passages:
                continue
            rng = rng_for("model", model.id)
            wrong = rng.sample([model_label(m) for m in models if m is not model], WRONG)
            drafts.append(Draft(
                "model", passages[0],
                f"Trong 11 mô hình trọng tâm của Nghị quyết 05, tên đầy đủ của mô hình nào có cụm từ "
                f"“{fragment}”?",
                model_label(model), tuple(wrong),
                _fit("Tên đầy đủ của mô hình: “{}”.", title),
            ))
    return drafts


TEMPLATES = (
    group_questions,
    part_questions,
    component_questions,
    statement_questions,
    continue_questions,
    heading_questions,
    figure_questions,
    count_questions,
    model_questions,
)
