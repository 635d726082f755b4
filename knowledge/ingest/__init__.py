"""Documents as officials have them (.pdf, .docx, .md, .txt) → the same Document tree.

`read_document` turns a file's bytes into a `knowledge.documents.Document`
whose passages (`passages_of`) are quoted like the bundled sources': the
document's own words, with section paths naming the document and its
headings. Each reader produces paragraphs (`structure.Block`); structure
comes from `structure.build_tree`. Errors are `IngestError`s whose message
can be shown to the official as it is.
"""

from __future__ import annotations

import re
from pathlib import Path

from knowledge.documents import Document, parse_markdown, section_label
from knowledge.ingest.errors import IngestError
from knowledge.ingest.structure import Block, build_tree, numbering
from vntext.normalize import clean_input, nfc

__all__ = ["IngestError", "SUPPORTED_SUFFIXES", "read_document"]

SUPPORTED_SUFFIXES = (".pdf", ".docx", ".md", ".txt")
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_TITLE_CHARS = 300
_ENDS_SENTENCE = re.compile(r"[.:;!?…,]$")
_BARE_LABEL = re.compile(r"^(?:PHẦN|Phần|CHƯƠNG|Chương|MỤC|Mục)\s+\S+$")


def read_document(
    data: bytes,
    filename: str,
    doc_id: str,
    *,
    title: str | None = None,
    issued: str | None = None,
    ward: str | None = None,
    announcement: bool = False,
    path: Path | None = None,
) -> Document:
    """Parse ``data`` (the file ``filename``) into a Document with id ``doc_id``.

    ``title`` names the document in section paths (else its own first
    heading, its metadata title or the file name).
    """
    suffix = Path(filename).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(f"Chưa hỗ trợ loại tệp «{suffix or filename}». Các loại được nhận: "
                          + ", ".join(SUPPORTED_SUFFIXES) + ".")
    if len(data) > MAX_FILE_BYTES:
        raise IngestError(f"Tệp quá lớn ({len(data) // 1024 // 1024} MB, tối đa {MAX_FILE_BYTES // 1024 // 1024} MB).")
    given_title = clean_input(title or "", MAX_TITLE_CHARS) or None
    path = path or Path(filename)
    if suffix == ".md":
        doc = parse_markdown(_decode(data), doc_id, path)
        if given_title:
            doc.short_title = section_label(given_title)
    else:
        if suffix == ".pdf":
            from knowledge.ingest.pdf import read_pdf

            blocks, meta_title = read_pdf(data)
        elif suffix == ".docx":
            from knowledge.ingest.docx import read_docx

            blocks, meta_title = read_docx(data)
        else:
            blocks, meta_title = read_text(_decode(data)), None
        own_title, blocks = _own_title(blocks)
        title_text = own_title or given_title or meta_title or Path(filename).stem
        root = build_tree(blocks, title_text, title_in_text=own_title is not None)
        doc = Document(doc_id, title_text, section_label(given_title or title_text), root, path)
    doc.issued, doc.ward, doc.announcement = issued, ward, announcement
    if not any(s.blocks or (s.heading and not s.editorial) for s in doc.sections()):
        raise IngestError("Tệp không có nội dung chữ nào để trích dẫn.")
    return doc


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return nfc(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise IngestError("Tệp văn bản không ở bảng mã UTF-8. Hãy lưu lại với bảng mã UTF-8 rồi thử lại.")


def read_text(text: str) -> list[Block]:
    """Plain text: paragraphs separated by blank lines; numbered or bulleted lines start their own."""
    blocks: list[Block] = []
    for chunk in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        current: list[str] = []
        for line in lines:
            starts_item = numbering(line) is not None or line[:2] in ("- ", "• ", "+ ", "* ", "– ")
            # A line without closing punctuation followed by a capital is a heading
            # ("Điều 1. Phạm vi điều chỉnh"), unless it is a bare label ("Chương I").
            after_heading = bool(current) and line[:1].isupper() and not _ENDS_SENTENCE.search(current[-1]) \
                and not _BARE_LABEL.match(current[-1])
            if (starts_item or after_heading) and current:
                blocks.append(Block(" ".join(current)))
                current = []
            current.append(line)
        if current:
            blocks.append(Block(" ".join(current)))
    return blocks


def _own_title(blocks: list[Block]) -> tuple[str | None, list[Block]]:
    """The document's own title: its first top-level heading (a Title style, the largest
    font), or for plain text a first short unnumbered line in capitals."""
    levels = [b.heading_level for b in blocks if b.heading_level is not None]
    if levels:
        top = min(levels)
        if levels.count(top) == 1:
            index = next(i for i, b in enumerate(blocks) if b.heading_level == top)
            return blocks[index].text, blocks[:index] + blocks[index + 1 :]
        return None, blocks
    first = next(iter(blocks), None)
    if first and not first.table_row and len(first.text) <= MAX_TITLE_CHARS \
            and numbering(first.text) is None and first.text.upper() == first.text:
        return first.text, blocks[1:]
    return None, blocks
