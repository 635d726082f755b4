"""Documents as officials have them, written by the tests themselves (Word, PDF, text).

The PDF uses DejaVu Sans (Debian's fonts-dejavu-core, installed by
scripts/setup when missing): a Unicode TrueType font, so the Vietnamese text
is embedded with its ToUnicode map the way office software writes it.
"""

from __future__ import annotations

import io
from pathlib import Path

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

PLAN_TITLE = "KẾ HOẠCH THỰC HIỆN MÔ HÌNH “CHÍNH QUYỀN THÂN THIỆN” TẠI PHƯỜNG LÊ CHÂN NĂM 2026"
# Facts found in no bundled source: a question about them is answerable only from this plan.
SATURDAY = ("Bộ phận một cửa phường Lê Chân tiếp nhận hồ sơ vào sáng thứ Bảy hằng tuần, "
            "từ 7 giờ 30 đến 11 giờ 30.")
HOTLINE = "Đường dây nóng của phường: 0225 3855 123, trực 24 giờ mỗi ngày."

PLAN_PARTS = [
    ("I. MỤC ĐÍCH, YÊU CẦU", [
        ("1. Mục đích", [
            "Cụ thể hóa Nghị quyết 05 tại phường; người dân hài lòng với thái độ phục vụ của cán bộ.",
        ]),
        ("2. Yêu cầu", [
            "a) Cán bộ tiếp dân đeo thẻ, xưng hô lịch sự, hướng dẫn một lần đầy đủ.",
            "b) Không để người dân phải đi lại quá hai lần cho một thủ tục.",
        ]),
    ]),
    ("II. NỘI DUNG THỰC HIỆN", [
        ("1. Tiếp dân ngoài giờ", [SATURDAY, HOTLINE]),
        ("2. Lấy ý kiến người dân", [
            "(i) Đặt hòm thư góp ý tại trụ sở và các nhà văn hóa tổ dân phố.",
            "(ii) Khảo sát mức độ hài lòng mỗi quý, công khai kết quả trên bảng tin.",
        ]),
    ]),
]


def plan_outline() -> list[str]:
    """The section tree the plan must parse into: "<depth> <heading>" lines, then "  - block"."""
    lines = []
    for part, groups in PLAN_PARTS:
        lines.append(f"1 {part}")
        for group, items in groups:
            lines.append(f"2 {group}")
            for item in items:
                if item[:2] in ("a)", "b)") or item.startswith("("):
                    lines.append(f"3 {item}")
                else:
                    lines.append(f"  - {item}")
    return lines


def plan_pdf(pages_apart: bool = True) -> bytes:
    """The plan as a PDF: running header and "Trang N/M" footer on each page, title in a larger font."""
    from fpdf import FPDF

    class Plan(FPDF):
        def header(self):
            self.set_font("DejaVu", size=8)
            self.cell(0, 5, "UBND PHƯỜNG LÊ CHÂN – Kế hoạch số 12/KH-UBND", new_x="LMARGIN", new_y="NEXT")
            self.ln(4)

        def footer(self):
            self.set_y(-15)
            self.set_font("DejaVu", size=8)
            self.cell(0, 5, f"Trang {self.page_no()}/{{nb}}", align="C")

    pdf = Plan()
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.add_font("DejaVu", "B", str(FONT_BOLD))
    pdf.set_title("Ke hoach 12")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(0, 8, PLAN_TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", size=11)
    for n, (part, groups) in enumerate(PLAN_PARTS):
        if n and pages_apart:
            pdf.add_page()
        _para(pdf, part)
        for group, items in groups:
            _para(pdf, group)
            for item in items:
                _para(pdf, item)
    return bytes(pdf.output())


def table_pdf() -> bytes:
    """A paragraph, then a table with a heading row."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.add_font("DejaVu", "B", str(FONT_BOLD))
    pdf.set_font("DejaVu", size=11)
    pdf.add_page()
    _para(pdf, "Bảng phân công thực hiện:")
    with pdf.table() as table:
        for cells in TABLE_ROWS:
            row = table.row()
            for text in cells:
                row.cell(text)
    return bytes(pdf.output())


TABLE_ROWS = [("STT", "Việc", "Thời hạn"), ("1", "Niêm yết lịch tiếp dân thứ Bảy", "Tháng 1/2026"),
              ("2", "Đặt hòm thư góp ý", "Quý I/2026")]


def _para(pdf, text: str) -> None:
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def scanned_pdf() -> bytes:
    """A page with drawings and no text layer, as a scanner makes."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    for i in range(20):
        pdf.rect(20, 20 + i * 12, 170, 6, style="F")
    return bytes(pdf.output())


def plan_docx() -> bytes:
    """The plan as Word writes it: Title and Heading styles, automatic numbering, a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Kế hoạch 12"
    document.add_paragraph(PLAN_TITLE, style="Title")
    for part, groups in PLAN_PARTS:
        document.add_paragraph(part, style="Heading 1")
        for group, items in groups:
            document.add_paragraph(group, style="Heading 2")
            for item in items:
                document.add_paragraph(item)
    table = document.add_table(rows=3, cols=3)
    for row, cells in zip(table.rows, [("STT", "Việc", "Thời hạn"),
                                       ("1", "Niêm yết lịch tiếp dân thứ Bảy", "Tháng 1/2026"),
                                       ("2", "Đặt hòm thư góp ý", "Quý I/2026")]):
        for cell, text in zip(row.cells, cells):
            cell.text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def numbered_docx() -> bytes:
    """Paragraphs numbered by Word itself ("List Number": 1., 2., ...) and bullets ("List Bullet")."""
    import docx

    document = docx.Document()
    document.add_paragraph("Hướng dẫn đăng ký tham gia Chi đoàn xã hội chủ nghĩa", style="Heading 1")
    document.add_paragraph("Nộp đơn tại văn phòng Đoàn phường.", style="List Number")
    document.add_paragraph("Tham gia buổi sinh hoạt đầu tiên vào tối thứ Năm.", style="List Number")
    document.add_paragraph("Mang theo căn cước công dân.", style="List Bullet")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


LEGAL_TXT = """QUY CHẾ PHỐI HỢP TIẾP DÂN

Chương I
QUY ĐỊNH CHUNG

Điều 1. Phạm vi điều chỉnh
Quy chế này quy định việc phối hợp tiếp dân
giữa Ủy ban nhân dân phường và các tổ dân phố.

Điều 2. Nguyên tắc
1. Tôn trọng, lắng nghe ý kiến của người dân.
2. Giải quyết kịp thời, đúng pháp luật:
a) Trả lời bằng văn bản trong 10 ngày làm việc;
b) Công khai kết quả.

Chương II
TỔ CHỨC THỰC HIỆN

Điều 3. Trách nhiệm
- Tổ trưởng tổ dân phố tổng hợp ý kiến hằng tháng.
- Văn phòng phường theo dõi, đôn đốc.
"""
