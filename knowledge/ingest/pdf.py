"""PDF → paragraphs, with pypdfium2 (PDFium, the engine of Chrome's PDF viewer).

Why PDFium: it reads the text layer through each font's ToUnicode map, so
Vietnamese comes out as the characters on the page (checked in tests, NFC
after normalising), it is fast (a 100-page plan in well under a second) and
it gives each text line's box, which is what finding paragraphs, headings
and running headers needs. pdfplumber gives the same boxes but is pure
Python (tens of times slower); pypdf gives no boxes.

Per page: text lines with their positions. Then:
- running headers and footers (a line repeated at the top or bottom of most
  pages, page numbers ignored) and page numbers ("3", "- 3 -", "Trang 3",
  "3/12") are removed;
- lines are joined into paragraphs: a new one starts after a vertical gap,
  at a numbered or bulleted line, or after a line ending a sentence when
  the next begins with a capital;
- lines in a larger font than the body are headings (largest = level 1);
- runs of text far apart on one line are table cells: the row is one
  block, its cells joined by " | ".

A PDF without a text layer (a scan) is refused: the bot quotes text
verbatim and does no OCR.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from knowledge.ingest.errors import IngestError
from knowledge.ingest.structure import Block, numbering
from vntext.normalize import nfc

# Fewer characters than this per page on average: no usable text layer.
MIN_CHARS_PER_PAGE = 20
# Lines this much taller than the body text are headings.
HEADING_SIZE_RATIO = 1.2
# Blank space between two lines, relative to their height, that separates paragraphs.
PARAGRAPH_GAP = 0.9
# Horizontal blank between two runs on a line, relative to their height, that separates table cells.
CELL_GAP = 0.8
_PAGE_NUMBER = re.compile(r"^(?:trang\s*)?[-–(]?\s*\d{1,4}\s*[-–)]?(?:\s*(?:/|trên|of)\s*\d{1,4})?$", re.I)
_BULLET_START = re.compile(r"^[-–•+*▪●◦○·]\s")
_SENTENCE_END = re.compile(r"[.:;!?…]$")
SCANNED = (
    "Tệp PDF này không có lớp chữ (có lẽ là bản scan, ảnh chụp), nên không thể trích dẫn "
    "nguyên văn. Hãy dùng bản PDF xuất từ Word hoặc tệp .docx của văn bản."
)


@dataclass
class _Line:
    page: int
    text: str
    top: float       # distance from the top of the page
    height: float    # of the glyphs' boxes: gives the blank space between lines
    size: float      # font size: tells headings from body text
    table_row: bool = False   # runs far apart on one baseline: the cells of a table row


def read_pdf(data: bytes) -> tuple[list[Block], str | None]:
    """(paragraph blocks, the PDF's own title if its metadata has one)."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise IngestError(f"Không đọc được tệp PDF ({exc}). Tệp có bị hỏng hoặc đặt mật khẩu không?") from None
    try:
        pages = [_page_lines(pdf, i) for i in range(len(pdf))]
        metadata_title = (pdf.get_metadata_dict().get("Title") or "").strip() or None
    finally:
        pdf.close()
    chars = sum(len(line.text) for page in pages for line in page)
    if not pages or chars < MIN_CHARS_PER_PAGE * len(pages):
        raise IngestError(SCANNED)
    lines = _drop_running_lines(pages)
    return _paragraphs(lines), metadata_title


def _page_lines(pdf, index: int) -> list[_Line]:
    import pypdfium2.raw as pdfium_c

    page = pdf[index]
    textpage = page.get_textpage()
    try:
        height = page.get_height()
        rects = []
        for i in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(i)
            text = nfc(textpage.get_text_bounded(left, bottom, right, top)).strip()
            if text:
                first_char = textpage.get_index(left + 0.5, (bottom + top) / 2, 2, (top - bottom) / 2)
                size = pdfium_c.FPDFText_GetFontSize(textpage.raw, first_char) if first_char >= 0 else 0.0
                rects.append((height - top, left, top - bottom, text, round(size, 1), right))
    finally:
        textpage.close()
        page.close()
    # Runs on one baseline (same top within a third of their height) form a line,
    # read left to right.
    rects.sort()
    groups: list[list[tuple[float, float, float, str, float, float]]] = []
    for rect in rects:
        if groups and abs(groups[-1][0][0] - rect[0]) < rect[2] / 3:
            groups[-1].append(rect)
        else:
            groups.append([rect])
    lines = []
    for runs in groups:
        runs.sort(key=lambda run: run[1])
        text, cells = runs[0][3], 1
        for before, run in zip(runs, runs[1:]):
            # A gap wider than a letter or two (a space is a third of one) separates table cells.
            apart = run[1] - before[5] > CELL_GAP * max(before[2], run[2])
            text += (" | " if apart else " ") + run[3]
            cells += apart
        lines.append(_Line(index, text, runs[0][0], max(run[2] for run in runs),
                           max(run[4] for run in runs), cells > 1))
    return lines


def _shape(text: str) -> str:
    """A line with its numbers blanked, so "Trang 3 – Kế hoạch" matches on every page."""
    return re.sub(r"\d+", "#", text.casefold())


def _drop_running_lines(pages: list[list[_Line]]) -> list[_Line]:
    """Remove page numbers and the lines repeated at the top or bottom of most pages."""
    edge_counts: Counter[str] = Counter()
    for page in pages:
        edges = {_shape(line.text) for line in page[:2] + page[-2:]}
        edge_counts.update(edges)
    threshold = max(2, (len(pages) + 1) // 2)
    running = {shape for shape, n in edge_counts.items() if n >= threshold} if len(pages) > 1 else set()
    kept: list[_Line] = []
    for page in pages:
        edge = {id(line) for line in page[:2] + page[-2:]}
        for line in page:
            if id(line) in edge and (_PAGE_NUMBER.match(line.text) or _shape(line.text) in running):
                continue
            kept.append(line)
    return kept


def _paragraphs(lines: list[_Line]) -> list[Block]:
    if not lines:
        return []
    # The body text's size: the one most characters are set in.
    by_size: Counter[float] = Counter()
    for line in lines:
        by_size[line.size] += len(line.text)
    body = by_size.most_common(1)[0][0]
    heading_sizes = sorted({line.size for line in lines if line.size > body * HEADING_SIZE_RATIO}, reverse=True)
    blocks: list[Block] = []
    text, level, previous = "", None, None
    for line in lines:
        if line.table_row:
            if text:
                blocks.append(Block(text, heading_level=level))
            blocks.append(Block(line.text, table_row=True))
            text, level, previous = "", None, line
            continue
        line_level = heading_sizes.index(line.size) + 1 if line.size in heading_sizes else None
        starts_new = (
            previous is None
            or line.page != previous.page and _SENTENCE_END.search(previous.text) is not None
            or line_level != level
            # A blank of about a line's height between two lines ends a paragraph.
            or (line.page == previous.page
                and line.top - previous.top - previous.height > PARAGRAPH_GAP * max(previous.height, line.height))
            or numbering(line.text) is not None
            or _BULLET_START.match(line.text) is not None
            or (_SENTENCE_END.search(previous.text) is not None and line.text[:1].isupper()
                and line_level is None)
        )
        if starts_new and text:
            blocks.append(Block(text, heading_level=level))
            text = ""
        text = f"{text} {line.text}".strip() if text else line.text
        level, previous = line_level, line
    if text:
        blocks.append(Block(text, heading_level=level))
    return blocks
