"""Documents as officials have them → sections and passages, checked exactly."""

from __future__ import annotations

import unicodedata

import pytest

from knowledge.documents import Section, passages_of
from knowledge.ingest import IngestError, read_document
from tests import document_files as files


def outline(root: Section) -> list[str]:
    lines = []

    def walk(section: Section, depth: int) -> None:
        for block in section.blocks:
            lines.append(f"  - {block}")
        for child in section.children:
            lines.append(f"{depth} {child.heading}")
            walk(child, depth + 1)

    walk(root, 1)
    return lines


@pytest.mark.parametrize("suffix", ["pdf", "docx"])
def test_plan_parses_into_its_numbered_structure(suffix):
    data = files.plan_pdf() if suffix == "pdf" else files.plan_docx()
    doc = read_document(data, f"ke-hoach.{suffix}", "vb7", title="Kế hoạch 12/KH-UBND Lê Chân")
    assert doc.title == files.PLAN_TITLE and not doc.root.editorial   # the document's own title, quotable
    assert doc.short_title == "Kế hoạch 12/KH-UBND Lê Chân"
    expected = files.plan_outline()
    if suffix == "docx":   # Word's table follows the last item, one block per row
        expected += ["  - STT | Việc | Thời hạn", "  - 1 | Niêm yết lịch tiếp dân thứ Bảy | Tháng 1/2026",
                     "  - 2 | Đặt hòm thư góp ý | Quý I/2026"]
    assert outline(doc.root) == expected


def test_pdf_text_keeps_vietnamese_diacritics_in_nfc_and_drops_headers_and_page_numbers():
    doc = read_document(files.plan_pdf(), "ke-hoach.pdf", "vb7")
    passages = passages_of(doc)
    texts = [p.text for p in passages]
    assert any(files.SATURDAY in t for t in texts) and any(files.HOTLINE in t for t in texts)
    for p in passages:
        assert unicodedata.is_normalized("NFC", p.text)
        assert "Trang" not in p.text and "Kế hoạch số 12/KH-UBND" not in p.text
    saturday = next(p for p in passages if files.SATURDAY in p.text)
    assert saturday.id == "vb7.II.1.p1"
    # No title given: the document's own, cut to a label, names it in section paths.
    short = "KẾ HOẠCH THỰC HIỆN MÔ HÌNH “CHÍNH QUYỀN THÂN…"
    assert saturday.section_path == (short, "II. NỘI DUNG THỰC HIỆN", "1. Tiếp dân ngoài giờ")
    assert saturday.text == "1. Tiếp dân ngoài giờ\n" + files.SATURDAY
    point = next(p for p in passages if p.id == "vb7.I.2.b.p1")
    assert point.text == "b) Không để người dân phải đi lại quá hai lần cho một thủ tục."
    assert point.section == f"{short} › I. MỤC ĐÍCH, YÊU CẦU › 2. Yêu cầu › b) Không để người dân phải đi lại quá hai lần…"


def test_scanned_pdf_is_refused_with_a_clear_message():
    with pytest.raises(IngestError, match="không có lớp chữ"):
        read_document(files.scanned_pdf(), "scan.pdf", "vb8")


def test_word_numbering_and_bullets_are_read_as_word_shows_them():
    doc = read_document(files.numbered_docx(), "huong-dan.docx", "vb9")
    assert doc.title == "Hướng dẫn đăng ký tham gia Chi đoàn xã hội chủ nghĩa"
    assert outline(doc.root) == [
        "1 1. Nộp đơn tại văn phòng Đoàn phường.",
        "1 2. Tham gia buổi sinh hoạt đầu tiên vào tối thứ Năm.",
        "  - Mang theo căn cước công dân.",
    ]


def test_legal_text_chapters_articles_clauses_and_points():
    doc = read_document(files.LEGAL_TXT.encode(), "quy-che.txt", "vb10", issued="2026-02-01", ward="Phường Lê Chân")
    assert doc.title == "QUY CHẾ PHỐI HỢP TIẾP DÂN"
    assert outline(doc.root) == [
        "1 Chương I QUY ĐỊNH CHUNG",
        "2 Điều 1. Phạm vi điều chỉnh",
        "  - Quy chế này quy định việc phối hợp tiếp dân giữa Ủy ban nhân dân phường và các tổ dân phố.",
        "2 Điều 2. Nguyên tắc",
        "3 1. Tôn trọng, lắng nghe ý kiến của người dân.",
        "3 2. Giải quyết kịp thời, đúng pháp luật:",
        "4 a) Trả lời bằng văn bản trong 10 ngày làm việc;",
        "4 b) Công khai kết quả.",
        "1 Chương II TỔ CHỨC THỰC HIỆN",
        "2 Điều 3. Trách nhiệm",
        "  - Tổ trưởng tổ dân phố tổng hợp ý kiến hằng tháng.",
        "  - Văn phòng phường theo dõi, đôn đốc.",
    ]
    ids = {p.id: p for p in passages_of(doc)}
    point = ids["vb10.chuongi.dieu2.2.a.p1"]
    assert point.issued == "2026-02-01" and point.ward == "Phường Lê Chân"
    assert point.section_path[0] == "QUY CHẾ PHỐI HỢP TIẾP DÂN"


def test_roman_i_after_h_is_a_letter():
    text = "VĂN BẢN\n\n" + "\n".join(f"{c}) Mục {c}." for c in "abcdefghik")
    doc = read_document(text.encode(), "x.txt", "vb11")
    assert [c.key for c in doc.root.children] == list("abcdefghik")


def test_unsupported_or_empty_files_are_refused():
    with pytest.raises(IngestError, match="Chưa hỗ trợ"):
        read_document(b"x", "bang-tinh.xlsx", "vb12")
    with pytest.raises(IngestError, match="không có nội dung"):
        read_document(b"  \n\n ", "trong.txt", "vb12")


def test_markdown_keeps_its_headings_and_takes_the_given_title():
    text = "# Hướng dẫn của Đoàn phường\n\n## 1. Đăng ký\n\n- Nộp đơn tại văn phòng.\n\n## [Ghi chú]\n\nMang căn cước.\n"
    doc = read_document(text.encode(), "huong-dan.md", "vb13", title="Hướng dẫn 3/HD-ĐTN", issued="2026-04-01")
    assert doc.title == "Hướng dẫn của Đoàn phường" and doc.short_title == "Hướng dẫn 3/HD-ĐTN"
    passages = {p.id: p for p in passages_of(doc)}
    assert passages["vb13.1.p1"].text == "1. Đăng ký\nNộp đơn tại văn phòng."
    assert passages["vb13.1.p1"].citation == "Hướng dẫn 3/HD-ĐTN › 1. Đăng ký (ngày 01/04/2026)"
    assert passages["vb13.s2.p1"].text == "Mang căn cước."          # under an editorial heading, not quoted


def test_pdf_table_rows_are_blocks_of_cells():
    doc = read_document(files.table_pdf(), "bang.pdf", "vb14", title="Bảng phân công")
    assert doc.root.blocks == ["Bảng phân công thực hiện:", *(" | ".join(row) for row in files.TABLE_ROWS)]
