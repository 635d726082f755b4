"""Turn the Markdown source documents into sections and phone-sized passages.

A knowledge file is Markdown with a small front matter::

    ---
    short_title: Phụ lục 1          # how section paths name the document
    ---
    # Full document title           (level 1: the document)
    ## II. Part heading             (level 2: part)
    ### 1. Numbered group           (level 3: numbered group)
    - bullet text                   (a block; so is a paragraph)

Headings written in [square brackets] are navigation we added; they appear
in section paths but are never quoted as source text. Every other word of a
knowledge file is the source's own wording.

Passages are what the bot quotes, so each is at most ``MAX_PASSAGE_CHARS``:
a block, preceded by the heading of its group when that still fits (so the
quote shows which criterion it belongs to), split at sentence or list
boundaries when too long. A heading with sub-headings also gets overview
passages listing them ("the eight criteria groups are ..."). Ids depend on
position in the document, not on wording, so fixing a typo keeps them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vntext.normalize import clean_input, nfc

MAX_PASSAGE_CHARS = 600
SECTION_LABEL_CHARS = 48
# A group heading longer than this is itself a paragraph of content; it is
# quoted once as a passage, not repeated in front of every bullet.
MAX_PREFIX_HEADING_CHARS = 160
KNOWLEDGE_SUFFIXES = (".md", ".txt")

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_NUMBER = re.compile(r"^((?:[IVX]+|\d+|\([ivx]+\)))[.)]?\s")
_SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+")


@dataclass
class Section:
    heading: str           # as written, brackets removed
    editorial: bool        # added by us for navigation, never quoted
    level: int
    key: str               # stable short key: "II", "8", "s2"
    parent: "Section | None" = None
    blocks: list[str] = field(default_factory=list)
    # Which blocks were written as list items ("- ..."), by index into ``blocks``.
    bullet_blocks: set[int] = field(default_factory=set)
    children: list["Section"] = field(default_factory=list)

    @property
    def label(self) -> str:
        return section_label(self.heading)

    @property
    def number(self) -> str:
        """The source's own number ("II", "8", "ii"), or "" for unnumbered headings."""
        return "" if self.key.startswith("s") and self.key[1:].isdigit() else self.key

    @property
    def bullets(self) -> list[str]:
        """The blocks written as list items, in order."""
        return [b for i, b in enumerate(self.blocks) if i in self.bullet_blocks]

    def lineage(self) -> list["Section"]:
        chain, node = [], self
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain[::-1]


@dataclass(frozen=True)
class Passage:
    id: str
    doc_id: str
    doc_title: str
    section_path: tuple[str, ...]   # short labels, document first
    text: str                       # verbatim source wording
    kind: str                       # "content" or "overview"
    # Of the document, for citations and scope (documents added with `civicbot docs`):
    issued: str | None = None       # ISO date the document was issued, when known
    ward: str | None = None         # the ward it concerns; None: the whole city
    announcement: bool = False      # an announcement published from a broadcast

    @property
    def section(self) -> str:
        return " › ".join(self.section_path)

    @property
    def citation(self) -> str:
        """Where the quote comes from: the section path, and the document's date when known."""
        if not self.issued:
            return self.section
        year, month, day = self.issued.split("-")
        when = f"{day}/{month}/{year}"
        return self.section if when in self.section_path[0] else f"{self.section} (ngày {when})"


@dataclass
class Document:
    id: str
    title: str
    short_title: str
    root: Section
    path: Path
    issued: str | None = None       # ISO date (YYYY-MM-DD)
    ward: str | None = None
    announcement: bool = False

    def sections(self) -> list[Section]:
        out, stack = [], [self.root]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out

    def section_id(self, section: Section) -> str:
        """Stable id: document id, then each heading's key ("phu-luc-1.II.8")."""
        return ".".join([self.id, *(s.key for s in section.lineage() if s is not self.root)])

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections() if self.section_id(s) == section_id), None)


def section_label(heading: str) -> str:
    """A short label for section paths: up to the first ';' or ':', then a word-boundary cut."""
    label, cut = heading, False
    for mark in (";", ":"):
        head, sep, _ = label.partition(mark)
        if sep and len(head) >= 12:
            label, cut = head, True
    label = label.rstrip(" .,")
    if len(label) > SECTION_LABEL_CHARS:
        label, cut = label[: label.rfind(" ", 0, SECTION_LABEL_CHARS)], True
    return label.rstrip(" ,.;:–-") + ("…" if cut else "")


def _front_matter(text: str) -> tuple[dict, str]:
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            meta = yaml.safe_load(text[4:end]) or {}
            return meta, text[end + 4 :]
    return {}, text


def parse_document(path: Path) -> Document:
    """Parse one knowledge file into a section tree."""
    return parse_markdown(path.read_text(encoding="utf-8"), path.stem, path)


def parse_markdown(text: str, doc_id: str, path: Path) -> Document:
    """Parse Markdown knowledge text (see the module docstring) into a section tree."""
    meta, body = _front_matter(nfc(text))
    root = Section(heading="", editorial=True, level=0, key="")
    current, paragraph = root, []
    counters: dict[int, int] = {}
    in_bullet = False

    def flush() -> None:
        if paragraph:
            if in_bullet:
                current.bullet_blocks.add(len(current.blocks))
            current.blocks.append(clean_input(" ".join(paragraph), max_chars=100_000))
            paragraph.clear()

    for raw in body.splitlines():
        line = raw.strip()
        heading = _HEADING.match(line)
        if heading:
            flush()
            in_bullet = False
            level, text = len(heading.group(1)), clean_input(heading.group(2), 100_000)
            editorial = text.startswith("[") and text.endswith("]")
            text = text.strip("[]").strip() if editorial else text
            parent = current
            while parent.level >= level:
                parent = parent.parent
            counters[id(parent)] = counters.get(id(parent), 0) + 1
            number = _NUMBER.match(text)
            key = number.group(1).strip("()") if number and level > 1 else f"s{counters[id(parent)]}"
            current = Section(text, editorial, level, key, parent)
            parent.children.append(current)
        elif not line:
            flush()
            in_bullet = False
        elif line.startswith(("- ", "* ", "+ ")):
            flush()
            in_bullet = True
            paragraph.append(line[2:])
        else:
            paragraph.append(line)
    flush()

    # The level-1 heading is the document itself.
    if len(root.children) == 1 and root.children[0].level == 1 and not root.blocks:
        doc_root = root.children[0]
        doc_root.parent = None
    else:
        doc_root = root
    title = doc_root.heading or path.stem
    return Document(
        id=doc_id,
        title=title,
        short_title=str(meta.get("short_title") or section_label(title)),
        root=doc_root,
        path=path,
    )


def split_text(text: str, limit: int) -> list[str]:
    """Split at sentence ends, then list separators, then spaces; never mid-word."""
    if len(text) <= limit:
        return [text]
    for pattern in (_SENTENCE_END, re.compile(r"(?<=[,;])\s+"), re.compile(r"\s+")):
        pieces = pattern.split(text)
        if len(pieces) > 1 and all(len(p) <= limit for p in pieces):
            return _pack(pieces, limit)
    # A single piece still too long at every boundary type: fall back to words.
    return _pack(text.split(" "), limit)


def _pack(pieces: list[str], limit: int) -> list[str]:
    """Greedy packing towards equal sizes, so no chunk is a context-free scrap."""
    total = sum(len(p) + 1 for p in pieces)
    parts = -(-total // limit)
    limit = min(limit, int(total / parts * 1.2))
    chunks, current = [], ""
    for piece in pieces:
        candidate = f"{current} {piece}".strip()
        if len(candidate) <= limit:
            current = candidate
        else:
            if current:
                chunks.append(current)
            current = piece if len(piece) <= limit else piece[:limit]
    if current:
        chunks.append(current)
    return chunks


def passages_of(doc: Document) -> list[Passage]:
    out: list[Passage] = []
    for section in doc.sections():
        lineage = [s for s in section.lineage() if s is not doc.root]
        path = (doc.short_title, *(s.label for s in lineage))
        sid = doc.section_id(section)
        quotable_heading = (
            section.heading
            if section.heading and not section.editorial
            else ""
        )

        def emit(text: str, kind: str, n: int) -> None:
            suffix = f"p{n}" if kind == "content" else f"toc{n}"
            out.append(Passage(f"{sid}.{suffix}", doc.id, doc.title, path, text, kind,
                               doc.issued, doc.ward, doc.announcement))

        n = 0
        long_heading = len(quotable_heading) > MAX_PREFIX_HEADING_CHARS
        if long_heading:
            for chunk in split_text(quotable_heading, MAX_PASSAGE_CHARS):
                n += 1
                emit(chunk, "content", n)
        prefix = quotable_heading if quotable_heading and not long_heading else ""
        for block in section.blocks:
            room = MAX_PASSAGE_CHARS - len(prefix) - 1
            head = prefix if prefix and len(block) <= room else ""
            for chunk in split_text(block, MAX_PASSAGE_CHARS - (len(head) + 1 if head else 0)):
                n += 1
                emit(f"{head}\n{chunk}" if head else chunk, "content", n)
                head = prefix if prefix and len(chunk) <= room else ""
        if quotable_heading and not section.blocks and not section.children and not long_heading:
            n += 1
            emit(quotable_heading, "content", n)

        quoted_children = [c.heading for c in section.children if not c.editorial]
        if quoted_children and quotable_heading:
            for i, chunk in enumerate(_overview_chunks(quotable_heading, quoted_children), 1):
                emit(chunk, "overview", i)
    return out


def _overview_chunks(heading: str, child_headings: list[str]) -> list[str]:
    """The heading followed by its sub-headings, one per line, in phone-sized parts."""
    head = heading if len(heading) <= MAX_PREFIX_HEADING_CHARS else section_label(heading)
    chunks, lines = [], [head]
    for child in child_headings:
        line = child if len(child) <= MAX_PREFIX_HEADING_CHARS else section_label(child)
        if len("\n".join([*lines, line])) > MAX_PASSAGE_CHARS and len(lines) > 1:
            chunks.append("\n".join(lines))
            lines = [head]
        lines.append(line)
    chunks.append("\n".join(lines))
    return chunks


@dataclass
class Corpus:
    documents: list[Document]
    passages: list[Passage]

    @property
    def hash(self) -> str:
        """Changes whenever any passage id, text or section changes."""
        digest = hashlib.sha256()
        for p in self.passages:
            digest.update(f"{p.id}\x1f{p.section}\x1f{p.text}\x1e".encode())
        return digest.hexdigest()

    def document(self, doc_id: str) -> Document | None:
        return next((d for d in self.documents if d.id == doc_id), None)

    def by_id(self) -> dict[str, Passage]:
        return {p.id: p for p in self.passages}

    def containing(self, quote: str, kind: str = "content") -> list[Passage]:
        """Passages of ``kind`` whose text contains ``quote`` (NFC, case-insensitive)."""
        quote = nfc(quote).casefold()
        return [p for p in self.passages if p.kind == kind and quote in p.text.casefold()]


def knowledge_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in KNOWLEDGE_SUFFIXES and p.is_file())


def load_corpus(folder: Path) -> Corpus:
    documents = [parse_document(p) for p in knowledge_files(folder)]
    passages = [p for doc in documents for p in passages_of(doc)]
    ids = [p.id for p in passages]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate passage ids: {sorted(duplicates)}")
    return Corpus(documents, passages)


def section_to_dict(section: Section) -> dict:
    """A section and its subtree as plain data (the stored form of an added document)."""
    return {
        "heading": section.heading, "editorial": section.editorial, "level": section.level,
        "key": section.key, "blocks": list(section.blocks),
        "children": [section_to_dict(child) for child in section.children],
    }


def section_from_dict(data: dict, parent: Section | None = None) -> Section:
    section = Section(data["heading"], data["editorial"], data["level"], data["key"], parent,
                      list(data["blocks"]))
    section.children = [section_from_dict(child, section) for child in data["children"]]
    return section
