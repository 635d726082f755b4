"""From a document's paragraphs, in reading order, to the Section tree.

Every reader (PDF, Word, plain text) reduces its file to `Block`s: the text
of one paragraph, list item or table row, as written, with what the file
itself says about it (a Word heading level, a bullet, a table row). This
module gives them structure the way a reader of a Vietnamese administrative
text does:

- numbered headings open sections: "Phần I", "Chương II", "Mục 1",
  "Điều 3.", "I.", "A.", "1.", "1.2.", "a)", "(i)", "(1)". A numbering
  style seen for the first time opens a level below the current one; seen
  again, it closes the levels opened after it (so "II." after "1." and
  "a)" goes back up to the roman level);
- a Word heading style (Heading 1, 2, ...) opens a section at its level;
- bullets and ordinary paragraphs are blocks of the section they follow;
- a table row is a block, its cells joined by " | ".

Nothing is reworded: headings and blocks are the document's own text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.documents import Section
from vntext.normalize import clean_input, fold

MAX_NUMBER = 999


@dataclass(frozen=True)
class Block:
    text: str
    heading_level: int | None = None   # from a Word heading style (1 = highest)
    bullet: bool = False               # a list item without a number
    table_row: bool = False


# (style, pattern). The label group is the number as written; order matters
# (the named styles first, then the most specific patterns).
_NUMBERINGS: list[tuple[str, re.Pattern[str]]] = [
    ("phan", re.compile(r"^(?:PHẦN|Phần)\s+(?P<n>[IVXLC]+|\d{1,3}|thứ\s+\w+)\b[.:]?\s*", re.U)),
    ("chuong", re.compile(r"^(?:CHƯƠNG|Chương)\s+(?P<n>[IVXLC]+|\d{1,3})\b[.:]?\s*", re.U)),
    ("muc", re.compile(r"^(?:MỤC|Mục)\s+(?P<n>\d{1,3}|[IVXLC]+)\b[.:]?\s*", re.U)),
    ("dieu", re.compile(r"^(?:ĐIỀU|Điều)\s+(?P<n>\d{1,3}[a-z]?)[.:]\s*", re.U)),
    ("multi", re.compile(r"^(?P<n>\d{1,3}(?:\.\d{1,3})+)\.?\s+")),
    ("upper-roman", re.compile(r"^(?P<n>[IVX]+)[.)]\s+")),
    ("upper-letter", re.compile(r"^(?P<n>[A-Z])[.)]\s+")),
    ("arabic", re.compile(r"^(?P<n>\d{1,3})[.)]\s+")),
    ("paren-roman", re.compile(r"^\((?P<n>[ivx]+)\)\s*")),
    ("paren-letter", re.compile(r"^\((?P<n>[a-zđ])\)\s*")),
    ("paren-arabic", re.compile(r"^\((?P<n>\d{1,3})\)\s*")),
    ("lower-roman", re.compile(r"^(?P<n>[ivx]+)[.)]\s+")),
    ("lower-letter", re.compile(r"^(?P<n>[a-zđ])[.)]\s+")),
]
# A roman numeral that is also a letter ("i", "v", "x", "I", "V", "X") belongs
# to the letter list when it continues one ("h)" then "i)").
_LETTER_OF_ROMAN = {"lower-roman": "lower-letter", "upper-roman": "upper-letter", "paren-roman": "paren-letter"}
_BULLET = re.compile(r"^[-–•+*▪●◦○·]\s+")
_KEY_PREFIX = {"phan": "phan", "chuong": "chuong", "muc": "muc", "dieu": "dieu"}


def numbering(text: str) -> tuple[str, str] | None:
    """(style, label) of a numbered paragraph, e.g. ("dieu", "3"), ("lower-letter", "a"); else None."""
    for style, pattern in _NUMBERINGS:
        match = pattern.match(text)
        if match and len(text) > match.end():
            label = match.group("n")
            if style in ("arabic", "paren-arabic") and int(label) > MAX_NUMBER:
                return None
            return style, label
    return None


@dataclass
class _Open:
    section: Section
    style: str            # numbering style, or "h<level>" for a styled heading
    label: str


def build_tree(blocks: list[Block], title: str, title_in_text: bool) -> Section:
    """The Section tree of ``blocks`` under a root headed ``title``.

    ``title_in_text``: the title is the document's own words (its first
    heading), so it may be quoted; a title given by the person adding the
    document is navigation only (editorial).
    """
    root = Section(heading=title, editorial=not title_in_text, level=0, key="")
    stack: list[_Open] = []

    def current() -> Section:
        return stack[-1].section if stack else root

    def open_section(text: str, style: str, label: str, depth_style: str | None = None) -> None:
        parent = current()
        key = _unique_key(parent, _key(style, label, len(parent.children) + 1))
        section = Section(text, False, parent.level + 1, key, parent)
        parent.children.append(section)
        stack.append(_Open(section, depth_style or style, label))

    for block in blocks:
        text = clean_input(block.text, max_chars=100_000)
        if not text:
            continue
        if block.heading_level is not None:
            # A styled heading closes everything at its level or below, numbered or not.
            while stack and not (stack[-1].style.startswith("h") and int(stack[-1].style[1:]) < block.heading_level):
                stack.pop()
            found = numbering(text)
            open_section(text, found[0] if found else "h", found[1] if found else "", f"h{block.heading_level}")
            continue
        if block.table_row or block.bullet:
            current().blocks.append(text)
            continue
        found = numbering(text)
        if found is None:
            if _BULLET.match(text):
                text = _BULLET.sub("", text, count=1)
            current().blocks.append(text)
            continue
        style, label = found
        style = _resolve_roman(style, label, stack)
        # Same style already open: close it and whatever was opened inside it.
        for depth in range(len(stack) - 1, -1, -1):
            if stack[depth].style == style:
                del stack[depth:]
                break
        open_section(text, style, label)
    return root


def _resolve_roman(style: str, label: str, stack: list[_Open]) -> str:
    letter_style = _LETTER_OF_ROMAN.get(style)
    if letter_style is None or len(label) != 1:
        return style
    previous = next((o.label for o in reversed(stack) if o.style == letter_style), None)
    if previous is not None and len(previous) == 1 and ord(fold(label)) == ord(fold(previous)) + 1:
        return letter_style
    roman_open = any(o.style == style for o in stack)
    # "i" with no open roman list and an open letter list is a letter too.
    return letter_style if previous is not None and not roman_open and label.lower() != "i" else style


def _key(style: str, label: str, position: int) -> str:
    """A short stable key for section ids: "II", "3", "a", "dieu3", "1-2"; "s<n>" when unnumbered."""
    if not label:
        return f"s{position}"
    label = re.sub(r"\s+", "", fold(label)) if style in _KEY_PREFIX else label
    return _KEY_PREFIX.get(style, "") + label.replace(".", "-")


def _unique_key(parent: Section, key: str) -> str:
    taken = {c.key for c in parent.children}
    if key not in taken:
        return key
    n = 2
    while f"{key}_{n}" in taken:
        n += 1
    return f"{key}_{n}"
