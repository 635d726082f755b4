"""Word (.docx) → paragraphs, with python-docx.

Headings come from the paragraph styles ("Title", "Heading 1".."Heading 9",
and their Vietnamese names "Tiêu đề", "Đề mục 1"...). Numbers that Word
draws itself (automatic numbering, not typed) are rebuilt from the
numbering definitions (format and pattern of each level, e.g. "%1." in
upper roman → "II."), so "a)" and "1." are seen as the reader sees them.
Tables are read row by row, cells joined by " | ". Headers and footers are
separate parts of a .docx and never read.
"""

from __future__ import annotations

import io
import re
import zipfile

from knowledge.ingest.errors import IngestError
from knowledge.ingest.structure import Block

_HEADING_STYLE = re.compile(r"^(?:heading|đề mục)\s*(\d)$", re.I)
_TITLE_STYLES = {"title", "tiêu đề"}
_BULLET_FORMATS = {"bullet", "none"}


def read_docx(data: bytes) -> tuple[list[Block], str | None]:
    """(paragraph blocks, the document's own title if its properties have one)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(f"Không đọc được tệp Word ({exc.__class__.__name__}). Tệp có đúng định dạng .docx không?") from None
    numbers = _Numbering(document)
    blocks: list[Block] = []
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            block = _paragraph_block(item, numbers)
            if block is not None:
                blocks.append(block)
        elif isinstance(item, Table):
            blocks.extend(_table_rows(item))
    title = (document.core_properties.title or "").strip() or None
    return blocks, title


def _paragraph_block(paragraph, numbers: "_Numbering") -> Block | None:
    text = paragraph.text.strip()
    if not text:
        return None
    style = (paragraph.style.name if paragraph.style is not None else "").strip()
    heading = _HEADING_STYLE.match(style)
    level = 0 if style.lower() in _TITLE_STYLES else (int(heading.group(1)) if heading else None)
    label, bullet = numbers.label(paragraph)
    if label:
        text = f"{label} {text}"
    bullet = bullet or style.lower().startswith("list bullet")
    return Block(text, heading_level=level, bullet=bullet and level is None)


def _table_rows(table) -> list[Block]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            # A merged cell is repeated for each grid column it spans; keep it once.
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            rows.append(Block(" | ".join(cells), table_row=True))
    return rows


class _Numbering:
    """Rebuilds the labels of automatically numbered paragraphs ("1.", "a)", "II.")."""

    def __init__(self, document):
        self._formats: dict[tuple[str, int], tuple[str, str, int]] = {}
        self._counters: dict[str, list[int]] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        ns = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
        w = "{%s}" % ns["w"]
        abstract = {}
        for node in root.findall("w:abstractNum", ns):
            levels = {}
            for lvl in node.findall("w:lvl", ns):
                fmt = lvl.find("w:numFmt", ns)
                text = lvl.find("w:lvlText", ns)
                start = lvl.find("w:start", ns)
                levels[int(lvl.get(w + "ilvl"))] = (
                    fmt.get(w + "val") if fmt is not None else "decimal",
                    text.get(w + "val") if text is not None else "%1.",
                    int(start.get(w + "val")) if start is not None else 1,
                )
            abstract[node.get(w + "abstractNumId")] = levels
        for num in root.findall("w:num", ns):
            ref = num.find("w:abstractNumId", ns)
            if ref is not None:
                for ilvl, spec in abstract.get(ref.get(w + "val"), {}).items():
                    self._formats[(num.get(w + "numId"), ilvl)] = spec

    def label(self, paragraph) -> tuple[str, bool]:
        """(label as Word shows it, is a bullet) for a numbered paragraph; ("", False) otherwise."""
        numpr = _num_pr(paragraph._p.pPr)
        if numpr is None and paragraph.style is not None:
            # List styles ("List Number") carry their numbering in the style.
            numpr = _num_pr(paragraph.style.element.pPr)
        if numpr is None or numpr.numId is None:
            return "", False
        num_id = str(numpr.numId.val)
        ilvl = int(numpr.ilvl.val) if numpr.ilvl is not None else 0
        spec = self._formats.get((num_id, ilvl))
        if spec is None:
            return "", False
        fmt, pattern, start = spec
        if fmt in _BULLET_FORMATS:
            return "", True
        counters = self._counters.setdefault(num_id, [])
        while len(counters) <= ilvl:
            counters.append(0)
        counters[ilvl] += 1
        del counters[ilvl + 1 :]
        values = {i + 1: counters[i] + self._start(num_id, i) - 1 for i in range(ilvl + 1)}

        def render(match: re.Match[str]) -> str:
            level = int(match.group(1))
            level_fmt = self._formats.get((num_id, level - 1), (fmt,))[0]
            return _format_number(values.get(level, 1), level_fmt)

        return re.sub(r"%(\d)", render, pattern), False

    def _start(self, num_id: str, ilvl: int) -> int:
        return self._formats.get((num_id, ilvl), ("", "", 1))[2]


def _num_pr(ppr):
    return ppr.numPr if ppr is not None else None


def _format_number(value: int, fmt: str) -> str:
    if fmt == "lowerLetter":
        return chr(ord("a") + (value - 1) % 26)       # as Word draws it
    if fmt == "upperLetter":
        return chr(ord("A") + (value - 1) % 26)
    if fmt in ("upperRoman", "lowerRoman"):
        roman = _roman(value)
        return roman if fmt == "upperRoman" else roman.lower()
    return str(value)


def _roman(value: int) -> str:
    out = ""
    for number, letters in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
                            (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while value >= number:
            out += letters
            value -= number
    return out
